// PeerDrivers for someone else's server: `omniws conformance server URL` points the case
// table at the echo endpoint of any WebSocket server, over HTTP/1.1 (ws://, wss://),
// HTTP/2 (RFC 8441: TLS with ALPN h2, or h2c with prior knowledge for ws://) or HTTP/3
// (RFC 9220: QUIC on the URL's port). The peer's side is the same raw code the omniws
// suites use (h1.ts, h2.ts, h3.ts); the endpoint must echo text as text and binary as
// binary, as Autobahn's fuzzingclient expects.

import { lookup } from 'node:dns/promises';
import http2 from 'node:http2';
import type net from 'node:net';
import { isIP } from 'node:net';
import type tls from 'node:tls';
import { H3_NO_ERROR } from '../h3/errors.js';
import { rawClientStream } from './h1.js';
import { openH2WebSocket } from './h2.js';
import { openH3WebSocket, rawH3Peer } from './h3.js';
import type { PeerDriver } from './peer.js';

export type HttpVersionChoice = 1 | 2 | 3;

export interface RemoteTarget {
  /** ws:// or wss:// (also http:// and https://), the echo endpoint. */
  url: URL;
  http: HttpVersionChoice;
  /** Trusted CAs, client certificate…; `rejectUnauthorized: false` for --insecure. */
  tls?: tls.ConnectionOptions;
}

function secureOf(url: URL): boolean {
  return url.protocol === 'wss:' || url.protocol === 'https:';
}

function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : secureOf(url) ? 443 : 80;
}

/** The case table against a server at `target.url`: a new connection per case. */
export async function remoteServerDriver(target: RemoteTarget): Promise<PeerDriver> {
  const { url, http } = target;
  const secure = secureOf(url);
  if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol)) {
    throw new Error(`not a WebSocket URL: ${url.href}`);
  }
  if (http === 3 && !secure) throw new Error('HTTP/3 needs wss:// (QUIC is always TLS)');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = portOf(url);
  const path = `${url.pathname || '/'}${url.search}`;
  const tlsOpts: tls.ConnectionOptions = { ...target.tls };
  if (isIP(host) === 0 && tlsOpts.servername === undefined) tlsOpts.servername = host;

  if (http === 1) {
    const sockets = new Set<net.Socket>();
    return {
      transport: 'h1',
      implRole: 'server',
      foreign: true,
      open: (opts) =>
        rawClientStream(
          {
            host,
            port,
            path,
            authority: url.host,
            ...(secure && { tls: tlsOpts }),
            peerExtensions: opts.peerExtensions,
          },
          undefined,
          sockets,
        ),
      async close() {
        for (const s of sockets) s.destroy();
      },
    };
  }

  if (http === 2) {
    const sessions = new Set<http2.ClientHttp2Session>();
    const origin = `${secure ? 'https' : 'http'}://${url.host}`;
    return {
      transport: 'h2',
      implRole: 'server',
      foreign: true,
      async open(opts) {
        const session = http2.connect(origin, {
          ...(secure && tlsOpts),
          settings: { initialWindowSize: 1024 * 1024 },
        });
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
        return openH2WebSocket(
          session,
          {
            scheme: secure ? 'https' : 'http',
            authority: url.host,
            path,
            peerExtensions: opts.peerExtensions,
          },
          undefined,
        );
      },
      async close() {
        for (const s of sessions) s.destroy();
      },
    };
  }

  // HTTP/3: one QUIC connection, a request stream per case (a new connection when spent)
  const ip = isIP(host) !== 0 ? host : (await lookup(host)).address;
  const { streams, connection, current } = rawH3Peer({
    host: ip,
    port,
    servername: isIP(host) !== 0 ? null : (tlsOpts.servername ?? host),
    ca: tlsOpts.ca as string | Uint8Array | undefined,
    verify: tlsOpts.rejectUnauthorized !== false,
  });
  return {
    transport: 'h3',
    implRole: 'server',
    foreign: true,
    async open(opts) {
      const request = { authority: url.host, path, peerExtensions: opts.peerExtensions };
      return openH3WebSocket(await connection(), streams, request, undefined);
    },
    async close() {
      current()?.close(H3_NO_ERROR);
    },
  };
}
