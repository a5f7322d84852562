// Fastify: a plugin in the manner of @fastify/websocket, on the omniws engine. Routes
// declared with `{ websocket: true }` (or a `wsHandler` beside the HTTP handler) get a
// ws-style socket (src/adapters/socket.ts) and the FastifyRequest, after Fastify's hooks
// ran: an upgrade goes through Fastify's router as the GET it stands for (a stand-in
// request: src/adapters/bridge.ts), so onRequest / preValidation / preHandler, auth,
// params, query and decorations apply before anything is accepted, and a hook that
// replies (401) refuses the WebSocket with that reply. On `http2: true` servers the
// HTTP/2 extended CONNECT (RFC 8441) takes the same way. Fastify is not imported at run
// time: its types only.

import type {
  ContextConfigDefault,
  FastifyBaseLogger,
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  FastifySchema,
  FastifyTypeProvider,
  FastifyTypeProviderDefault,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerBase,
  RawServerDefault,
  RouteGenericInterface,
  RouteHandlerMethod,
  RouteOptions,
} from 'fastify';
import { type AnyNodeServer, attach } from '../server/attach.js';
import type { AttachedServer } from '../server/context.js';
import { type Request, type Response, websocket } from '../server/handler.js';
import { type Bridge, bridge } from './bridge.js';
import type { AdapterOptions, WebSocketOptions } from './options.js';
import { type EventSocket, socketHandler } from './socket.js';

/** Marks the stand-in request of an upgrade (its bridge). */
const UPGRADE: unique symbol = Symbol('omniws.fastify.upgrade');

/** A WebSocket route's handler: the open socket and the request Fastify's hooks passed. */
export type FastifyWebSocketHandler = (
  this: FastifyInstance,
  socket: EventSocket,
  request: FastifyRequest<any, any, any, any, any, any, any>,
) => unknown;

/** Options of the plugin: omniws's WebSocket defaults and bounds, and the error handler. */
export interface FastifyWebSocketOptions extends AdapterOptions {
  /**
   * A WebSocket handler threw (or its promise rejected). Default: log it on the request's
   * logger and drop the connection (`socket.terminate()`), as @fastify/websocket does.
   */
  errorHandler?: (
    this: FastifyInstance,
    err: unknown,
    socket: EventSocket,
    request: FastifyRequest,
    reply: FastifyReply,
  ) => void;
}

declare module 'fastify' {
  interface RouteShorthandOptions<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends
      RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    RouteGeneric extends RouteGenericInterface = RouteGenericInterface,
    ContextConfig = ContextConfigDefault,
    SchemaCompiler extends FastifySchema = FastifySchema,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
  > {
    /**
     * omniws: the handler is a WebSocket handler (`true`, or the route's WebSocket
     * settings: subprotocols, perMessageDeflate, limits). With `wsHandler` beside it, only
     * the settings: the handler stays the HTTP one.
     */
    websocket?: boolean | WebSocketOptions;
    /** omniws: the WebSocket handler of a route whose `handler` answers plain requests. */
    wsHandler?: FastifyWebSocketHandler;
  }

  // an overload merged into Fastify's interface (a type alias cannot merge)
  interface RouteShorthandMethod<
    RawServer extends RawServerBase = RawServerDefault,
    RawRequest extends
      RawRequestDefaultExpression<RawServer> = RawRequestDefaultExpression<RawServer>,
    RawReply extends RawReplyDefaultExpression<RawServer> = RawReplyDefaultExpression<RawServer>,
    TypeProvider extends FastifyTypeProvider = FastifyTypeProviderDefault,
    Logger extends FastifyBaseLogger = FastifyBaseLogger,
  > {
    // biome-ignore lint/style/useShorthandFunctionType: declaration merging needs the interface
    <RouteGeneric extends RouteGenericInterface = RouteGenericInterface>(
      path: string,
      opts: RouteShorthandOptions<RawServer, RawRequest, RawReply, RouteGeneric> & {
        websocket: true | WebSocketOptions;
      },
      handler: (
        this: FastifyInstance,
        socket: EventSocket,
        request: FastifyRequest<RouteGeneric, RawServer, RawRequest>,
      ) => unknown,
    ): FastifyInstance<RawServer, RawRequest, RawReply, Logger, TypeProvider>;
  }

  interface FastifyRequest {
    /** omniws: this request asks for a WebSocket (HTTP/1.1 Upgrade or HTTP/2 extended CONNECT). */
    readonly ws: boolean;
  }

  interface FastifyInstance {
    /** omniws: the server attached to this instance's: its sessions, topics and `publish`. */
    readonly omniws: AttachedServer;
  }
}

