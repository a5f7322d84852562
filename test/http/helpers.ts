// Test helpers for the request handler: one server per transport (HTTP/1.1 plain and
// TLS, HTTP/2 over TLS and h2c, HTTP/3), each with the same handler, and a client per
// transport that returns status, headers, body (or its size), trailers and whether the
// response ended cleanly. Clients are Node's own (http, https, http2) and, for HTTP/3,
// our H3Connection.

import http, { type IncomingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { connect } from '../../src/client/connect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { closeH3Connections } from '../../src/h3/client.js';
import { H3Connection } from '../../src/h3/connection.js';
import { connectQuic } from '../../src/h3/quic-client.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { Handler } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import type { HttpVersion } from '../../src/ws/transport.js';

import type { TestCerts } from '../certs.js';

export { makeCerts, removeCerts, type TestCerts } from '../certs.js';

export type TransportName = 'h1' | 'h1-tls' | 'h2' | 'h2c' | 'h3';
export const TRANSPORTS: readonly TransportName[] = ['h1', 'h1-tls', 'h2', 'h2c', 'h3'];

export interface FetchRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Count the body's bytes instead of keeping them. */
  count?: boolean;
}

export interface Fetched {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  bytes: number;
  trailers: Record<string, string>;
  /** The response ended as it should (not cut off by a reset or a closed connection). */
  complete: boolean;
  /** h2: the stream's RST_STREAM code as the client saw it (0 for none / NO_ERROR). */
  rstCode?: number;
}

export interface Served {
  readonly name: TransportName;
  readonly http: HttpVersion;
  readonly secure: boolean;
  readonly port: number;
  fetch(req: FetchRequest): Promise<Fetched>;
  /** Open a WebSocket with our client over this transport. */
  websocket<S>(
    path: string,
    handler: Handler<S>,
    state: S,
    headers?: Record<string, string>,
  ): Promise<Session<S>>;
  close(): Promise<void>;
}

function flatHeaders(h: IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(':')) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function fetchH1(port: number, secure: boolean, ca: Buffer, r: FetchRequest): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const opts: https.RequestOptions = {
      host: '127.0.0.1',
      port,
      method: r.method ?? 'GET',
      path: r.path,
      headers: r.headers ?? {},
      agent: false,
      ...(secure && { ca, servername: 'localhost' }),
    };
    const req = (secure ? https : http).request(opts, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let settled = false;
      const done = (complete: boolean) => {
        if (settled) return;
        settled = true;
        resolve({
          status: res.statusCode ?? 0,
          headers: flatHeaders(res.headers),
          body: Buffer.concat(chunks),
          bytes,
          trailers: flatHeaders(res.trailers),
          complete,
        });
      };
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (!r.count) chunks.push(c);
      });
      res.on('end', () => done(res.complete));
      res.on('error', () => done(false));
      res.on('close', () => done(res.complete));
    });
    req.on('error', reject);
    req.end(r.body);
  });
}

function fetchH2(session: http2.ClientHttp2Session, r: FetchRequest): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = session.request(
      { ':method': r.method ?? 'GET', ':path': r.path, ...r.headers },
      { endStream: r.body === undefined },
    );
    if (r.body !== undefined) req.end(r.body);
    let status = 0;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    let ended = false;
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = flatHeaders(h);
    });
    req.on('trailers', (h) => {
      trailers = flatHeaders(h);
    });
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (!r.count) chunks.push(c);
    });
    req.on('end', () => {
      ended = true;
    });
    req.on('error', () => {});
    req.on('close', () => {
      if (status === 0) {
        reject(new Error(`stream closed without a response (RST_STREAM ${req.rstCode})`));
        return;
      }
      resolve({
        status,
        headers,
        body: Buffer.concat(chunks),
        bytes,
        trailers,
        // RFC 9113 §8.1: a RST_STREAM NO_ERROR after a complete response leaves it complete
        complete: ended && (req.rstCode ?? 0) === 0,
        rstCode: req.rstCode ?? 0,
      });
    });
  });
}

