// omniws: the root, what an application needs on day one. Serve (`serve`, or `attach`
// to a server you have) with one request handler or routes; connect (`connect`, the
// reconnecting `connectClient`, the WHATWG `WebSocket`); the handler results and the
// response constructors; errors. Importing it loads no native code: HTTP/3 loads when
// first used. Building blocks live in subpaths: omniws/protocol (the sans-I/O core,
// validators, Session and Transport, deflate), omniws/h3 (HTTP/3 and QUIC), omniws/dev
// (certificates, the interop server), omniws/scale (topics across processes: Redis).
// docs/api.md lists the whole surface.

export type { AgentOptions } from './client/agent.js';
export { Agent, globalAgent } from './client/agent.js';
export type { ConnectOptions, HttpChoice } from './client/connect.js';
export { connect } from './client/connect.js';
export type { HeartbeatOptions } from './client/heartbeat.js';
export type { ClientConnectOptions, ClientHandler } from './client/lifecycle.js';
export { ClientConnection, connectClient } from './client/lifecycle.js';
export type { ReconnectOptions, RetryDecision, RetryReason } from './client/reconnect.js';
export { defaultShouldRetry, ReconnectPolicy } from './client/reconnect.js';
export type { RecoveryInfo } from './client/resume.js';
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
// the 0.1 names kept, deprecated, for one minor version
export * from './exports/deprecated.js';
export { H3Error, QpackError } from './h3/errors.js';
export type { QuicSettings } from './h3/quic.js';
export type { WtCloseInfo, WtSession as WebTransportSession } from './h3/wt-session.js';
export type { WtStream as WebTransportStream } from './h3/wt-stream.js';
export type { AnyNodeServer, AttachOptions } from './server/attach.js';
export { attach } from './server/attach.js';
export type { AttachedServer, Server } from './server/context.js';
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
  WebTransportHandler,
  WebTransportResponse,
} from './server/handler.js';
export { buffered, file, loop, stream, websocket } from './server/handler.js';
export type { RouteDecision, ServerOptions } from './server/options.js';
export type { ServeOptions, ServerTls } from './server/serve.js';
export { serve } from './server/serve.js';
export type {
  WebTransportAnswerOptions,
  WebTransportServerOptions,
} from './server/webtransport.js';
export { webtransport } from './server/webtransport.js';
export { CloseCode, isValidWireCloseCode } from './ws/close.js';
export type { DeflateOptions } from './ws/deflate.js';
export { DEFLATE_LEAN } from './ws/deflate.js';
export type { ErrorCode, HandshakeResponse } from './ws/errors.js';
export { WebSocketError } from './ws/errors.js';
export type {
  CloseKind,
  CloseReason,
  Control,
  Handler,
  Message,
  OutFrame,
  PublishOptions,
  Result,
  SessionApi,
  SubscribeOptions,
  TopicData,
  UpgradeRequest,
} from './ws/handler.js';
export { ok, reply, stop } from './ws/handler.js';
export type { ExtensionOffer } from './ws/headers.js';
export type { NegotiationOptions } from './ws/negotiate.js';
export type { Limits, SessionOptions } from './ws/session.js';
export { Session } from './ws/session.js';
export type {
  AdapterHub,
  RemoteMessage,
  TopicDrop,
  TopicStats,
  TopicsAdapter,
  TopicsOptions,
} from './ws/topics.js';
export { Topics } from './ws/topics.js';
export type { HttpVersion, PathStats } from './ws/transport.js';
