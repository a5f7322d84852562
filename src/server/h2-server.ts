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
// `attachH2`) only when WebSockets can be served. With allowHTTP1, HTTP/1.1 requests and
// Upgrades on the same port reach the same handler through the HTTP/1.1 adapter.

import type { IncomingMessage, ServerResponse } from 'node:http';
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
import { logKeys } from '../h1/keylog.js';
import { classifyH2Request } from '../h2/upgrade.js';
import { foreignProtocol, statusResponse } from './answers.js';
import { bind, headTimeouts } from './bind.js';
import {
  type AttachedServer,
  createHandleContext,
  type HandleContext,
  type Server,
  shutdownLoops,
  topicsFace,
} from './context.js';
import { type EmitHook, wrapEmit } from './emit.js';
import { writeAnswer } from './exchange.js';
import { headFieldLimit, serveH1Request, serveH1Upgrade } from './h1.js';
import { h2Exchange, serveH2Stream } from './h2.js';
import { idleCloser } from './idle.js';
import { type ServerOptions, servesWebSockets } from './options.js';
import type { PlainRequests } from './routes.js';

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
/** Default connection-level receive window of an HTTP/2 session: 4 MiB (HTTP/2's own is 65 535). */
export const DEFAULT_CONNECTION_WINDOW_SIZE = 4 * 1024 * 1024;

/**
 * Server options over HTTP/2: every server option plus the stream and connection receive windows.
 */
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
  /**
   * Largest request header section we accept, in bytes as RFC 9113 §6.5.2 counts them
   * (name + value + 32 per field): advertised as SETTINGS_MAX_HEADER_LIST_SIZE by
   * `listenH2`, and a larger request is answered 431. On the TLS port's HTTP/1.1 it is
   * node:http's head limit (431 above it), as on `listen()`. Default: node's.
   */
  maxHeaderSize?: number;
}

type AnyH2Server = Http2Server | Http2SecureServer;

const { NGHTTP2_INTERNAL_ERROR } = constants;

/** Node's compatibility layer adds its dispatcher as this bound function (lib/internal/http2/core.js setupCompat). */
const COMPAT_LISTENER_NAME = 'bound onServerStream';

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
 * Serve WebSockets (and, with `handle`, every request) on an existing node:http2 server
 * (createSecureServer or createServer), leaving what the handler declines to its other
 * listeners. With allowHTTP1 the HTTP/1.1 requests and Upgrades on the same port reach
 * the same handler. `plain`: see compileRoutes (routes without `handle`).
 */
export function attachH2(
  server: AnyH2Server,
  opts: H2Options,
  plain: PlainRequests = 'decline',
  shared?: HandleContext,
): AttachedServer {
  const ctx = shared ?? createHandleContext(opts, plain);
  const enabled = servesWebSockets(opts);
  applySettings(server, opts, enabled);
  const onSession = (session: Http2Session) => growConnectionWindow(session, opts);
  if (opts.connectionWindowSize !== undefined) server.on('session', onSession);
  const hook: EmitHook = wrapEmit(server, OUR_EMIT, (event, args) => {
    if (event === 'stream') return takeStream({ server, ctx, hook, enabled }, args);
    if (event === 'request') return takeH1Request(server, ctx, hook, args);
    return false;
  });
  // allowHTTP1: WebSockets over HTTP/1.1 Upgrade on the same port; other `upgrade`
  // listeners see the request too: what we decline is theirs
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const decline = () => server.listenerCount('upgrade') > 1;
    serveH1Upgrade(req, socket, head, ctx, decline, headFieldLimit(server)).catch(
      (err: unknown) => {
        opts.onError?.(err as Error);
        socket.destroy();
      },
    );
  };
  if (enabled) server.on('upgrade', onUpgrade);
  let closed = false;
  return {
    registry: ctx.registry,
    ...topicsFace(ctx.registry),
    async close() {
      if (closed) return;
      closed = true;
      shutdownLoops(ctx);
      server.removeListener('upgrade', onUpgrade);
      server.removeListener('session', onSession);
      await ctx.registry.shutdown(opts.shutdownTimeout ?? 5000);
      hook.release();
    },
  };
}

interface StreamTaker {
  readonly server: AnyH2Server;
  readonly ctx: HandleContext;
  readonly hook: EmitHook;
  /** Whether we advertise extended CONNECT (a :protocol is ours only then). */
  readonly enabled: boolean;
}

