// The options every server shares (listen, attach, listenH2, attachH2, listenH3): how a
// request finds its answer (`handle`, or `routes`/`route`, which compile into one
// handle: src/server/routes.ts), the session defaults, and the bounds on upgrades.

import type { NegotiationOptions } from '../ws/negotiate.js';
import type { SessionOptions } from '../ws/session.js';
import type { Topics, TopicsOptions } from '../ws/topics.js';
import type { HttpResponse, RequestHandler, RequestInfo, WebSocketRoute } from './handler.js';

/**
 * What `route()` decides for an upgrade request: a WebSocket route, an HTTP response, or undefined
 * (not ours).
 */
export type RouteDecision = WebSocketRoute | HttpResponse | undefined;

/**
 * Options every server takes: the request handler or routes, handshake negotiation, session
 * settings.
 */
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
   * Decide per upgrade request: a route, an HTTP response (reject with a status), or
   * undefined (not ours: other listeners or a 404 get it). Consulted before `routes`.
   */
  route?: (req: RequestInfo) => RouteDecision | Promise<RouteDecision>;
  /** Grace period of `close()` before remaining sessions are aborted (default 5 s). */
  shutdownTimeout?: number;
  /**
   * How long `route()`, or `handle()` for an upgrade request, may take to decide (default
   * 10 000 ms). A decision still pending then is answered 503 and reported to `onError`
   * (WS_ERR_DECISION_TIMEOUT); its late answer is ignored, so a route that never resolves
   * holds neither the connection nor a `maxConnections` slot. Plain requests to `handle()`
   * are not limited (a long poll is an answer that takes its time). 0: no limit.
   */
  decisionTimeout?: number;
  /**
   * Most WebSocket sessions open at once (default Infinity); upgrades beyond it are
   * answered 503 before the handler is consulted: the HTTP/1.1 Upgrade and the extended
   * CONNECT of HTTP/2 and HTTP/3 (counted per server, over all its connections).
   */
  maxConnections?: number;
  /**
   * Alt-Svc (RFC 7838) added to the HTTP answers of TLS connections on HTTP/1.1 and HTTP/2
   * (not on HTTP/3, nor where the handler set one). `serve()` sets it to its HTTP/3 port.
   */
  altSvc?: string | (() => string | undefined);
  /**
   * The topics hub of this server's sessions (docs/topics.md): a `Topics` to share one
   * with other servers, or its options (default: a hub of its own).
   */
  topics?: Topics | TopicsOptions;
}

/** Whether WebSockets can be served (h2 and h3 advertise extended CONNECT only then). */
export function servesWebSockets(opts: ServerOptions): boolean {
  return (
    opts.handle !== undefined ||
    opts.route !== undefined ||
    Object.keys(opts.routes ?? {}).length > 0
  );
}
