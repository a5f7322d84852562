// Server-side glue shared by the HTTP/1.1, HTTP/2 and HTTP/3 servers: which
// route a request reaches, how a validated upgrade becomes a Session, and the
// registry of live sessions that a graceful shutdown closes with 1001.

import type { RequestHandler } from './http/handler.js';
import { deflateOptionsOf, PerMessageDeflate } from './ws/deflate.js';
import { WebSocketError } from './ws/errors.js';
import type { Handler, UpgradeRequest } from './ws/handler.js';
import type { NegotiationOptions, UpgradeInfo } from './ws/negotiate.js';
import { Session, type SessionOptions } from './ws/session.js';
import type { HttpVersion, Transport } from './ws/transport.js';

/** A WebSocket endpoint: the handler, its initial state, and per-route settings. */
export interface WebSocketRoute<S = any> extends NegotiationOptions, SessionOptions {
  handler: Handler<S>;
  /** Initial state (shared by reference between connections: use createState for objects). */
  state?: S;
  /** Fresh initial state per connection. */
  createState?: (req: RequestInfo) => S;
}

/** An HTTP answer instead of an upgrade (e.g. 401 + www-authenticate). */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** What a route decision sees of the request, on any HTTP version. */
export interface RequestInfo {
  readonly http: HttpVersion;
  readonly method: string;
  /** Path and query, as requested. */
  readonly path: string;
  readonly pathname: string;
  readonly authority: string | undefined;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly secure: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

export type RouteDecision = WebSocketRoute | HttpResponse | undefined;

export interface ServerOptions extends NegotiationOptions, SessionOptions {
  /**
   * One handler for every request, plain or upgrade, on every HTTP version
   * (docs/http.md). When given, `routes`, `route` and the default answers are not used.
   */
  handle?: RequestHandler;
  /** Largest request body `handle`'s `req.body.buffer()` accepts by default (1 MiB; above: 413). */
  maxRequestBody?: number;
  /** Path → route. Exact match on the path without its query. */
  routes?: Record<string, WebSocketRoute>;
  /**
   * Decide per request: a route, an HTTP response (reject with a status), or undefined
   * (not ours: other listeners or a 404 get it). Consulted before `routes`.
   */
  route?: (req: RequestInfo) => RouteDecision | Promise<RouteDecision>;
  /** Grace period of `close()` before remaining sessions are aborted (default 5 s). */
  shutdownTimeout?: number;
  /**
   * How long `route()`, or `handle()` for an upgrade request, may take to decide (default
   * 10 000 ms). A decision still pending then is answered 503 and reported to `onError`
   * (WS_ERR_HANDSHAKE_TIMEOUT); its late answer is ignored, so a route that never resolves
   * holds neither the connection nor a `maxConnections` slot. Plain requests to `handle()`
   * are not limited (a long poll is an answer that takes its time). 0: no limit.
   */
  decisionTimeout?: number;
  /**
   * Most WebSocket sessions open at once (default Infinity); upgrades beyond it are
   * answered 503 before the route is consulted: on HTTP/1.1, and the extended CONNECT
   * of HTTP/2 and HTTP/3 (counted per server, over all its connections).
   */
  maxConnections?: number;
}

export function isHttpResponse(d: RouteDecision): d is HttpResponse {
  return d !== undefined && typeof (d as HttpResponse).status === 'number' && !('handler' in d);
}

export function pathnameOf(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

export async function resolveRoute(opts: ServerOptions, req: RequestInfo): Promise<RouteDecision> {
  if (opts.route) {
    const route = opts.route;
    const d = await decideWithin(opts, 'route()', () => route(req));
    if (d !== undefined) return d;
  }
  return opts.routes?.[req.pathname];
}

/**
 * Run the application's upgrade decision, bounded by `decisionTimeout`: past it, reject
 * with WS_ERR_HANDSHAKE_TIMEOUT (status 503). A synchronous answer costs no timer.
 */
export function decideWithin<T>(
  opts: ServerOptions,
  what: string,
  decide: () => T | Promise<T>,
): Promise<T> {
  let pending: T | Promise<T>;
  try {
    pending = decide();
  } catch (err) {
    return Promise.reject(err);
  }
  if (typeof (pending as PromiseLike<T> | null)?.then !== 'function') {
    return Promise.resolve(pending);
  }
  const ms = opts.decisionTimeout ?? 10_000;
  if (!(ms > 0 && Number.isFinite(ms))) return Promise.resolve(pending);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', `${what} did not decide within ${ms} ms`, {
            status: 503,
          }),
        ),
      ms,
    );
  });
  return Promise.race([Promise.resolve(pending), late]).finally(() => clearTimeout(timer));
}

/**
 * The answer to a decision that threw or timed out: its own status when it carries one
 * (a timeout: 503), else 500. Either way the application hears of it through `onError`.
 */
export function decisionFailed(opts: ServerOptions, err: unknown): HttpResponse {
  opts.onError?.(err as Error);
  const status = (err as WebSocketError)?.status;
  return err instanceof WebSocketError && status !== undefined && status >= 400 && status <= 599
    ? { status, ...(status === 503 && { headers: { 'retry-after': '1' } }) }
    : { status: 500 };
}

