// HTTP/2 WebSocket server (RFC 8441): attach to a user's node:http2 server (TLS or
// h2c, with or without allowHTTP1, with or without their own listeners), or run a
// standalone one that serves HTTP/2 and HTTP/1.1 on one port. Validation is the pure
// `validateH2Request`; this file turns its answer into HEADERS on the stream.
//
// How streams reach us (node#36977). Node's compatibility layer (the `request` API)
// is a 'stream' listener that answers every CONNECT with 405 unless the server has a
// 'connect' listener, and a user's own 'stream' listener may answer anything. Either
// would break a WebSocket, whatever the listener order. So we take our streams before
// any listener runs: `attachH2` wraps the server's `emit` and consumes the 'stream'
// events of extended CONNECTs with `:protocol websocket`; everything else (plain
// requests, plain CONNECT, other :protocol values) is emitted as before. A WebSocket
// CONNECT whose path has no route is emitted on, after the route decision, when a
// user listener can take it; else it gets 404. Another :protocol gets 501 when nobody
// but Node's compatibility layer would see it.
//
// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 is advertised (for sessions that start after
// `attachH2`) only when WebSocket routes exist. With allowHTTP1, HTTP/1.1 Upgrade
// requests on the same port reach the same routes through the h1 `handleUpgrade`.

import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import http2, {
  constants,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import {
  type AttachedServer,
  bind,
  handleUpgrade,
  headTimeouts,
  writeHttpResponse,
} from '../h1/server.js';
import { serveH1Request, serveH1Upgrade } from '../http/h1.js';
import { serveH2Stream } from '../http/h2.js';
import { createHandleContext, shutdownLoops } from '../http/respond.js';
import {
  decisionFailed,
  type HttpResponse,
  hasRoutes,
  idleCloser,
  isHttpResponse,
  negotiationFor,
  pathnameOf,
  type RequestInfo,
  resolveRoute,
  type ServerOptions,
  SessionRegistry,
} from '../route.js';
import { isConnectionSpecific } from '../ws/extended-connect.js';
import { H2Transport } from './transport.js';
import { classifyH2Request, validateH2Request } from './upgrade.js';

/**
 * Flow-control defaults. Node gives the connection window back as soon as DATA
 * arrives and a stream's window only as its bytes are read, so a WebSocket that is
 * not read holds at most its stream window, never the connection. The stream window
 * is also what a bulk sender may have in flight ahead of a small message on another
 * stream of the same connection: measured on loopback with one WebSocket echoing
 * 10 MB and another echoing 100 bytes, 256 KiB gave the best throughput (larger
 * windows were no faster) while the small echo's median round trip stayed near 2 ms;
 * at 4 MiB it rose to 9 ms, and at 16 MiB to 12 ms. The connection window (HTTP/2's
 * default is 65 535) lets several streams run at full speed at once.
 */
export const DEFAULT_INITIAL_WINDOW_SIZE = 256 * 1024;
export const DEFAULT_CONNECTION_WINDOW_SIZE = 4 * 1024 * 1024;

export interface H2Options extends ServerOptions {
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE: bytes a peer may send on one stream before we read
   * them (default 256 KiB, max 2^31-1). `attachH2` changes the server's setting only when given.
   */
  initialWindowSize?: number;
  /**
   * Our connection-level receive window (default 4 MiB, HTTP/2's own default is 65 535).
   * `attachH2` raises each new session's window to it only when given.
   */
  connectionWindowSize?: number;
}

type AnyH2Server = Http2Server | Http2SecureServer;
type EmitFn = (event: string | symbol, ...args: unknown[]) => boolean;

const { HTTP2_HEADER_STATUS, NGHTTP2_INTERNAL_ERROR } = constants;

/** Node's compatibility layer adds its dispatcher as this bound function (lib/internal/http2/core.js setupCompat). */
const COMPAT_LISTENER_NAME = 'bound onServerStream';

function noop(): void {}

/** The answer beyond `maxConnections` (as on HTTP/1.1). */
const TOO_MANY: HttpResponse = {
  status: 503,
  headers: { 'retry-after': '1' },
  body: 'too many WebSocket connections',
};

/** The request fields of an HTTP/2 stream, without pseudo-headers. */
function requestFields(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !k.startsWith(':')) out[k] = v;
  }
  return out;
}

export function h2RequestInfo(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): RequestInfo {
  const path = headers[':path'] ?? '/';
  const socket = stream.session?.socket;
  return {
    http: '2',
    method: headers[':method'] ?? 'GET',
    path,
    pathname: pathnameOf(path),
    authority: headers[':authority'],
    headers: requestFields(headers),
    secure: stream.session?.encrypted === true,
    remoteAddress: socket?.remoteAddress,
    remotePort: socket?.remotePort,
  };
}

