// The public API of omniws.

export type { ClientOptions } from './h1/client.js';
export { connectH1, parseWsUrl } from './h1/client.js';
export type { AttachedServer, Listener, ListenOptions } from './h1/server.js';
export { attach, listen } from './h1/server.js';
export { acceptKey, validateH1Request, validateH1Response } from './h1/upgrade.js';
export type { HttpResponse, RequestInfo, ServerOptions, WebSocketRoute } from './route.js';
export { CloseCode, isValidWireCloseCode } from './ws/close.js';
export type { ErrorCode } from './ws/errors.js';
export { WebSocketError } from './ws/errors.js';
export type {
  CloseKind,
  CloseReason,
  Control,
  Handler,
  Message,
  OutFrame,
  Result,
  SessionApi,
  UpgradeRequest,
} from './ws/handler.js';
export { ok, reply, stop } from './ws/handler.js';
export type { ExtensionOffer, NegotiationOptions } from './ws/negotiate.js';
export type { Limits, SessionOptions } from './ws/session.js';
export { Session } from './ws/session.js';
export type { HttpVersion, Transport, TransportInfo, TransportSink } from './ws/transport.js';

import type { ClientOptions } from './h1/client.js';
import { connectH1 } from './h1/client.js';
import type { Session } from './ws/session.js';

/** Open a client WebSocket. `http` selects the HTTP version (1.1 until h2/h3 land). */
export function connect<S>(url: string | URL, opts: ClientOptions<S>): Promise<Session<S>> {
  return connectH1(url, opts);
}