/** Whether any WebSocket route can exist (h2 advertises extended CONNECT only then). */
export function hasRoutes(opts: ServerOptions): boolean {
  return (
    opts.handle !== undefined ||
    opts.route !== undefined ||
    Object.keys(opts.routes ?? {}).length > 0
  );
}

/** Route settings over server defaults, for negotiation. */
export function negotiationFor(opts: ServerOptions, route: WebSocketRoute): NegotiationOptions {
  const n: NegotiationOptions = {};
  const subprotocols = route.subprotocols ?? opts.subprotocols;
  const select = route.selectSubprotocol ?? opts.selectSubprotocol;
  const origin = route.checkOrigin ?? opts.checkOrigin;
  const ext = route.negotiateExtensions ?? opts.negotiateExtensions;
  if (subprotocols) n.subprotocols = subprotocols;
  if (select) n.selectSubprotocol = select;
  if (origin) n.checkOrigin = origin;
  if (ext) n.negotiateExtensions = ext;
  const deflate = route.perMessageDeflate ?? opts.perMessageDeflate;
  if (deflate !== undefined) n.perMessageDeflate = deflate;
  return n;
}

const SESSION_KEYS = [
  'maxFrame',
  'maxMessage',
  'closeTimeout',
  'idleTimeout',
  'maxQueued',
  'maxQueuedBytes',
  'fragmentSize',
  'maxBuffered',
  'onSlowConsumer',
  'onError',
] as const;

function sessionOptions(opts: ServerOptions, route: WebSocketRoute): SessionOptions {
  const o: Record<string, unknown> = {};
  for (const k of SESSION_KEYS) {
    const v = route[k] ?? opts[k];
    if (v !== undefined) o[k] = v;
  }
  return o as SessionOptions;
}

// Header values every upgrade repeats: kept once per process instead of as a fresh
// string per connection (a session keeps its request's headers for its lifetime).
const COMMON_VALUES = new Map(
  ['websocket', 'Upgrade', 'upgrade', 'keep-alive, Upgrade', '13', 'no-cache'].map((v) => [v, v]),
);

export function toUpgradeRequest(req: RequestInfo, info: UpgradeInfo): UpgradeRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const value = typeof v === 'string' ? v : v.join(', ');
    headers[k] = COMMON_VALUES.get(value) ?? value;
  }
  return {
    http: req.http,
    secure: req.secure,
    method: req.method,
    path: req.path,
    authority: req.authority,
    headers,
    subprotocol: info.subprotocol,
    extensions: info.extensions,
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
  };
}

/** Live sessions of one server, for graceful shutdown. */
export class SessionRegistry {
  readonly sessions = new Set<Session<any>>();
  readonly #ended = (s: Session<any>): void => {
    this.sessions.delete(s);
  };

  /** Create, register and start the server-side session of an accepted upgrade. */
  start(
    transport: Transport,
    opts: ServerOptions,
    route: WebSocketRoute,
    req: RequestInfo,
    info: UpgradeInfo,
  ): Session<any> {
    const state = route.createState ? route.createState(req) : route.state;
    const so = sessionOptions(opts, route);
    if (info.deflate) {
      so.extension = new PerMessageDeflate({
        role: 'server',
        params: info.deflate,
        options: deflateOptionsOf(route.perMessageDeflate ?? opts.perMessageDeflate) ?? {},
        ...(so.maxMessage !== undefined && { maxMessage: so.maxMessage }),
      });
    }
    const session = new Session<any>({
      role: 'server',
      transport,
      handler: route.handler,
      state,
      request: toUpgradeRequest(req, info),
      onEnded: this.#ended,
      ...so,
    });
    this.sessions.add(session);
    session.start();
    return session;
  }

  /** Close every session with 1001, wait up to `grace` ms, then abort the rest. */
  async shutdown(grace: number): Promise<void> {
    const all = [...this.sessions];
    for (const s of all) {
      try {
        s.shutdown(1001, 'server shutting down');
      } catch {
        // closing already
      }
    }
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, grace);
    });
    await Promise.race([Promise.all(all.map((s) => s.closed)), timedOut]);
    clearTimeout(timer);
    for (const s of this.sessions) s.abort();
    await Promise.all([...this.sessions].map((s) => s.closed));
  }
}

/** Closes a connection that stays idle: see `idleCloser`. */
export interface IdleCloser {
  /** Nothing is open on the connection (any more): the idle period starts now. */
  start(): void;
  /** The connection is gone. */
  stop(): void;
}

/**
 * Send an idle connection away (HTTP/2 and HTTP/3 `keepAliveTimeout`): `ms` after the
 * last `start()`, `close` runs; it checks for itself that nothing was opened meanwhile
 * (then it does nothing, and the next `start()` begins a new period). `ms` 0: never.
 */
export function idleCloser(ms: number, close: () => void): IdleCloser {
  let since = 0;
  let timer: NodeJS.Timeout | null = null;
  const arm = (wait: number) => {
    timer = setTimeout(fire, wait);
    timer.unref();
  };
  const fire = () => {
    timer = null;
    const left = since + ms - Date.now();
    if (left > 0) arm(left);
    else close();
  };
  return {
    start() {
      if (ms <= 0) return;
      since = Date.now();
      if (timer === null) arm(ms);
    },
    stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}

export function routeError(message: string): WebSocketError {
  return new WebSocketError('WS_ERR_HANDSHAKE', message, { status: 500 });
}
