// The option vocabulary the adapters share with the rest of omniws: what a WebSocket
// route takes (subprotocols, permessage-deflate, limits, timeouts: docs/handler.md) and
// what the server attached to the framework's own takes (those as defaults, plus the
// bounds on upgrades: decisionTimeout, maxConnections, shutdownTimeout, HTTP/2 windows).

import type { AttachOptions } from '../server/attach.js';
import type { WebSocketRoute } from '../server/handler.js';

/** Per-route WebSocket settings: negotiation (subprotocols, deflate, origin) and the session's limits. */
export type WebSocketOptions = Omit<
  WebSocketRoute,
  'handler' | 'state' | 'createState' | 'extension'
>;

/** What an adapter attaches with: WebSocket defaults, upgrade bounds, HTTP/2 windows, onError. */
export type AdapterOptions = Omit<AttachOptions, 'handle' | 'routes' | 'route' | 'extension'>;
