// omniws/express: WebSocket routes for Express on the omniws engine, in the manner of
// express-ws: `app.ws(path, ...middleware, handler)`; Express middleware runs before the
// upgrade, over HTTP/1.1 and HTTP/2 (docs/frameworks.md). Express itself is a peer: this
// subpath imports none of it.

export type {
  ExpressWebSocket,
  ExpressWebSocketHandler,
  ExpressWebSocketOptions,
  WsMethod,
} from '../adapters/express.js';
export { omniwsExpress, websocketPath } from '../adapters/express.js';
export type { AdapterOptions, WebSocketOptions } from '../adapters/options.js';
export type { EventSocketEvents, SendOptions, SocketData } from '../adapters/socket.js';
export { EventSocket } from '../adapters/socket.js';