/**
 * Answer a stream that will not become a WebSocket: the status in a HEADERS frame,
 * with END_STREAM unless there is a body. Never a bare RST_STREAM.
 */
export function respondH2(stream: ServerHttp2Stream, res: HttpResponse): void {
  stream.on('error', noop); // a peer's reset while we answer must not crash the process
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const headers: Record<string, string | number> = { [HTTP2_HEADER_STATUS]: res.status };
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    const name = k.toLowerCase();
    // a route's h1-minded headers must not break the answer (RFC 9113 §8.2.2)
    if (!isConnectionSpecific(name) && !name.startsWith(':')) headers[name] = v;
  }
  try {
    if (res.body === undefined) {
      stream.respond(headers, { endStream: true });
    } else {
      stream.respond(headers);
      stream.end(res.body);
    }
  } catch {
    // an invalid header from a route: the stream cannot be answered as asked
    if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
  }
}

/** Marks our emit wrappers: a second `attachH2` on the same server hands unrouted streams on to the first. */
const OUR_EMIT = Symbol('omniws.h2.emit');

/** Whether a listener other than Node's CONNECT-refusing compat dispatcher would see a stream. */
function othersListen(server: AnyH2Server): boolean {
  for (const l of server.listeners('stream')) {
    if (l.name !== COMPAT_LISTENER_NAME) return true;
    if (server.listenerCount('connect') > 0) return true;
  }
  return false;
}

/**
 * Serve WebSocket routes on an existing node:http2 server (createSecureServer or
 * createServer), leaving its other streams and listeners alone. With allowHTTP1 the
 * HTTP/1.1 Upgrade requests on the same port reach the same routes.
 */
