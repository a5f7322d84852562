// Close codes and close frame payloads (RFC 6455 §5.5.1, §7.4, and the IANA
// "WebSocket Close Code Number Registry").
//
// Two directions, two rules: a code we receive is checked against what may appear
// on the wire (bad → 1002); a code the application asks us to send is checked the
// same way, but a bad one is the caller's error, returned to it, never sent.

import { WebSocketError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

/** Close status codes by name (RFC 6455 §7.4.1, and 1012–1014 from the IANA registry). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved; never on the wire. */
  NoStatus: 1005,
  /** Reserved; never on the wire: the connection closed without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved; never on the wire: TLS handshake failure. */
  TlsHandshake: 1015,
} as const;

/**
 * Whether `code` may appear in a close frame on the wire: 1000–1003, 1007–1014
 * (1012–1014 registered with IANA after RFC 6455) and 3000–4999. Never 1004,
 * 1005, 1006 or 1015 (RFC 6455 §7.4.1: "MUST NOT be set as a status code in a
 * Close control frame by an endpoint").
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) ||
      (code >= 1007 && code <= 1014) ||
      (code >= 3000 && code <= 4999))
  );
}

const encoder = new TextEncoder();

/** Longest close reason: 125 bytes of payload minus 2 for the code. */
export const MAX_CLOSE_REASON = 123;

/** A decoded close frame payload (RFC 6455 §5.5.1): the code (1005 when none) and the reason. */
export interface ClosePayload {
  /** 1005 when the frame carried no code. */
  code: number;
  reason: string;
}

/**
 * Build the payload of a close frame the application asked for. Throws a
 * WebSocketError (WS_ERR_CLOSE_CODE_NOT_ALLOWED / WS_ERR_CLOSE_REASON_TOO_LONG /
 * WS_ERR_INVALID_ARGUMENT) for anything that may not go on the wire.
 */
export function encodeClosePayload(code?: number, reason?: string): Uint8Array {
  if (code === undefined) {
    if (reason !== undefined && reason !== '') {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'a close reason needs a close code');
    }
    return new Uint8Array(0);
  }
  if (!isValidWireCloseCode(code)) {
    throw new WebSocketError(
      'WS_ERR_CLOSE_CODE_NOT_ALLOWED',
      `close code ${code} may not be sent (allowed: 1000-1003, 1007-1014, 3000-4999)`,
    );
  }
  const r = reason === undefined ? new Uint8Array(0) : encoder.encode(reason);
  if (r.length > MAX_CLOSE_REASON) {
    throw new WebSocketError(
      'WS_ERR_CLOSE_REASON_TOO_LONG',
      `close reason of ${r.length} bytes above ${MAX_CLOSE_REASON}`,
    );
  }
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** Check a close code/reason pair without building the payload. */
export function validateClose(code?: number, reason?: string): void {
  encodeClosePayload(code, reason);
}

/**
 * Parse a received close frame payload. Throws a WebSocketError whose
 * `closeCode` says how to fail the connection (1002 or 1007).
 */
export function decodeClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  // RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a
  // 2-byte unsigned integer … representing a status code"
  if (payload.length === 1) {
    throw new WebSocketError('WS_ERR_INVALID_CLOSE_PAYLOAD', 'close payload of 1 byte', {
      closeCode: 1002,
    });
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    throw new WebSocketError('WS_ERR_INVALID_CLOSE_CODE', `invalid close code ${code} received`, {
      closeCode: 1002,
    });
  }
  const r = payload.subarray(2);
  if (!isValidUtf8(r)) {
    throw new WebSocketError('WS_ERR_INVALID_CLOSE_REASON', 'close reason is not valid UTF-8', {
      closeCode: 1007,
    });
  }
  return { code, reason: Buffer.from(r.buffer, r.byteOffset, r.length).toString('utf8') };
}
