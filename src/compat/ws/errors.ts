// Errors as ws reports them. A protocol error of the peer becomes ws's RangeError (or
// Error for UTF-8) with ws's `code` (doc/ws.md "Error codes"), the engine's error as its
// `cause`; errors of the connection itself (a reset, a lost peer) are not reported, as ws
// does not re-emit socket errors; a failed handshake becomes ws's message.

import type { CloseReason } from '../../ws/handler.js';

/** An Error with ws's `code` and the engine's error as its cause. */
export type WsError = Error & { code?: string };

/** The engine's codes for the peer's protocol errors → ws's codes. */
const CODES: Record<string, string> = {
  WS_ERR_INVALID_OPCODE: 'WS_ERR_INVALID_OPCODE',
  WS_ERR_EXPECTED_MASK: 'WS_ERR_EXPECTED_MASK',
  WS_ERR_UNEXPECTED_MASK: 'WS_ERR_UNEXPECTED_MASK',
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  // ws: "FIN must be set" on a control frame
  WS_ERR_FRAGMENTED_CONTROL: 'WS_ERR_EXPECTED_FIN',
  WS_ERR_INVALID_PAYLOAD_LENGTH: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
  // ws: "invalid opcode 0" / "invalid opcode 1" for a misplaced continuation or data frame
  WS_ERR_UNEXPECTED_CONTINUATION: 'WS_ERR_INVALID_OPCODE',
  WS_ERR_EXPECTED_CONTINUATION: 'WS_ERR_INVALID_OPCODE',
  WS_ERR_FRAME_TOO_BIG: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  WS_ERR_MESSAGE_TOO_BIG: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  WS_ERR_INVALID_UTF8: 'WS_ERR_INVALID_UTF8',
  WS_ERR_INVALID_CLOSE_PAYLOAD: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
  WS_ERR_INVALID_CLOSE_CODE: 'WS_ERR_INVALID_CLOSE_CODE',
  WS_ERR_INVALID_CLOSE_REASON: 'WS_ERR_INVALID_UTF8',
};

/** Errors about the connection, not the peer's frames: ws does not emit them. */
const SILENT = new Set(['WS_ERR_CONNECTION_LOST', 'WS_ERR_TRANSPORT', 'WS_ERR_CLOSE_TIMEOUT']);

/** An Error with a `code`, made without `new` at every call site. */
export function wsError(message: string, code?: string, cause?: unknown, range = false): WsError {
  const err: WsError = range
    ? new RangeError(message, cause === undefined ? undefined : { cause })
    : new Error(message, cause === undefined ? undefined : { cause });
  if (code !== undefined) err.code = code;
  return err;
}

/**
 * What ws would emit as 'error' for how a session ended, or undefined: protocol errors
 * of the peer, a listener that threw (its own error), a permessage-deflate failure.
 * `negotiated`: extensions were agreed (an unexpected RSV bit is then RSV2/RSV3).
 */
export function errorOf(r: CloseReason, negotiated: boolean): Error | undefined {
  if (r.kind !== 'error' || r.error === undefined) return undefined;
  const e = r.error as Error & { code?: string; cause?: unknown };
  const code = e.code ?? '';
  if (SILENT.has(code)) return undefined;
  // a listener of ours threw: that is the error the application should see
  if (code === 'WS_ERR_HANDLER' && e.cause instanceof Error) return e.cause;
  if (code === 'WS_ERR_UNEXPECTED_RSV') {
    const wsCode = negotiated ? 'WS_ERR_UNEXPECTED_RSV_2_3' : 'WS_ERR_UNEXPECTED_RSV_1';
    return wsError(`Invalid WebSocket frame: ${e.message}`, wsCode, e, true);
  }
  const wsCode = CODES[code];
  if (wsCode === undefined) return e;
  const utf8 = wsCode === 'WS_ERR_INVALID_UTF8';
  return wsError(`Invalid WebSocket frame: ${e.message}`, wsCode, e, !utf8);
}

/**
 * A failed handshake (HTTP/2 and HTTP/3, from connect()) as ws reports one: a socket or
 * TLS error as node gave it, ws's message for a timeout or an unexpected status.
 */
export function handshakeErrorOf(err: unknown): Error {
  const e = err as Error & { code?: string; cause?: unknown; status?: number };
  if (e?.code === 'WS_ERR_HANDSHAKE_TIMEOUT') {
    return wsError('Opening handshake has timed out', undefined, e);
  }
  if (e?.code === 'WS_ERR_HANDSHAKE_STATUS') {
    return wsError(`Unexpected server response: ${e.status}`, undefined, e);
  }
  if (
    (e?.code === 'WS_ERR_HANDSHAKE' || e?.code === 'WS_ERR_CERTIFICATE') &&
    e.cause instanceof Error
  ) {
    return e.cause;
  }
  return e instanceof Error ? e : new Error(String(err));
}
