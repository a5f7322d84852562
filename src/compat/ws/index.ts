// omniws/ws: ws 8's API on omniws. The default export is the WebSocket class with ws's
// statics (WebSocket.Server, WebSocket.WebSocketServer, WebSocket.createWebSocketStream),
// so that `import WebSocket from 'ws'` and `import { WebSocketServer } from 'ws'` both
// change to omniws/ws by their module name alone.

import { WebSocketServer } from './server.js';
import { createWebSocketStream } from './stream.js';
import { WebSocket } from './websocket.js';

/** WebSocket with ws's statics, as ws's default export. */
export const WebSocketWithStatics: typeof WebSocket & {
  readonly Server: typeof WebSocketServer;
  readonly WebSocketServer: typeof WebSocketServer;
  readonly WebSocket: typeof WebSocket;
  readonly createWebSocketStream: typeof createWebSocketStream;
} = Object.assign(WebSocket, {
  Server: WebSocketServer,
  WebSocketServer,
  WebSocket,
  createWebSocketStream,
});