/** A 'stream' event: true when we took it (answered or serve it), false to hand it on. */
function takeStream({ server, ctx, hook, enabled }: StreamTaker, args: unknown[]): boolean {
  const stream = args[0] as ServerHttp2Stream;
  const headers = args[1] as IncomingHttpHeaders;
  const onError = (err: unknown) => ctx.opts.onError?.(err as Error);
  const max = (ctx.opts as H2Options).maxHeaderSize;
  // RFC 9113 §10.5.1: "A server that receives a larger header section than it is willing
  // to handle can send an HTTP 431 (Request Header Fields Too Large) status code"
  if (max !== undefined && headerListSize(headers) > max) {
    writeAnswer(h2Exchange(stream, headers, ctx), ctx, statusResponse(431)).catch(onError);
    return true;
  }
  const kind = classifyH2Request(headers);
  // without our SETTINGS_ENABLE_CONNECT_PROTOCOL a :protocol is not ours to answer
  if (kind === 'websocket' && !enabled) return false;
  if (kind === 'other-protocol') {
    if (hook.innerIsOurs || othersListen(server)) return false;
    writeAnswer(h2Exchange(stream, headers, ctx), ctx, foreignProtocol()).catch(onError);
    return true;
  }
  const plainStream = kind !== 'websocket' && headers[':method'] !== 'CONNECT';
  const decline = () => {
    const others = plainStream ? server.listenerCount('stream') > 0 : othersListen(server);
    if (!hook.innerIsOurs && !others) return false;
    hook.pass('stream', ...args);
    return true;
  };
  serveH2Stream(stream, headers, ctx, decline).catch((err: unknown) => {
    onError(err);
    if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
  });
  return true;
}

/**
 * A 'request' event: HTTP/1.1 requests (allowHTTP1) come here; HTTP/2 ones come from
 * node's compatibility layer only after we declined their stream, and go on.
 */
function takeH1Request(
  server: AnyH2Server,
  ctx: HandleContext,
  hook: EmitHook,
  args: unknown[],
): boolean {
  const req = args[0] as IncomingMessage | Http2ServerRequest;
  if (req.httpVersionMajor >= 2) return false;
  const res = args[1] as ServerResponse;
  const decline = () => {
    if (!hook.innerIsOurs && server.listenerCount('request') === 0) return false;
    hook.pass('request', ...args);
    return true;
  };
  serveH1Request(req as IncomingMessage, res, ctx, decline, headFieldLimit(server)).catch(
    (err: unknown) => {
      ctx.opts.onError?.(err as Error);
      res.destroy();
    },
  );
  return true;
}

/** The size of a header list as RFC 9113 §6.5.2 counts it: name + value + 32 per field. */
function headerListSize(headers: IncomingHttpHeaders): number {
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value])
      size += name.length + String(v).length + 32;
  }
  return size;
}

/** SETTINGS for sessions that start from now on. */
function applySettings(server: AnyH2Server, opts: H2Options, enabled: boolean): void {
  const settings: http2.Settings = {};
  if (enabled) settings.enableConnectProtocol = true;
  if (opts.initialWindowSize !== undefined) settings.initialWindowSize = opts.initialWindowSize;
  if (Object.keys(settings).length > 0) server.updateSettings(settings);
}

function growConnectionWindow(session: Http2Session, opts: H2Options): void {
  const size = opts.connectionWindowSize;
  if (size === undefined) return;
  try {
    if ((session.state.localWindowSize ?? 0) < size) session.setLocalWindowSize(size);
  } catch {
    // the session is already gone
  }
}

// ── standalone server ─────────────────────────────────────────────────────────

/**
 * A node-style listener for the plain requests of a `listenH2()` server (HTTP/2, or HTTP/1.1 by
 * ALPN).
 */
export type H2RequestListener = (
  req: Http2ServerRequest | IncomingMessage,
  res: Http2ServerResponse | ServerResponse,
) => void;

/**
 * Options of `listenH2()`: port, host, TLS, HTTP/1.1 by ALPN, backlog, timeouts and plain requests.
 */