export function attachH2(server: AnyH2Server, opts: H2Options): AttachedServer {
  const registry = new SessionRegistry();
  const enabled = hasRoutes(opts);
  // `handle`: every stream (and, with allowHTTP1, every HTTP/1.1 request) reaches it first
  const ctx = opts.handle ? createHandleContext(opts, registry) : undefined;
  let closing = false;
  let detached = false;
  // WebSockets open or being decided (route, validation) count against maxConnections
  let pending = 0;
  const maxConnections = opts.maxConnections ?? Number.POSITIVE_INFINITY;

  const settings: http2.Settings = {};
  if (enabled) settings.enableConnectProtocol = true;
  if (opts.initialWindowSize !== undefined) settings.initialWindowSize = opts.initialWindowSize;
  if (Object.keys(settings).length > 0) server.updateSettings(settings);

  const onSession = (session: Http2Session) => {
    const size = opts.connectionWindowSize;
    if (size === undefined) return;
    try {
      if ((session.state.localWindowSize ?? 0) < size) session.setLocalWindowSize(size);
    } catch {
      // the session is already gone
    }
  };
  if (opts.connectionWindowSize !== undefined) server.on('session', onSession);

  const hadOwnEmit = Object.hasOwn(server, 'emit');
  const baseEmit = server.emit as unknown as EmitFn;
  const emit: EmitFn = function (this: AnyH2Server, event, ...args) {
    if (event === 'stream' && !detached) {
      const stream = args[0] as ServerHttp2Stream;
      const headers = args[1] as IncomingHttpHeaders;
      const kind = classifyH2Request(headers);
      if (ctx && kind !== 'other-protocol') {
        const plain = kind !== 'websocket' && headers[':method'] !== 'CONNECT';
        const decline = () => {
          const others = plain ? server.listenerCount('stream') > 0 : othersListen(server);
          if (!innerIsOurs && !others) return false;
          baseEmit.call(server, 'stream', ...args);
          return true;
        };
        serveH2Stream(stream, headers, ctx, decline).catch((err: unknown) => {
          opts.onError?.(err as Error);
          if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
        });
        return true;
      }
      if (kind === 'websocket' && enabled) {
        if (closing) {
          respondH2(stream, { status: 503 });
        } else if (registry.sessions.size + pending >= maxConnections) {
          respondH2(stream, TOO_MANY);
        } else {
          pending++;
          handleStream(stream, headers, args)
            .catch((err: unknown) => {
              opts.onError?.(err as Error);
              if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
            })
            .finally(() => pending--);
        }
        return true;
      }
      if (kind === 'other-protocol' && !innerIsOurs && !othersListen(server)) {
        // RFC 8441 §4: a :protocol the server does not support gets an error status
        respondH2(stream, { status: 501 });
        return true;
      }
    }
    if (event === 'request' && ctx && !detached) {
      const req = args[0] as IncomingMessage | Http2ServerRequest;
      // HTTP/2 requests come here from node's compatibility layer after we declined them
      if (req.httpVersionMajor < 2) {
        const res = args[1] as ServerResponse;
        const decline = () => {
          if (!innerIsOurs && server.listenerCount('request') === 0) return false;
          baseEmit.call(server, 'request', ...args);
          return true;
        };
        serveH1Request(req as IncomingMessage, res, ctx, decline).catch((err: unknown) => {
          opts.onError?.(err as Error);
          res.destroy();
        });
        return true;
      }
    }
    return baseEmit.call(this, event, ...args);
  };
  (emit as EmitFn & { [OUR_EMIT]?: true })[OUR_EMIT] = true;
  const innerIsOurs = (baseEmit as EmitFn & { [OUR_EMIT]?: true })[OUR_EMIT] === true;
  (server as unknown as { emit: EmitFn }).emit = emit;

  const handleStream = async (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    args: unknown[],
  ): Promise<void> => {
    stream.on('error', noop); // until the transport owns it: a reset must not crash the process
    const info = h2RequestInfo(stream, headers);
    let decision: Awaited<ReturnType<typeof resolveRoute>>;
    try {
      decision = await resolveRoute(opts, info);
    } catch (err) {
      respondH2(stream, decisionFailed(opts, err));
      return;
    }
    if (stream.destroyed || stream.closed) return;
    if (decision === undefined) {
      // not ours: another attachH2 or a user's listener may take it, as on h1 (else 404)
      if (innerIsOurs || othersListen(server)) baseEmit.call(server, 'stream', ...args);
      else respondH2(stream, { status: 404 });
      return;
    }
    if (isHttpResponse(decision)) {
      respondH2(stream, decision);
      return;
    }
    const result = validateH2Request(headers, negotiationFor(opts, decision));
    if (!result.ok) {
      respondH2(stream, { status: result.status, headers: result.headers ?? {} });
      return;
    }
    if (closing) {
      respondH2(stream, { status: 503 });
      return;
    }
    stream.respond({ [HTTP2_HEADER_STATUS]: 200, ...result.responseHeaders });
    const transport = new H2Transport(stream, info.secure);
    registry.start(transport, opts, decision, info, result.info);
  };

  // allowHTTP1: the same routes over HTTP/1.1 Upgrade on the same port
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (closing) {
      writeHttpResponse(socket, { status: 503 });
      return;
    }
    if (ctx) {
      // other `upgrade` listeners see the request too: what we decline is theirs
      serveH1Upgrade(req, socket, head, ctx, () => server.listenerCount('upgrade') > 1).catch(
        (err: unknown) => {
          opts.onError?.(err as Error);
          socket.destroy();
        },
      );
      return;
    }
    handleUpgrade(req, socket, head, opts, registry).then(
      (handled) => {
        if (!handled && server.listenerCount('upgrade') <= 1) {
          writeHttpResponse(socket, { status: 404 });
        }
      },
      (err) => {
        opts.onError?.(err as Error);
        socket.destroy();
      },
    );
  };
  if (enabled) server.on('upgrade', onUpgrade);

  return {
    registry,
    async close() {
      if (closing) return;
      closing = true;
      if (ctx) shutdownLoops(ctx);
      server.removeListener('upgrade', onUpgrade);
      server.removeListener('session', onSession);
      await registry.shutdown(opts.shutdownTimeout ?? 5000);
      detached = true;
      // unwrap when nobody wrapped after us; otherwise our wrapper stays, inert
      if ((server as unknown as { emit: EmitFn }).emit === emit) {
        if (hadOwnEmit) (server as unknown as { emit: EmitFn }).emit = baseEmit;
        else delete (server as unknown as { emit?: EmitFn }).emit;
      }
    },
  };
}

// ── standalone server ─────────────────────────────────────────────────────────

export type H2RequestListener = (
  req: Http2ServerRequest | IncomingMessage,
  res: Http2ServerResponse | ServerResponse,
) => void;

