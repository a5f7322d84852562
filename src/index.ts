// The public API of omniws.

export type { ConnectOptions, HttpChoice } from './client/connect.js';
export { connect } from './client/connect.js';
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
export type { CertPaths, EnsureCertsOptions } from './dev/certs.js';
export { ensureCerts } from './dev/certs.js';
export type { Endpoint, Served, ServeOptions } from './dev/serve.js';
export { serve } from './dev/serve.js';
export type { ClientOptions } from './h1/client.js';
export { connectH1, parseWsUrl } from './h1/client.js';
export { acceptKey, validateH1Request, validateH1Response } from './h1/upgrade.js';
export type { H2ClientOptions } from './h2/client.js';
export { closeH2Sessions, connectH2 } from './h2/client.js';
export { buildH2Request, validateH2Request, validateH2Response } from './h2/upgrade.js';
export type { H3ClientOptions } from './h3/client.js';
export { closeH3Connections, connectH3 } from './h3/client.js';
export type { QuicSettings } from './h3/quic.js';
export { buildH3Request, validateH3Request, validateH3Response } from './h3/upgrade.js';
export type { AttachedServer } from './server/context.js';
export type { Listener, ListenOptions } from './server/h1-server.js';
export { attach, listen } from './server/h1-server.js';
export type {
  H2Listener,
  H2ListenOptions,
  H2Options,
  H2RequestListener,
} from './server/h2-server.js';
export {
  attachH2,
  DEFAULT_CONNECTION_WINDOW_SIZE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  listenH2,
} from './server/h2-server.js';
export type { H3Listener, H3ListenOptions, H3Request } from './server/h3-server.js';
export { listenH3 } from './server/h3-server.js';
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
export type { ServerOptions } from './server/options.js';
export { CloseCode, isValidWireCloseCode } from './ws/close.js';
export type {
  ClientExtensionOptions,
  ClientExtensions,
  DeflateOptions,
  DeflateParams,
  PerMessageDeflateInit,
} from './ws/deflate.js';
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
export type { EncodedMessage, MessageExtension } from './ws/extensions.js';
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
export type { HttpVersion, Transport, TransportInfo, TransportSink } from './ws/transport.js';
