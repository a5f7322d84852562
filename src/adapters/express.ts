// Express: `app.ws(path, ...middleware, handler)` in the manner of express-ws, on the
// omniws engine. An upgrade request goes through the app as a GET (a stand-in request:
// src/adapters/bridge.ts) before anything is accepted: app-level and route-level
// middleware run first, and one that answers (401) refuses the WebSocket with that answer;
// the handler gets a ws-style socket (src/adapters/socket.ts) and the request, with
// `req.params` and what middleware put on it. As in express-ws, WebSocket routes live at
// `<path>/.websocket` in the app's router, so a GET route on the same path never takes an
// upgrade nor the other way round; the handler sees the URL as requested. Served over
// HTTP/1.1 and, on a node:http2 server, HTTP/2 extended CONNECT. Express cannot take
// node's HTTP/2 requests (it gives them the prototypes of HTTP/1.1's, and the first one
// throws): on an HTTP/2 server, plain HTTP/2 requests reach the app on the same stand-ins,
// their answers buffered (docs/frameworks.md). Express is not imported at run time.

import { STATUS_CODES } from 'node:http';
import type { Request as ExpressRequest, NextFunction, RequestHandler } from 'express';
import { type AnyNodeServer, attach } from '../server/attach.js';
import type { AttachedServer } from '../server/context.js';
import { type Request, type Response, websocket } from '../server/handler.js';
import { type Bridge, bridge } from './bridge.js';
import type { AdapterOptions, WebSocketOptions } from './options.js';
import { type EventSocket, socketHandler } from './socket.js';

const UPGRADE: unique symbol = Symbol('omniws.express.upgrade');

/** Where WebSocket routes live in the router (express-ws's convention). */
const SUFFIX = '.websocket';

/** A WebSocket route's handler: the open socket and the request the middleware passed. */
export type ExpressWebSocketHandler = (
  socket: EventSocket,
  req: ExpressRequest,
  next: NextFunction,
) => unknown;

/** `app.ws` / `router.ws`: a path, optional WebSocket settings, middleware, then the handler. */
export interface WsMethod<T> {
  (path: string, ...handlers: [...RequestHandler[], ExpressWebSocketHandler]): T;
  (
    path: string,
    settings: WebSocketOptions,
    ...handlers: [...RequestHandler[], ExpressWebSocketHandler]
  ): T;
}

/** Something with Express's `get` (an app or a router). */
interface Routable {
  get(path: string, ...handlers: RequestHandler[]): unknown;
}

/** What `omniwsExpress` gives: the app with `ws`, routers made to have it, the attached server. */
export interface ExpressWebSocket<A> {
  readonly app: A & { ws: WsMethod<A> };
  /** Give a router (or another app) a `ws` method. */
  applyTo<R extends Routable>(router: R): R & { ws: WsMethod<R> };
  /** Serve the app's WebSocket routes on `server` (done for you when given or by `app.listen`). */
  attach(server: AnyNodeServer): AttachedServer;
  /** The attached server (sessions, topics, `publish`), once there is one. */
  readonly server: AttachedServer | undefined;
  /** Close every WebSocket with 1001 and stop taking upgrades; the HTTP server stays yours. */
  close(): Promise<void>;
}

/** The path a WebSocket route or request has in the router. */
export function websocketPath(path: string): string {
  const q = path.indexOf('?');
  const [base, query] = q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q)];
  return `${base.endsWith('/') ? base : `${base}/`}${SUFFIX}${query}`;
}

/** The URL as requested, from one in the router's WebSocket form. */
function requestedPath(url: string): string {
  const q = url.indexOf('?');
  const [base, query] = q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q)];
  const cut = base.endsWith(`/${SUFFIX}`) ? base.slice(0, -SUFFIX.length - 1) : base;
  return `${cut || '/'}${query}`;
}