function defaultErrorHandler(
  this: FastifyInstance,
  err: unknown,
  socket: EventSocket,
  request: FastifyRequest,
): void {
  request.log.error(err);
  socket.terminate();
}

/** A plain request to a WebSocket-only route: 426 (HTTP/1.1), 405 + allow: CONNECT (HTTP/2). */
function notAnUpgrade(request: FastifyRequest, reply: FastifyReply): void {
  // RFC 9110 §15.5.22: a 426 "MUST send an Upgrade header field", which HTTP/2 forbids
  if (request.raw.httpVersionMajor === 2) reply.code(405).header('allow', 'CONNECT');
  else reply.code(426).header('upgrade', 'websocket').header('connection', 'Upgrade');
  reply.type('text/plain; charset=utf-8').send('this is a WebSocket endpoint\n');
}

type Handler = RouteHandlerMethod<any, any, any, any, any, any, any, any>;

/** Make a route's handler tell upgrades from plain requests (Fastify's onRoute hook). */
function wrapRoute(
  route: RouteOptions<any, any, any, any, any, any, any, any>,
  errorHandler: NonNullable<FastifyWebSocketOptions['errorHandler']>,
): void {
  const settings = typeof route.websocket === 'object' ? route.websocket : {};
  let onSocket: FastifyWebSocketHandler | undefined = route.wsHandler;
  let plain: Handler = route.handler;
  if (onSocket === undefined && route.websocket) {
    onSocket = route.handler as unknown as FastifyWebSocketHandler;
    plain = notAnUpgrade;
  }
  if (onSocket !== undefined) {
    const methods = [route.method].flat();
    // the HEAD route Fastify adds beside a GET one answers as the plain handler would
    if (methods.every((m) => m === 'HEAD')) {
      route.handler = plain;
      return;
    }
    if (methods.some((m) => m !== 'GET')) {
      throw new Error(`omniws: the WebSocket route ${route.url} must be a GET route`);
    }
  }
  const ws = onSocket;
  route.handler = function handler(this: FastifyInstance, request, reply) {
    const up = (request.raw as { [UPGRADE]?: Bridge })[UPGRADE];
    if (up === undefined) return plain.call(this, request, reply);
    if (ws === undefined) {
      // a plain route: its answer would not be a WebSocket's
      reply.code(400).type('text/plain; charset=utf-8').send('not a WebSocket endpoint\n');
      return reply;
    }
    reply.hijack();
    const handler = socketHandler(
      (socket) => ws.call(this, socket, request),
      (err, socket) => errorHandler.call(this, err, socket, request, reply),
    );
    up.accept(websocket(handler, null, settings));
    return reply;
  };
}

/** An upgrade request through Fastify's router: its hooks, then a WebSocket route or a reply. */
function routeUpgrade(fastify: FastifyInstance, req: Request): Promise<Response> {
  const up = bridge(req);
  (up.req as { [UPGRADE]?: Bridge })[UPGRADE] = up;
  fastify.routing(up.req, up.res);
  return up.answer;
}

function plugin(
  fastify: FastifyInstance,
  opts: FastifyWebSocketOptions,
  done: (err?: Error) => void,
): void {
  const { errorHandler = defaultErrorHandler, ...serverOpts } = opts;
  const server = attach(fastify.server as AnyNodeServer, {
    ...serverOpts,
    handle: (req) => (req.upgrade ? routeUpgrade(fastify, req) : undefined),
  });
  fastify.decorate('omniws', server);
  fastify.decorateRequest('ws', {
    getter(this: FastifyRequest) {
      return (this.raw as { [UPGRADE]?: Bridge })[UPGRADE] !== undefined;
    },
  });
  fastify.addHook('onRoute', (route) => wrapRoute(route, errorHandler));
  // before Fastify closes its server: the WebSockets get 1001, the upgrades stop
  fastify.addHook('preClose', (next) => {
    server.close().then(() => next(), next);
  });
  done();
}

// what fastify-plugin would set: the plugin decorates the instance it is registered on
// (no encapsulation), for Fastify 5
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'omniws',
  [Symbol.for('plugin-meta')]: { name: 'omniws', fastify: '5.x' },
});

/**
 * The Fastify plugin: `fastify.register(omniwsFastify, options)`, then routes with
 * `{ websocket: true }` or a `wsHandler` get WebSockets, over HTTP/1.1 and, on an
 * `http2: true` server, HTTP/2.
 */
export const omniwsFastify = plugin as FastifyPluginCallback<FastifyWebSocketOptions>;