export interface H2ListenOptions extends H2Options {
  port?: number;
  host?: string;
  /** Serve TLS (h2 and, by default, HTTP/1.1 by ALPN). Without it: h2c with prior knowledge only. */
  tls?: SecureContextOptions & { cert: string | Buffer; key: string | Buffer };
  /**
   * Pending connections the kernel may queue for accept (default 4096, capped by the
   * system's somaxconn; node's 511 resets connections in bursts), as on `listen()`.
   */
  backlog?: number;
  /** Accept HTTP/1.1 on the TLS port (default true): WebSockets by Upgrade, requests to `onRequest`. */
  allowHTTP1?: boolean;
  /**
   * Plain HTTP requests (HTTP/2 and, with allowHTTP1, HTTP/1.1) the handler declines;
   * without `handle`, every plain request (default: 404, or on a WebSocket route
   * 426 + Upgrade on HTTP/1.1 and 405 + Allow: CONNECT on HTTP/2).
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
   * Write the TLS secrets to this file in NSS key log format (Wireshark, tshark); default
   * the SSLKEYLOGFILE environment variable, else none. HTTP/3 writes its own there too.
   */
  keylog?: string;
  /**
   * An HTTP/2 connection with no stream open for this many ms gets GOAWAY and closes
   * (default 60 000; 0: never).
   */
  keepAliveTimeout?: number;
}

/** A running server from `listenH2()`, with its node:http2 server. */
export interface H2Listener extends Server {
  readonly server: AnyH2Server;
}

/**
 * A standalone WebSocket server over HTTP/2: with `tls`, HTTP/2 and HTTP/1.1 on one
 * port (ALPN); without, h2c. `omniws serve --tls` is
 * `listenH2({ port, host, tls: { cert, key }, routes })`.
 */
export async function listenH2(opts: H2ListenOptions, shared?: HandleContext): Promise<H2Listener> {
  const server = createH2Server(opts);
  // requests reach the handler through attachH2(); onRequest gets what it declines
  if (opts.onRequest) server.on('request', opts.onRequest as (...args: unknown[]) => void);
  const connections = boundConnections(server, opts);
  const attached = attachH2(
    server,
    { ...opts, connectionWindowSize: opts.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW_SIZE },
    opts.onRequest ? 'decline' : 'answer',
    shared,
  );
  const bound = await bind(server, opts, opts.backlog ?? 4096);
  return {
    registry: attached.registry,
    ...topicsFace(attached.registry),
    server,
    ...bound,
    versions: opts.tls && opts.allowHTTP1 !== false ? ['2', '1.1'] : ['2'],
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY first, so clients open nothing new while the WebSockets close; each
      // connection then goes once its last stream has (RFC 9113 §6.8)
      connections.goaway();
      await attached.close();
      const grace = setTimeout(() => connections.destroy(), 1000);
      grace.unref();
      await closed;
      clearTimeout(grace);
    },
  };
}

/** node:http2's server with our SETTINGS, TLS (HTTP/1.1 beside by ALPN) and head bounds. */
function createH2Server(opts: H2ListenOptions): AnyH2Server {
  const settings: http2.Settings = {
    ...opts.http2?.settings,
    initialWindowSize: opts.initialWindowSize ?? DEFAULT_INITIAL_WINDOW_SIZE,
    ...(opts.maxHeaderSize !== undefined && { maxHeaderListSize: opts.maxHeaderSize }),
  };
  if (servesWebSockets(opts)) settings.enableConnectProtocol = true;
  const base = { ...opts.http2, settings };
  const handshakeTimeout = opts.handshakeTimeout ?? 10_000;
  if (!opts.tls) return http2.createServer(base);
  const server = http2.createSecureServer({
    ...base,
    ...opts.tls,
    allowHTTP1: opts.allowHTTP1 ?? true,
    handshakeTimeout,
  });
  logKeys(server, opts.keylog);
  // HTTP/1.1 on the TLS port: node:http's slow-loris bounds and head limit, as listen()
  // sets them (node:http reads maxHeaderSize from the server it parses for)
  Object.assign(server, headTimeouts(handshakeTimeout));
  if (opts.maxHeaderSize !== undefined) {
    (server as AnyH2Server & { maxHeaderSize?: number }).maxHeaderSize = opts.maxHeaderSize;
  }
  return server;
}

/**
 * The bounds on each connection of a standalone server: the preface and SETTINGS within
 * `handshakeTimeout`, GOAWAY after `keepAliveTimeout` with no stream open; and how
 * `close()` sends them all away.
 */
function boundConnections(
  server: AnyH2Server,
  opts: H2ListenOptions,
): { goaway(): void; destroy(): void } {
  const handshakeTimeout = opts.handshakeTimeout ?? 10_000;
  const keepAliveTimeout = opts.keepAliveTimeout ?? 60_000;
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    const handshake =
      handshakeTimeout > 0 ? setTimeout(() => session.destroy(), handshakeTimeout) : undefined;
    handshake?.unref();
    session.once('remoteSettings', () => clearTimeout(handshake));
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
  return {
    goaway() {
      for (const s of sessions) if (!s.closed) s.close();
    },
    destroy() {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}
