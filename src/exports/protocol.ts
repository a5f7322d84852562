// omniws/protocol: the building blocks under the root API. The sans-I/O core (bytes in,
// events and bytes out: no sockets, no timers), the RFC 6455 frame codec, the handshake
// validators and request builders of all three HTTP versions with their result types,
// Session and the Transport contract it runs over, permessage-deflate, and the
// per-version servers and clients with their pools. Importing it loads no native code.

// per-version servers and clients (serve, attach and connect choose among them)
export type { ClientOptions, ParsedUrl } from '../h1/client.js';
export { connectH1, parseWsUrl } from '../h1/client.js';
export type { ClientHandshakeOptions, H1RequestHead } from '../h1/upgrade.js';
export {
  acceptKey,
  buildH1Request,
  GUID,
  validateH1Request,
  validateH1Response,
} from '../h1/upgrade.js';
export type { H2ClientOptions } from '../h2/client.js';
export { closeH2Sessions, connectH2 } from '../h2/client.js';
export {
  buildH2Request,
  classifyH2Request,
  validateH2Request,
  validateH2Response,
} from '../h2/upgrade.js';
export type { Header } from '../h3/qpack.js';
export type { H3Headers, MessageCheck } from '../h3/upgrade.js';
export {
  buildH3Request,
  checkH3Request,
  checkH3Response,
  classifyH3Request,
  validateH3Request,
  validateH3Response,
} from '../h3/upgrade.js';
export type { Listener, ListenOptions } from '../server/h1-server.js';
export { attachH1, listen } from '../server/h1-server.js';
export type {
  H2Listener,
  H2ListenOptions,
  H2Options,
  H2RequestListener,
} from '../server/h2-server.js';
export {
  attachH2,
  DEFAULT_CONNECTION_WINDOW_SIZE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  listenH2,
} from '../server/h2-server.js';
export type { SessionRegistry } from '../server/registry.js';
// the sans-I/O protocol and the frame codec
export type { ClosePayload } from '../ws/close.js';
export {
  decodeClosePayload,
  encodeClosePayload,
  MAX_CLOSE_REASON,
  validateClose,
} from '../ws/close.js';
// permessage-deflate (RFC 7692)
export type {
  ClientExtensionOptions,
  ClientExtensions,
  DeflateOptions,
  DeflateParams,
  PerMessageDeflateInit,
} from '../ws/deflate.js';
export {
  acceptDeflateResponse,
  buildDeflateOffer,
  clientExtensions,
  DEFLATE_LEAN,
  negotiateDeflateServer,
  PerMessageDeflate,
} from '../ws/deflate.js';
export type {
  ConnectKind,
  ExtendedConnectOptions,
  ExtendedConnectTarget,
} from '../ws/extended-connect.js';
export { isConnectionSpecific } from '../ws/extended-connect.js';
export type { EncodedMessage, MessageExtension } from '../ws/extensions.js';
export type {
  DecoderOptions,
  EncodeOptions,
  FrameHeader,
  FrameSink,
  MaskSource,
  Role,
} from '../ws/frame.js';
export {
  DEFAULT_MAX_FRAME,
  DEFAULT_MAX_MESSAGE,
  encodeFrame,
  FrameDecoder,
  Opcode,
  unmask,
} from '../ws/frame.js';
// handshakes: validators (servers) and builders (clients) per HTTP version
export type { ExtensionOffer } from '../ws/headers.js';
export { formatExtension, parseExtensions, parseSubprotocols } from '../ws/headers.js';
export type {
  NegotiationOptions,
  RawHeaders,
  ResponseCheckOptions,
  ResponseResult,
  UpgradeInfo,
  UpgradeResult,
} from '../ws/negotiate.js';
export type { ProtocolOptions, ProtocolSink, ProtocolState } from '../ws/protocol.js';
export { Protocol, randomMask } from '../ws/protocol.js';
export type { SessionInit } from '../ws/session.js';
export { Session } from '../ws/session.js';
// the session and its transport
export type { Limits, SessionOptions } from '../ws/session-options.js';
export type { HttpVersion, Transport, TransportInfo, TransportSink } from '../ws/transport.js';
export { isValidUtf8, Utf8Validator } from '../ws/utf8.js';
