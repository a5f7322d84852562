// PeerDrivers over HTTP/1.1: raw TCP sockets and handshakes written by hand.
//   server: our listen() with an echo route; the peer is a raw client socket.
//   client: our connectH1() with an echo handler; the peer is a raw net.Server that
//           checks the client's request and answers the 101 itself.
// Both hand the runner the socket after the handshake, with any bytes that came with it.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { connectH1 } from '../h1/client.js';
import { listen } from '../server/h1-server.js';
import { type CloseReason, type Handler, reply } from '../ws/handler.js';
import {
  type ImplOptions,
  implOptions,
  offersDeflate,
  type PeerDriver,
  type PeerStream,
} from './peer.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const accept = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

/** One implementation session as the runner sees it. */
export interface Tracker {
  opts: ImplOptions;
  calls: number;
  resolve: (r: CloseReason) => void;
  terminated: Promise<CloseReason>;
}

export function tracker(opts: ImplOptions): Tracker {
  let resolve!: (r: CloseReason) => void;
  const terminated = new Promise<CloseReason>((r) => {
    resolve = r;
  });
  return { opts, calls: 0, resolve, terminated };
}

/** The echo endpoint under test: text back as text, binary as binary (pongs are automatic). */
/** The echo endpoint under test, in every driver: it records how its session ended. */
export const trackedEcho: Handler<Tracker> = {
  handleIn: (msg, t) => reply(t, msg.data),
  terminate(reason, t) {
    t.calls++;
    t.resolve(reason);
  },
};

/** Read an HTTP head; the bytes after it are returned as `rest`. */
export function readHead(socket: net.Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) {
        if (buf.length > 65536) fail(new Error('HTTP head too long'));
        return;
      }
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      resolve({ head: buf.subarray(0, i).toString('latin1'), rest: buf.subarray(i + 4) });
    };
    const onClose = () => fail(new Error('closed during the handshake'));
    const fail = (err: Error) => {
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      reject(err);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

export function parseHeaders(lines: string[]): Map<string, string> {
  const h = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return h;
}

export function socketStream(
  socket: net.Socket,
  first: Buffer,
  t: Tracker | undefined,
  extensions?: string,
): PeerStream {
  let sink: ((c: Buffer) => void) | null = null;
  const early: Buffer[] = first.length > 0 ? [first] : [];
  let reset = false;
  socket.on('data', (d: Buffer) => {
    if (sink) sink(d);
    else early.push(d);
  });
  socket.on('error', () => {
    reset = true;
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const ended = new Promise<void>((r) => {
    socket.once('end', () => r());
    closed.then(r);
  });
  return {
    write: (b) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed || !socket.writable) {
          resolve();
          return;
        }
        socket.write(b, () => resolve());
      }),
    onData(cb) {
      sink = cb;
      for (const e of early.splice(0)) cb(e);
    },
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    ended,
    closed,
    extensions,
    reset: () => reset,
    ...(t && { impl: { terminated: t.terminated, terminateCalls: () => t.calls } }),
  };
}

/** Where a raw client opens its WebSocket: host and port, TLS or not, the request target. */
export interface RawTarget {
  host: string;
  port: number;
  path: string;
  /** The Host header (default host:port). */
  authority?: string;
  /** wss://: TLS with these options (ALPN http/1.1 is added). */
  tls?: tls.ConnectionOptions;
  /** Sec-WebSocket-Extensions of the request. */
  peerExtensions?: string | undefined;
}

