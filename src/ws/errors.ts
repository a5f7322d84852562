// The one error type of omniws. Every error carries a stable `code` (WS_ERR_…,
// documented in docs/errors.md) and, when it is a protocol error, the close code
// it maps to (RFC 6455 §7.4.1). Callers branch on `code`, never on `message`.

/**
 * Every stable `code` a WebSocketError can carry (docs/errors.md): branch on it, never on the
 * message.
 */
export type ErrorCode =
  // frame codec (received frames)
  | 'WS_ERR_INVALID_OPCODE'
  | 'WS_ERR_UNEXPECTED_RSV'
  | 'WS_ERR_EXPECTED_MASK'
  | 'WS_ERR_UNEXPECTED_MASK'
  | 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'
  | 'WS_ERR_FRAGMENTED_CONTROL'
  | 'WS_ERR_INVALID_PAYLOAD_LENGTH'
  | 'WS_ERR_UNEXPECTED_CONTINUATION'
  | 'WS_ERR_EXPECTED_CONTINUATION'
  | 'WS_ERR_FRAME_TOO_BIG'
  | 'WS_ERR_MESSAGE_TOO_BIG'
  | 'WS_ERR_INVALID_UTF8'
  | 'WS_ERR_INVALID_CLOSE_PAYLOAD'
  | 'WS_ERR_INVALID_CLOSE_CODE'
  | 'WS_ERR_INVALID_CLOSE_REASON'
  | 'WS_ERR_DECOMPRESSION'
  // application misuse (never sent on the wire)
  | 'WS_ERR_CLOSE_CODE_NOT_ALLOWED'
  | 'WS_ERR_CLOSE_REASON_TOO_LONG'
  | 'WS_ERR_CONTROL_PAYLOAD_TOO_BIG'
  | 'WS_ERR_INVALID_STATE'
  | 'WS_ERR_INVALID_ARGUMENT'
  // session
  | 'WS_ERR_HANDLER'
  | 'WS_ERR_CLOSE_TIMEOUT'
  | 'WS_ERR_CONNECTION_LOST'
  | 'WS_ERR_TRANSPORT'
  | 'WS_ERR_SLOW_CONSUMER'
  // client lifecycle (src/client)
  | 'WS_ERR_HEARTBEAT_TIMEOUT'
  | 'WS_ERR_QUEUE_FULL'
  // handshake
  | 'WS_ERR_HANDSHAKE'
  | 'WS_ERR_CERTIFICATE'
  | 'WS_ERR_HANDSHAKE_TIMEOUT'
  | 'WS_ERR_DECISION_TIMEOUT'
  | 'WS_ERR_HANDSHAKE_STATUS'
  | 'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED'
  | 'WS_ERR_INVALID_URL'
  // HTTP/3 and QPACK
  | 'WS_ERR_HTTP3_UNAVAILABLE'
  | 'H3_ERR'
  | 'QPACK_ERR'
  // the request handler (src/http)
  | 'HTTP_ERR_INVALID_HEADER'
  | 'HTTP_ERR_BODY_TOO_LARGE'
  | 'HTTP_ERR_ABORTED';

/** What a client saw of a response that refused its handshake. */
export interface HandshakeResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The one error type of omniws: a stable `code`, and the close code or HTTP status it maps to. */
export class WebSocketError extends Error {
  readonly code: ErrorCode;
  /** Close code this error maps to when it ends a WebSocket (1002, 1007, 1009, 1011…). */
  readonly closeCode: number | undefined;
  /** HTTP status for handshake errors. */
  readonly status: number | undefined;
  /** The response of a refused handshake (WS_ERR_HANDSHAKE_STATUS): a 401's www-authenticate, a 503's retry-after. */
  readonly response: HandshakeResponse | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: {
      closeCode?: number;
      status?: number;
      cause?: unknown;
      response?: HandshakeResponse;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'WebSocketError';
    this.code = code;
    this.closeCode = opts.closeCode;
    this.status = opts.status;
    this.response = opts.response;
  }
}

/** A protocol violation by the peer: closes the connection with `closeCode`. */
export function protocolError(code: ErrorCode, message: string, closeCode = 1002): WebSocketError {
  return new WebSocketError(code, message, { closeCode });
}

/** The client's opening handshake did not complete within `ms` (h1, h2 and h3 alike). */
export function handshakeTimeoutError(ms: number): WebSocketError {
  return new WebSocketError(
    'WS_ERR_HANDSHAKE_TIMEOUT',
    `opening handshake timed out after ${ms} ms`,
  );
}

/**
 * A 1006 error about the connection (the peer vanished, the socket failed). Its stack
 * would show only the session's event handling, and capturing it was a visible part of
 * the cost of a connection that ends in a reset: none is captured.
 */
export function connectionError(code: ErrorCode, message: string, cause?: Error): WebSocketError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new WebSocketError(code, message, {
      closeCode: 1006,
      ...(cause !== undefined && { cause }),
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A message extension (permessage-deflate) failed to decode: 1007, unless it said otherwise. */
export function extensionError(err: unknown): WebSocketError {
  if (err instanceof WebSocketError) return err;
  return new WebSocketError('WS_ERR_DECOMPRESSION', `extension failed: ${(err as Error).message}`, {
    closeCode: 1007,
    cause: err,
  });
}