export interface H2ListenOptions extends H2Options {
  port?: number;
  host?: string;
  /** Serve TLS (h2 and, by default, HTTP/1.1 by ALPN). Without it: h2c with prior knowledge only. */
  tls?: SecureContextOptions & { cert: string | Buffer; key: string | Buffer };
  /** Accept HTTP/1.1 on the TLS port (default true): WebSockets by Upgrade, requests to `onRequest`. */
  allowHTTP1?: boolean;
  /**
   * Plain HTTP requests (HTTP/2 and, with allowHTTP1, HTTP/1.1). Default: 404, or on a
   * WebSocket route 426 + Upgrade (HTTP/1.1) / 405 + Allow: CONNECT (HTTP/2). With
   * `handle`: the requests it declines.
   */
  onRequest?: H2RequestListener;
  /** Extra node:http2 server options (maxSessionMemory, …); `settings` are merged. */
  http2?: http2.SecureServerOptions;
  /**
   * A connection must complete its TLS handshake and send its connection preface with
   * SETTINGS within this many ms, or it is dropped; on the TLS port's HTTP/1.1 it bounds
   * the request head too (408), as `listen()` does (default 10 000). A request whose
   * HEADERS never complete holds a connection only until `keepAliveTimeout`.
   */
  handshakeTimeout?: number;
  /**
   * An HTTP/2 connection with no stream open for this many ms gets GOAWAY and closes
   * (default 60 000; 0: never).
   */
  keepAliveTimeout?: number;
}

export interface H2Listener extends AttachedServer {
  readonly port: number;
  readonly host: string;
  /** wss://host:port (TLS) or ws://host:port (h2c). */
  readonly url: string;
  readonly server: AnyH2Server;
}

/**
 * A standalone WebSocket server over HTTP/2: with `tls`, HTTP/2 and HTTP/1.1 on one
 * port (ALPN); without, h2c. `omniws serve --tls` is
 * `listenH2({ port, host, tls: { cert, key }, routes })`.
 */
export async function listenH2(opts: H2ListenOptions): Promise<H2Listener> {
  const defaultRequest: H2RequestListener = (req, res) => {
    const known = opts.routes?.[pathnameOf(req.url ?? '/')] !== undefined;
    const h1 = req.httpVersionMajor < 2;
    const status = !known ? 404 : h1 ? 426 : 405;
    const body = STATUS_CODES[status] ?? '';
    const headers: Record<string, string | number> = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    };
    if (known && h1) Object.assign(headers, { upgrade: 'websocket', connection: 'Upgrade' });
    if (known && !h1) headers.allow = 'CONNECT';
    (res as ServerResponse).writeHead(status, headers);
    res.end(body);
  };
  const settings: http2.Settings = {
    ...opts.http2?.settings,
    initialWindowSize: opts.initialWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE,
  };
  if (hasRoutes(opts)) settings.enableConnectProtocol = true;
  const base = { ...opts.http2, settings };
  const handshakeTimeout = opts.handshakeTimeout ?? 10_000;
  const server: AnyH2Server = opts.tls
    ? http2.createSecureServer({
        ...base,
        ...opts.tls,
        allowHTTP1: opts.allowHTTP1 ?? true,
        handshakeTimeout,
      })
    : http2.createServer(base);
  if (opts.tls) {
    // HTTP/1.1 on the TLS port: node:http's slow-loris bounds, as listen() sets them
    Object.assign(server, headTimeouts(handshakeTimeout));
  }
  const keepAliveTimeout = opts.keepAliveTimeout ?? 60_000;
  const onRequest = opts.handle ? opts.onRequest : (opts.onRequest ?? defaultRequest);
  if (onRequest) server.on('request', onRequest as (...args: unknown[]) => void);

  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    // the preface and SETTINGS within handshakeTimeout, or the connection goes
    const handshake =
      handshakeTimeout > 0 ? setTimeout(() => session.destroy(), handshakeTimeout) : undefined;
    handshake?.unref();
    session.once('remoteSettings', () => clearTimeout(handshake));
    // no stream open for keepAliveTimeout: GOAWAY, and the connection closes
    let open = 0;
    const idle = idleCloser(keepAliveTimeout, () => {
      if (open > 0 || session.closed || session.destroyed) return;
      session.close();
      // a stream whose HEADERS never completed keeps node's close waiting: not for long
      setTimeout(() => session.destroy(), 1000).unref();
    });
    idle.start();
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      stream.once('close', () => {
        if (--open === 0) idle.start();
      });
    });
    session.once('close', () => {
      clearTimeout(handshake);
      idle.stop();
      sessions.delete(session);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const attached = attachH2(server, {
    ...opts,
    connectionWindowSize: opts.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW_SIZE,
  });

  const bound = await bind(server, opts);
  return {
    registry: attached.registry,
    server,
    ...bound,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY first, so clients open nothing new while the WebSockets close; each
      // connection then goes once its last stream has (RFC 9113 §6.8)
      for (const s of sessions) if (!s.closed) s.close();
      await attached.close();
      const grace = setTimeout(() => {
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      }, 1000);
      grace.unref();
      await closed;
      clearTimeout(grace);
    },
  };
}