/** A raw TCP (or TLS) client that completes the opening handshake by hand and checks the 101. */
export async function rawClientStream(
  target: RawTarget,
  t: Tracker | undefined,
  sockets: Set<net.Socket>,
): Promise<PeerStream> {
  const { host, port, path } = target;
  const socket: net.Socket = target.tls
    ? tls.connect({
        host,
        port,
        ...(net.isIP(host) === 0 && { servername: host }),
        ...target.tls,
        ALPNProtocols: ['http/1.1'],
      })
    : net.connect(port, host);
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once(target.tls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const key = randomBytes(16).toString('base64');
  const ext = target.peerExtensions;
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${target.authority ?? `${host}:${port}`}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (ext !== undefined ? `Sec-WebSocket-Extensions: ${ext}\r\n` : '') +
      '\r\n',
  );
  const { head, rest } = await readHead(socket);
  const [status, ...lines] = head.split('\r\n');
  const h = parseHeaders(lines);
  if (!/^HTTP\/1\.1 101 /.test(status ?? '') || h.get('sec-websocket-accept') !== accept(key)) {
    socket.destroy();
    throw new Error(`no WebSocket: the answer was ${status ?? 'empty'}`);
  }
  return socketStream(socket, rest, t, h.get('sec-websocket-extensions'));
}

/** Our HTTP/1.1 server under test: the peer is a raw TCP client. */
export async function h1ServerDriver(): Promise<PeerDriver> {
  const trackers = new Map<string, Tracker>();
  const srv = await listen({
    route: (req) => {
      const t = trackers.get(req.pathname);
      if (t === undefined) return { status: 404 };
      trackers.delete(req.pathname);
      return {
        handler: trackedEcho,
        state: t,
        ...implOptions(t.opts),
      };
    },
  });
  const sockets = new Set<net.Socket>();
  let n = 0;
  return {
    transport: 'h1',
    implRole: 'server',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      trackers.set(path, t);
      return rawClientStream(
        { host: '127.0.0.1', port: srv.port, path, peerExtensions: opts.peerExtensions },
        t,
        sockets,
      );
    },
    async close() {
      for (const s of sockets) s.destroy();
      await srv.close();
    },
  };
}

/** Our HTTP/1.1 client under test: the peer is a raw TCP server that answers the 101 itself. */
export async function h1ClientDriver(): Promise<PeerDriver> {
  const waiting = new Map<
    string,
    { done: (s: net.Socket, rest: Buffer, ext?: string) => void; answer?: string }
  >();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    readHead(socket).then(
      ({ head, rest }) => {
        const [requestLine, ...lines] = head.split('\r\n');
        const [method, path, version] = (requestLine ?? '').split(' ');
        const h = parseHeaders(lines);
        const key = h.get('sec-websocket-key') ?? '';
        // RFC 6455 §4.1: what a client's opening handshake must contain
        const good =
          method === 'GET' &&
          version === 'HTTP/1.1' &&
          h.has('host') &&
          /(^|,)\s*websocket\s*(,|$)/i.test(h.get('upgrade') ?? '') &&
          /(^|,)\s*upgrade\s*(,|$)/i.test(h.get('connection') ?? '') &&
          h.get('sec-websocket-version') === '13' &&
          Buffer.from(key, 'base64').length === 16;
        const w = waiting.get(path ?? '');
        if (!good || w === undefined) {
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        waiting.delete(path!);
        const offered = h.get('sec-websocket-extensions');
        const ext = w.answer !== undefined && offersDeflate(offered) ? w.answer : undefined;
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept(key)}\r\n` +
            (ext !== undefined ? `Sec-WebSocket-Extensions: ${ext}\r\n` : '') +
            '\r\n',
        );
        w.done(socket, rest, ext);
      },
      () => socket.destroy(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let n = 0;
  return {
    transport: 'h1',
    implRole: 'client',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      const accepted = new Promise<PeerStream>((resolve) => {
        waiting.set(path, {
          done: (socket, rest, ext) => resolve(socketStream(socket, rest, t, ext)),
          ...(opts.peerExtensions !== undefined && { answer: opts.peerExtensions }),
        });
      });
      const session = connectH1(`ws://127.0.0.1:${port}${path}`, {
        handler: trackedEcho,
        state: t,
        ...implOptions(opts),
      });
      const [stream] = await Promise.all([accepted, session]);
      return stream;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
