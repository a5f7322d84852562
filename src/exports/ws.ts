// omniws/ws: the API of ws 8 (WebSocketServer, WebSocket, createWebSocketStream, ws's
// options, events and errors) on the omniws engine, so that a ws application changes its
// import and also serves and connects over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220).
// docs/ws-compat.md says how it maps and what differs.

export type { Data, RawData } from '../compat/ws/data.js';
export { WebSocketWithStatics as default } from '../compat/ws/index.js';
export type {
  ClientOptions,
  PerMessageDeflateOptions,
  ServerOptions,
  VerifyClientCallbackAsync,
  VerifyClientCallbackSync,
  VerifyClientInfo,
} from '../compat/ws/options.js';
export { WebSocketServer } from '../compat/ws/server.js';
export { createWebSocketStream } from '../compat/ws/stream.js';
export type { SendOptions } from '../compat/ws/websocket.js';
export { WebSocket } from '../compat/ws/websocket.js';
