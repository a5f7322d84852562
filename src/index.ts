// omniws: the root, what an application needs on day one. Serve (`serve`, or `attach`
// to a server you have) with one request handler or routes; connect (`connect`, the
// reconnecting `connectClient`, the WHATWG `WebSocket`); the handler results and the
// response constructors; errors. Importing it loads no native code: HTTP/3 loads when
// first used. Building blocks live in subpaths: omniws/protocol (the sans-I/O core,
// validators, Session and Transport, deflate), omniws/h3 (HTTP/3 and QUIC), omniws/dev
// (certificates, the interop server). docs/api.md lists the whole surface.

// ── connecting ───────────────────────────────────────────────────────────────
export type { ConnectOptions, HttpChoice } from './client/connect.js';
/** @deprecated `connect(url, { http: 3 })`; omniws/h3. */
export { closeH3Connections, connect, connectH3 } from './client/connect.js';
export type { HeartbeatOptions } from './client/heartbeat.js';
export type { ClientConnectOptions, ClientHandler } from './client/lifecycle.js';
export { ClientConnection, connectClient } from './client/lifecycle.js';
export type { ReconnectOptions, RetryDecision, RetryReason } from './client/reconnect.js';
export { defaultShouldRetry, ReconnectPolicy } from './client/reconnect.js';
export type { DataFrame, QueueOptions } from './client/send-queue.js';
export type {
  AttemptInfo,
  ClientState,
  ClientStatus,
  ConnectedInfo,
  ConnectionInfo,
  DisconnectReason,
  Pong,
  TimeoutInfo,
} from './client/types.js';
export type {
  BinaryType,
  CloseEventInit,
  ErrorEventInit,
  HeadersLike,
  WebSocketEventMap,
  WebSocketOptions,
} from './client/whatwg.js';
export { CloseEvent, ErrorEvent, WebSocket } from './client/whatwg.js';
/** @deprecated omniws/dev. */
export type { CertPaths, EnsureCertsOptions } from './dev/certs.js';
/** @deprecated omniws/dev. */
export { ensureCerts } from './dev/certs.js';
// ── kept for one minor version (0.2): see CHANGELOG.md for what replaces each ──
export type { ClientOptions } from './h1/client.js';
/** @deprecated `connect(url, { http: 1 })`. */
/** @deprecated omniws/protocol. */
export { connectH1, parseWsUrl } from './h1/client.js';
/** @deprecated omniws/protocol. */
export { acceptKey, validateH1Request, validateH1Response } from './h1/upgrade.js';
export type { H2ClientOptions } from './h2/client.js';
/** @deprecated `connect(url, { http: 2 })`; the pool: `closeH2Sessions` in omniws/protocol. */
export { closeH2Sessions, connectH2 } from './h2/client.js';
/** @deprecated omniws/protocol. */
export { buildH2Request, validateH2Request, validateH2Response } from './h2/upgrade.js';
export type { H3ClientOptions } from './h3/client.js';
// ── the handler API, close codes, errors ─────────────────────────────────────
export { H3Error, QpackError } from './h3/errors.js';
export type { QuicSettings } from './h3/quic.js';
/** @deprecated omniws/protocol. */
export { buildH3Request, validateH3Request, validateH3Response } from './h3/upgrade.js';
// ── serving ──────────────────────────────────────────────────────────────────
export type { AnyNodeServer } from './server/attach.js';
export { attach } from './server/attach.js';
export type { AttachedServer, Server } from './server/context.js';
export type { Listener, ListenOptions } from './server/h1-server.js';
/** @deprecated `serve({ http: [1] })`. */
export { listen } from './server/h1-server.js';
export type {
  H2Listener,
  H2ListenOptions,
  H2Options,
  H2RequestListener,
} from './server/h2-server.js';
/** @deprecated `serve({ tls, http: [1, 2] })` and `attach(server)`. */
export {
  attachH2,
  DEFAULT_CONNECTION_WINDOW_SIZE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  listenH2,
} from './server/h2-server.js';
/** @deprecated `serve({ tls, http: [3] })`; omniws/h3. */
export { listenH3 } from './server/h3-lazy.js';
export type { H3Listener, H3ListenOptions, H3Request } from './server/h3-server.js';
export type {
  BodyReader,
  BufferedResponse,
  FileResponse,
  Fin,
  HttpResponse,
  LoopEnd,
  LoopHandler,
  LoopResponse,
  Push,
  Request,
  RequestHandler,
  RequestInfo,
  Response,
  ResponseHeaders,
  Send,
  StreamResponse,
  TlsInfo,
  WebSocketAnswerOptions,
  WebSocketResponse,
  WebSocketRoute,
} from './server/handler.js';
export { buffered, file, loop, stream, websocket } from './server/handler.js';
export type { RouteDecision, ServerOptions } from './server/options.js';
export type { ServeOptions, ServerTls } from './server/serve.js';
export { serve } from './server/serve.js';
export { CloseCode, isValidWireCloseCode } from './ws/close.js';
export type { DeflateOptions } from './ws/deflate.js';
/** @deprecated omniws/protocol. */
export {
  acceptDeflateResponse,
  buildDeflateOffer,
  clientExtensions,
  DEFLATE_LEAN,
  negotiateDeflateServer,
  PerMessageDeflate,
} from './ws/deflate.js';
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
export type { ExtensionOffer } from './ws/headers.js';
export type { NegotiationOptions } from './ws/negotiate.js';
export type { Limits, SessionOptions } from './ws/session.js';
export { Session } from './ws/session.js';
export type { HttpVersion } from './ws/transport.js';
