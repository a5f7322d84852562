// omniws/hono: WebSockets for Hono on @hono/node-server with the contract of
// @hono/node-ws (`createNodeWebSocket`, `upgradeWebSocket`, `injectWebSocket`), on the
// omniws engine, over HTTP/1.1 and HTTP/2 (docs/frameworks.md). Hono itself is a peer:
// this subpath imports none of it.

export type {
  NodeWebSocket,
  NodeWebSocketInit,
  UpgradeOptions,
} from '../adapters/hono.js';
export { createNodeWebSocket, WSContext } from '../adapters/hono.js';
export type { AdapterOptions, WebSocketOptions } from '../adapters/options.js';
