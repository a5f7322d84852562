// omniws/fastify: WebSockets for Fastify on the omniws engine, in the manner of
// @fastify/websocket: register the plugin, declare routes with `{ websocket: true }` or a
// `wsHandler`; Fastify's hooks run before the upgrade, over HTTP/1.1 and HTTP/2
// (docs/frameworks.md). Fastify itself is a peer: this subpath imports none of it.

export type { FastifyWebSocketHandler, FastifyWebSocketOptions } from '../adapters/fastify.js';
export { omniwsFastify } from '../adapters/fastify.js';
export type { AdapterOptions, WebSocketOptions } from '../adapters/options.js';
export type { EventSocketEvents, SendOptions, SocketData } from '../adapters/socket.js';
export { EventSocket } from '../adapters/socket.js';
