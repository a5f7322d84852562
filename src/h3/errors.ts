// HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6) and the error type the
// h3 codec throws. An H3Error carries the wire code (`h3Code`) the connection or
// stream is to be closed or reset with, and whether it is a connection error or a
// stream error (RFC 9114 §8). Callers catch `H3Error`, never parse `message`.
// QpackError is the QPACK flavour (`code` 'QPACK_ERR'); it is an H3Error too.

import { WebSocketError } from '../ws/errors.js';

export const H3_NO_ERROR = 0x0100;
export const H3_GENERAL_PROTOCOL_ERROR = 0x0101;
export const H3_INTERNAL_ERROR = 0x0102;
export const H3_STREAM_CREATION_ERROR = 0x0103;
export const H3_CLOSED_CRITICAL_STREAM = 0x0104;
export const H3_FRAME_UNEXPECTED = 0x0105;
export const H3_FRAME_ERROR = 0x0106;
export const H3_EXCESSIVE_LOAD = 0x0107;
export const H3_ID_ERROR = 0x0108;
export const H3_SETTINGS_ERROR = 0x0109;
export const H3_MISSING_SETTINGS = 0x010a;
export const H3_REQUEST_REJECTED = 0x010b;
export const H3_REQUEST_CANCELLED = 0x010c;
export const H3_REQUEST_INCOMPLETE = 0x010d;
export const H3_MESSAGE_ERROR = 0x010e;
export const H3_CONNECT_ERROR = 0x010f;
export const H3_VERSION_FALLBACK = 0x0110;

export const QPACK_DECOMPRESSION_FAILED = 0x0200;
export const QPACK_ENCODER_STREAM_ERROR = 0x0201;
export const QPACK_DECODER_STREAM_ERROR = 0x0202;

const NAMES: ReadonlyMap<number, string> = new Map([
  [H3_NO_ERROR, 'H3_NO_ERROR'],
  [H3_GENERAL_PROTOCOL_ERROR, 'H3_GENERAL_PROTOCOL_ERROR'],
  [H3_INTERNAL_ERROR, 'H3_INTERNAL_ERROR'],
  [H3_STREAM_CREATION_ERROR, 'H3_STREAM_CREATION_ERROR'],
  [H3_CLOSED_CRITICAL_STREAM, 'H3_CLOSED_CRITICAL_STREAM'],
  [H3_FRAME_UNEXPECTED, 'H3_FRAME_UNEXPECTED'],
  [H3_FRAME_ERROR, 'H3_FRAME_ERROR'],
  [H3_EXCESSIVE_LOAD, 'H3_EXCESSIVE_LOAD'],
  [H3_ID_ERROR, 'H3_ID_ERROR'],
  [H3_SETTINGS_ERROR, 'H3_SETTINGS_ERROR'],
  [H3_MISSING_SETTINGS, 'H3_MISSING_SETTINGS'],
  [H3_REQUEST_REJECTED, 'H3_REQUEST_REJECTED'],
  [H3_REQUEST_CANCELLED, 'H3_REQUEST_CANCELLED'],
  [H3_REQUEST_INCOMPLETE, 'H3_REQUEST_INCOMPLETE'],
  [H3_MESSAGE_ERROR, 'H3_MESSAGE_ERROR'],
  [H3_CONNECT_ERROR, 'H3_CONNECT_ERROR'],
  [H3_VERSION_FALLBACK, 'H3_VERSION_FALLBACK'],
  [QPACK_DECOMPRESSION_FAILED, 'QPACK_DECOMPRESSION_FAILED'],
  [QPACK_ENCODER_STREAM_ERROR, 'QPACK_ENCODER_STREAM_ERROR'],
  [QPACK_DECODER_STREAM_ERROR, 'QPACK_DECODER_STREAM_ERROR'],
]);

/**
 * Name of an HTTP/3 error code for logs, e.g. `H3_FRAME_ERROR`, or `0x…` for codes
 * we do not know. RFC 9114 §8: "receipt of an unknown error code MUST be treated as
 * equivalent to H3_NO_ERROR" — that is for the caller to apply; this only names.
 */
export function h3ErrorName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/** Whether an error ends the whole connection or only resets one stream (RFC 9114 §8). */
export type H3ErrorScope = 'connection' | 'stream';

/**
 * An HTTP/3 or QPACK violation, with the code to close the connection or reset the stream with (RFC
 * 9114 §8).
 */
export class H3Error extends WebSocketError {
  /** The HTTP/3 application error code to close the connection or reset the stream with. */
  readonly h3Code: number;
  readonly scope: H3ErrorScope;

  constructor(
    h3Code: number,
    message: string,
    opts: { scope?: H3ErrorScope; cause?: unknown; code?: 'H3_ERR' | 'QPACK_ERR' } = {},
  ) {
    super(opts.code ?? 'H3_ERR', `${h3ErrorName(h3Code)}: ${message}`, { cause: opts.cause });
    this.name = 'H3Error';
    this.h3Code = h3Code;
    this.scope = opts.scope ?? 'connection';
  }
}

/** A QPACK failure: decompression, encoder stream or decoder stream (RFC 9204 §6). */
export class QpackError extends H3Error {
  constructor(
    h3Code: number,
    message: string,
    opts: { scope?: H3ErrorScope; cause?: unknown } = {},
  ) {
    super(h3Code, message, { ...opts, code: 'QPACK_ERR' });
    this.name = 'QpackError';
  }
}