function addWs<R extends Routable>(
  target: R,
  onError: (err: unknown) => void,
): R & { ws: WsMethod<R> } {
  const ws = function ws(this: R, path: string, ...args: unknown[]): R {
    if (typeof path !== 'string') throw new TypeError('omniws: a WebSocket route path is a string');
    const settings = (typeof args[0] === 'function' ? {} : args.shift()) as WebSocketOptions;
    const onSocket = args.pop() as ExpressWebSocketHandler;
    const middleware = args as RequestHandler[];
    const open: RequestHandler = (req, _res, next) => {
      const up = (req as { [UPGRADE]?: Bridge })[UPGRADE];
      if (up === undefined) return next();
      req.url = requestedPath(req.url);
      req.originalUrl = requestedPath(req.originalUrl);
      const handler = socketHandler(
        (socket) => onSocket(socket, req, next),
        (err, socket) => {
          onError(err);
          if (socket.readyState === 1) socket.close(1011);
        },
      );
      up.accept(websocket(handler, null, settings));
    };
    this.get(websocketPath(path), ...middleware, open);
    return this;
  };
  return Object.assign(target, { ws: ws as WsMethod<R> });
}

/** Options of omniwsExpress: omniws's WebSocket defaults and bounds. */
export interface ExpressWebSocketOptions extends AdapterOptions {
  /** A WebSocket handler threw (it is closed with 1011). Default: `onError`, else console.error. */
  onHandlerError?: (err: unknown) => void;
}

type App = ((req: any, res: any, next: (err?: unknown) => void) => void) & Routable;

/**
 * A request through the app on stand-ins: an upgrade (its middleware, then a WebSocket
 * route or an answer), or a plain HTTP/2 request, which Express cannot take from node.
 */
function through(app: App, req: Request): Promise<Response> {
  const up = req.upgrade ? bridge(req, websocketPath(req.path)) : bridge(req);
  if (req.upgrade) (up.req as { [UPGRADE]?: Bridge })[UPGRADE] = up;
  app(up.req, up.res, (err?: unknown) => {
    // nothing answered: Express's own final handler would say so with the router's URL
    const e = err as { status?: number; statusCode?: number } | undefined;
    const status = err === undefined ? 404 : (e?.status ?? e?.statusCode ?? 500);
    const code = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
    up.res.statusCode = code;
    up.res.setHeader('content-type', 'text/plain; charset=utf-8');
    up.res.end(`${STATUS_CODES[code] ?? ''}\n`);
  });
  return up.answer;
}

/**
 * WebSocket routes for an Express app: `app.ws(path, [settings], ...middleware, handler)`.
 * With `server`, they are served on it now; without, on the server `app.listen()` makes.
 */
export function omniwsExpress<A extends App>(
  app: A,
  server?: AnyNodeServer,
  options: ExpressWebSocketOptions = {},
): ExpressWebSocket<A> {
  const { onHandlerError, ...serverOpts } = options;
  const onError: (err: unknown) => void =
    onHandlerError ??
    ((err) => (options.onError ? options.onError(err as Error) : console.error(err)));
  let attached: AttachedServer | undefined;
  const self: ExpressWebSocket<A> = {
    app: addWs(app, onError),
    applyTo: (router) => addWs(router, onError),
    attach(s) {
      if (attached) throw new Error('omniws: this app is attached to a server already');
      attached = attach(s, {
        ...serverOpts,
        // plain HTTP/1.1 requests stay with the server's listener (Express)
        handle: (req) => (req.upgrade || req.http !== '1.1' ? through(app, req) : undefined),
      });
      return attached;
    },
    get server() {
      return attached;
    },
    close: () => attached?.close() ?? Promise.resolve(),
  };
  if (server) {
    self.attach(server);
  } else {
    const listen = (app as { listen?: (...args: unknown[]) => AnyNodeServer }).listen;
    if (typeof listen === 'function') {
      (app as unknown as { listen: unknown }).listen = function listenAndAttach(
        ...args: unknown[]
      ) {
        const s = listen.apply(this, args);
        self.attach(s);
        return s;
      };
    }
  }
  return self;
}
