// omniws/h3: HTTP/3 (RFC 9114, QPACK RFC 9204) and WebSockets over it (RFC 9220), on
// quiche's native QUIC binding. Importing this subpath loads the binding; where its
// prebuilt binary does not exist the import fails, while the rest of omniws works.

export type { H3ClientOptions } from '../h3/client.js';
export { closeH3Connections, connectH3, h3PoolSize } from '../h3/client.js';
export type { H3CloseInfo, H3ConnectionOptions } from '../h3/connection.js';
export { DEFAULT_MAX_FIELD_SECTION_SIZE, H3Connection } from '../h3/connection.js';
export * from '../h3/errors.js';
export type { H3FetchOptions, H3FetchResponse } from '../h3/fetch.js';
export { fetchH3 } from '../h3/fetch.js';
export type { QuicCloseInfo, QuicConnection, QuicSettings } from '../h3/quic.js';
export { describeClose } from '../h3/quic.js';
export type { SessionTicketStore } from '../h3/tickets.js';
export { fileTicketStore } from '../h3/tickets.js';
export type {
  WebTransportBidirectionalStream,
  WebTransportCloseInfo,
  WebTransportCongestionControl,
  WebTransportConnectionStats,
  WebTransportDatagramDuplexStream,
  WebTransportDatagramStats,
  WebTransportOptions,
} from '../h3/wt-client.js';
export { WebTransport, WebTransportError } from '../h3/wt-client.js';
export type { WtSessionLimits } from '../h3/wt-session.js';
export { WtWireError } from '../h3/wt-wire.js';
export type { H3Listener, H3ListenOptions, H3Request } from '../server/h3-server.js';
export { listenH3 } from '../server/h3-server.js';