function fetchH3(h3: H3Connection, port: number, r: FetchRequest): Promise<Fetched> {
  const fields: [string, string][] = [
    [':method', r.method ?? 'GET'],
    [':scheme', 'https'],
    [':authority', `localhost:${port}`],
    [':path', r.path],
  ];
  for (const [k, v] of Object.entries(r.headers ?? {})) fields.push([k.toLowerCase(), v]);
  const body = typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
  const s = h3.request(fields, body === undefined);
  if (body !== undefined) s.sendData(body, true);
  return new Promise((resolve, reject) => {
    let status = 0;
    const headers: Record<string, string> = {};
    const trailers: Record<string, string> = {};
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    let settled = false;
    const add = (to: Record<string, string>, k: string, v: string) => {
      to[k] = to[k] === undefined ? v : `${to[k]}, ${v}`;
    };
    const done = (complete: boolean) => {
      if (settled) return;
      settled = true;
      resolve({ status, headers, body: Buffer.concat(chunks), bytes, trailers, complete });
    };
    s.setSink({
      onHeaders(list, isTrailers) {
        for (const [k, v] of list) {
          if (isTrailers) add(trailers, k, v);
          else if (k === ':status') status = Number(v);
          else add(headers, k, v);
        }
      },
      onData(c) {
        bytes += c.length;
        if (!r.count) chunks.push(c);
      },
      onEnd: () => done(true),
      onAbort(err) {
        if (status !== 0) done(false);
        else if (!settled) {
          settled = true;
          reject(err);
        }
      },
      onDrain() {},
      onClose: () => done(true),
    });
  });
}

async function h3Connection(port: number, ca: Buffer): Promise<H3Connection> {
  let h3!: H3Connection;
  await connectQuic({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: (q) => {
      h3 = new H3Connection(q, { role: 'client' });
      return h3;
    },
  });
  return h3;
}

/** A client of one transport for a server on 127.0.0.1:`port` (TLS: the certificate names localhost). */
export function clientFor(
  name: TransportName,
  port: number,
  ca: Buffer,
): { fetch(r: FetchRequest): Promise<Fetched>; close(): void } {
  switch (name) {
    case 'h1':
    case 'h1-tls':
      return { fetch: (r) => fetchH1(port, name === 'h1-tls', ca, r), close() {} };
    case 'h2':
    case 'h2c': {
      const secure = name === 'h2';
      let session: http2.ClientHttp2Session | undefined;
      return {
        fetch(r) {
          if (session === undefined || session.closed || session.destroyed) {
            session = http2.connect(
              secure ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
              secure ? { ca } : {},
            );
            session.on('error', () => {});
          }
          return fetchH2(session, r);
        },
        close: () => session?.close(),
      };
    }
    case 'h3': {
      let conn: H3Connection | undefined;
      return {
        async fetch(r) {
          if (conn === undefined || conn.closed || !conn.canRequest()) {
            conn = await h3Connection(port, ca);
          }
          return fetchH3(conn, port, r);
        },
        close: () => conn?.close(),
      };
    }
  }
}

/** Start a server for `name` with `opts` (its `handle`), and a client for it. */
export async function serveOn(
  name: TransportName,
  certs: TestCerts,
  opts: ServerOptions,
): Promise<Served> {
  const tls = { cert: certs.cert, key: certs.key };
  const started =
    name === 'h1' || name === 'h1-tls'
      ? await listen({ ...opts, ...(name === 'h1-tls' && { tls }) })
      : name === 'h2' || name === 'h2c'
        ? await listenH2({ ...opts, ...(name === 'h2' && { tls }) })
        : await listenH3({ ...opts, ...tls, host: '127.0.0.1' });
  const http: HttpVersion = name === 'h3' ? '3' : name === 'h2' || name === 'h2c' ? '2' : '1.1';
  const secure = name !== 'h1' && name !== 'h2c';
  const client = clientFor(name, started.port, certs.ca);
  return {
    name,
    http,
    secure,
    port: started.port,
    fetch: (r) => client.fetch(r),
    websocket: (path, handler, state, headers) =>
      connect(`${secure ? 'wss://localhost' : 'ws://127.0.0.1'}:${started.port}${path}`, {
        http: http === '1.1' ? 1 : http === '2' ? 2 : 3,
        handler,
        state,
        tls: { ca: certs.ca },
        ...(headers && { headers }),
      }),
    async close() {
      // the server first: what its shutdown sends, the client still reads
      await started.close();
      client.close();
      closeH2Sessions();
      closeH3Connections();
    },
  };
}
