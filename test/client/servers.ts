// Test servers for the client lifecycle and the WHATWG WebSocket, one per HTTP
// version, each with the ways it can drop its connections: h1 kills the socket
// (destroy) or resets it (RST); h2 kills the socket or sends GOAWAY with an error;
// h3 closes the QUIC connection. Also raw servers that complete the handshake by
// hand and then never write (to starve a heartbeat).

import { once } from 'node:events';
import http2, { constants } from 'node:http2';
import net from 'node:net';
import { acceptKey } from '../../src/h1/upgrade.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { closeH3Connections } from '../../src/h3/client.js';
import { H3_INTERNAL_ERROR } from '../../src/h3/errors.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { makeCerts, removeCerts, type TestCerts } from '../h2/helpers.js';

export type Version = 1 | 2 | 3;

export interface TestServer {
  readonly version: Version;
  /** Origin URL: ws://127.0.0.1:port (h1, h2c) or wss://127.0.0.1:port (h3). */
  readonly url: string;
  /** Options the client needs: `http` and, for h3, the CA. */
  readonly client: { http: Version; tls?: { ca: Buffer } };
  /** The ways this server can drop every live connection. */
  readonly drops: Record<string, () => void>;
  close(): Promise<void>;
}

/** The HTTP versions every lifecycle and WHATWG test runs over. */
export function versions(): Version[] {
  return [1, 2, 3];
}

/** The ways `startServer(v)` can drop its connections (its `drops` keys). */
export function dropNames(v: Version): string[] {
  if (v === 1) return ['kill the socket', 'RST'];
  if (v === 2) return ['kill the socket', 'GOAWAY'];
  return ['QUIC close'];
}

export const versionName = (v: Version) => (v === 1 ? 'h1' : v === 2 ? 'h2' : 'h3');

let certs: TestCerts | undefined;
let certsPromise: Promise<TestCerts> | undefined;

function h3Certs(): Promise<TestCerts> {
  certsPromise ??= makeCerts('client-h3').then((c) => {
    certs = c;
    return c;
  });
  return certsPromise;
}

/** Close pooled client connections and remove certificates (call in test.after.always). */
export async function cleanup(): Promise<void> {
  closeH2Sessions();
  closeH3Connections();
  if (certs) await removeCerts(certs);
}

export async function startServer(version: Version, opts: ServerOptions): Promise<TestServer> {
  if (version === 1) {
    const l = await listen({ ...opts, shutdownTimeout: 200 });
    const sockets = new Set<net.Socket>();
    // every connection of this server carries a WebSocket (upgrades we accept never
    // reach other 'upgrade' listeners: the server's emit is ours first)
    l.server.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    return {
      version,
      url: l.url,
      client: { http: 1 },
      drops: {
        'kill the socket': () => {
          for (const s of sockets) s.destroy();
        },
        RST: () => {
          for (const s of sockets) s.resetAndDestroy();
        },
      },
      close: () => l.close(),
    };
  }
  if (version === 2) {
    const l = await listenH2({ ...opts, shutdownTimeout: 200 });
    const sessions = new Set<http2.ServerHttp2Session>();
    l.server.on('session', (s: http2.ServerHttp2Session) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    const sockets = new Set<net.Socket>();
    l.server.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    return {
      version,
      url: l.url,
      client: { http: 2 },
      drops: {
        'kill the socket': () => {
          for (const s of sockets) s.destroy();
        },
        GOAWAY: () => {
          // RFC 9113 §6.8: GOAWAY with an error code; node's client then tears the session down
          for (const s of sessions) s.goaway(constants.NGHTTP2_INTERNAL_ERROR);
        },
      },
      close: () => l.close(),
    };
  }
  const c = await h3Certs();
  const l = await listenH3({
    ...opts,
    shutdownTimeout: 200,
    cert: c.cert,
    key: c.key,
    hosts: ['127.0.0.1'],
  });
  return {
    version,
    url: `wss://127.0.0.1:${l.port}`,
    client: { http: 3, tls: { ca: c.ca } },
    drops: {
      'QUIC close': () => {
        for (const conn of l.connections) conn.close(H3_INTERNAL_ERROR, 'dropped by the test');
      },
    },
    close: () => l.close(),
  };
}

/** A server that answers the WebSocket handshake and then never writes a byte. */
export interface SilentServer {
  readonly url: string;
  readonly client: { http: Version };
  close(): Promise<void>;
}

export async function silentServer(version: 1 | 2): Promise<SilentServer> {
  if (version === 1) {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      let head = '';
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        socket.removeListener('data', onData);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
        );
        socket.resume(); // reads everything, answers nothing
      };
      socket.on('data', onData);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `ws://127.0.0.1:${port}`,
      client: { http: 1 },
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    stream.resume(); // reads everything, answers nothing
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    client: { http: 2 },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on which nothing listens (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export { delay, until } from '../helpers.js';
