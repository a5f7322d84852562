// HTTP/3 framing (RFC 9114 §7): constants, frame encoders, an incremental frame
// decoder and the frame-order rules of control and request streams.
//
// FrameDecoder takes a stream's bytes in chunks of any size and returns events. DATA
// payloads stream through as views of the input chunks (never buffered; the caller must
// not reuse an input buffer while it still holds the events); the other frames are
// buffered whole, up to `maxFrameSize`, and returned parsed. Unknown and reserved frame
// types are skipped without buffering, reported as an 'unknown' event. Give the decoder
// a ControlStreamValidator or RequestStreamValidator and each frame type is checked from
// its header, before any of its payload is read. Call `end()` at the stream's FIN.
// Violations throw an H3Error carrying the RFC 9114 §8.1 code.

import { WebSocketError } from '../ws/errors.js';
import {
  H3_CLOSED_CRITICAL_STREAM,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_ID_ERROR,
  H3_MESSAGE_ERROR,
  H3_MISSING_SETTINGS,
  H3_REQUEST_INCOMPLETE,
  H3_SETTINGS_ERROR,
  H3Error,
} from './errors.js';
import { decodeVarint, decodeVarintBig, varintLength, writeVarint } from './varint.js';

export {
  H3_CLOSED_CRITICAL_STREAM,
  H3_CONNECT_ERROR,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_GENERAL_PROTOCOL_ERROR,
  H3_ID_ERROR,
  H3_INTERNAL_ERROR,
  H3_MESSAGE_ERROR,
  H3_MISSING_SETTINGS,
  H3_NO_ERROR,
  H3_REQUEST_CANCELLED,
  H3_REQUEST_INCOMPLETE,
  H3_REQUEST_REJECTED,
  H3_SETTINGS_ERROR,
  H3_STREAM_CREATION_ERROR,
  H3_VERSION_FALLBACK,
  QPACK_DECODER_STREAM_ERROR,
  QPACK_DECOMPRESSION_FAILED,
  QPACK_ENCODER_STREAM_ERROR,
} from './errors.js';

// Frame types (RFC 9114 §7.2)
export const FRAME_DATA = 0x00;
export const FRAME_HEADERS = 0x01;
export const FRAME_CANCEL_PUSH = 0x03;
export const FRAME_SETTINGS = 0x04;
export const FRAME_PUSH_PROMISE = 0x05;
export const FRAME_GOAWAY = 0x07;
export const FRAME_MAX_PUSH_ID = 0x0d;

// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2)
export const STREAM_CONTROL = 0x00;
export const STREAM_PUSH = 0x01;
export const STREAM_QPACK_ENCODER = 0x02;
export const STREAM_QPACK_DECODER = 0x03;

// Settings (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §3, RFC 9297 §2.1.1)
export const SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01;
export const SETTINGS_MAX_FIELD_SECTION_SIZE = 0x06;
export const SETTINGS_QPACK_BLOCKED_STREAMS = 0x07;
export const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x08;
export const SETTINGS_H3_DATAGRAM = 0x33;

/** Default bound on a buffered (non-DATA) frame's payload. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

/**
 * Whether a frame type, stream type, setting or error code is of the reserved form
 * `0x1f * N + 0x21` (RFC 9114 §7.2.8, §6.2.3, §7.2.4.1, §8.1). Exact for bigint and
 * for numbers up to 2^53-1.
 */
export function isReserved(value: number | bigint): boolean {
  if (typeof value === 'bigint') return value >= 0x21n && (value - 0x21n) % 0x1fn === 0n;
  return value >= 0x21 && (value - 0x21) % 0x1f === 0;
}

/**
 * Setting identifiers to values. Values above 2^53-1 are stored as
 * Number.MAX_SAFE_INTEGER (for a size limit that means "unlimited"); identifiers above
 * 2^53-1 can only be unknown ones and are left out.
 */
export type Settings = Map<number, number>;

export type FrameEvent =
  /**
   * A piece of a DATA frame's payload, a view of the input; `last` on the frame's final
   * piece. An empty DATA frame gives one empty, last piece.
   */
  | { type: 'data'; chunk: Uint8Array; last: boolean }
  | { type: 'headers'; fieldSection: Uint8Array }
  | { type: 'settings'; settings: Settings }
  | { type: 'goaway'; id: bigint }
  | { type: 'cancelPush'; pushId: bigint }
  | { type: 'maxPushId'; pushId: bigint }
  | { type: 'pushPromise'; pushId: bigint; fieldSection: Uint8Array }
  /**
   * A frame of unknown or reserved type, whose payload is skipped unread. Types above
   * 2^53-1 are rounded to the nearest double.
   */
  | { type: 'unknown'; frameType: number; length: number };

/** Frame-order rules for one stream, called by FrameDecoder. */
export interface FrameValidator {
  /**
   * A frame header was read; its payload was not. Types above 2^53-1 arrive rounded to
   * the nearest double (never equal to a known type).
   */
  frameStart(type: number, length: number): void;
  /** A whole non-DATA frame was parsed, before it is returned. */
  frame?(event: FrameEvent): void;
  /** The stream ended cleanly at a frame boundary. */
  end?(): void;
}

export interface FrameDecoderOptions {
  /** Largest payload accepted for a buffered frame (all but DATA and unknown types). */
  maxFrameSize?: number;
  validator?: FrameValidator;
}

const EMPTY = new Uint8Array(0);

const S_HEADER = 0;
const S_DATA = 1;
const S_SKIP = 2;
const S_PAYLOAD = 3;

function frameError(message: string): H3Error {
  return new H3Error(H3_FRAME_ERROR, message);
}

function unexpected(message: string): H3Error {
  return new H3Error(H3_FRAME_UNEXPECTED, message);
}

interface FrameHeader {
  type: number;
  length: number;
  size: number;
}

/** Type and Length at `off`, or null if `buf` ends inside them. */
function readFrameHeader(buf: Uint8Array, off: number): FrameHeader | null {
  if (off >= buf.length) return null;
  const typeSize = 1 << (buf[off]! >> 6);
  if (off + typeSize >= buf.length) return null;
  const lengthSize = 1 << (buf[off + typeSize]! >> 6);
  if (off + typeSize + lengthSize > buf.length) return null;
  const type =
    typeSize === 8 ? Number(decodeVarintBig(buf, off)!.value) : decodeVarint(buf, off)!.value;
  // A length above 2^53-1 throws H3_EXCESSIVE_LOAD: no frame that large can be received.
  const length = decodeVarint(buf, off + typeSize)!.value;
  return { type, length, size: typeSize + lengthSize };
}

/** Incremental decoder of the frames on one stream (after any stream-type header). */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  readonly #validator: FrameValidator | undefined;
  #state = S_HEADER;
  /** A frame header split across chunks: at most 8 + 8 bytes. */
  readonly #header = new Uint8Array(16);
  #headerLength = 0;
  #type = 0;
  /** Payload bytes still to come in S_DATA, S_SKIP and S_PAYLOAD. */
  #remaining = 0;
  /** A buffered frame's payload, allocated when its first byte arrives. */
  #payload: Uint8Array = EMPTY;
  #payloadLength = 0;
  #failed: unknown;

  constructor(opts: FrameDecoderOptions = {}) {
    this.#maxFrameSize = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#validator = opts.validator;
  }

  /** Whether the input so far ends at a frame boundary. */
  get atBoundary(): boolean {
    return this.#state === S_HEADER && this.#headerLength === 0;
  }

  /** Feeds stream bytes; returns the events they complete, in order. */
  push(chunk: Uint8Array): FrameEvent[] {
    if (this.#failed !== undefined) throw this.#failed;
    const events: FrameEvent[] = [];
    try {
      let off = 0;
      const len = chunk.length;
      while (off < len) {
        switch (this.#state) {
          case S_HEADER:
            off = this.#readHeader(chunk, off, events);
            break;
          case S_DATA: {
            const n = Math.min(this.#remaining, len - off);
            this.#remaining -= n;
            const last = this.#remaining === 0;
            events.push({ type: 'data', chunk: chunk.subarray(off, off + n), last });
            off += n;
            if (last) this.#state = S_HEADER;
            break;
          }
          case S_SKIP: {
            const n = Math.min(this.#remaining, len - off);
            this.#remaining -= n;
            off += n;
            if (this.#remaining === 0) this.#state = S_HEADER;
            break;
          }
          default: {
            const n = Math.min(this.#remaining, len - off);
            const filled = this.#payloadLength - this.#remaining;
            if (filled === 0 && n === this.#remaining) {
              this.#payload = chunk.slice(off, off + n);
            } else {
              if (filled === 0) this.#payload = new Uint8Array(this.#payloadLength);
              this.#payload.set(chunk.subarray(off, off + n), filled);
            }
            this.#remaining -= n;
            off += n;
            if (this.#remaining === 0) this.#finishFrame(events);
          }
        }
      }
    } catch (err) {
      this.#failed = err;
      throw err;
    }
    return events;
  }

  /**
   * The stream ended cleanly (FIN). RFC 9114 §7.1: "When a stream terminates cleanly, if
   * the last frame on the stream was truncated, this MUST be treated as a connection
   * error of type H3_FRAME_ERROR." Then the validator's own end rule applies.
   */
  end(): void {
    if (this.#failed !== undefined) throw this.#failed;
    if (!this.atBoundary) {
      this.#failed = new H3Error(H3_FRAME_ERROR, 'stream ended inside a frame');
      throw this.#failed;
    }
    this.#validator?.end?.();
  }

  #readHeader(chunk: Uint8Array, off: number, events: FrameEvent[]): number {
    if (this.#headerLength === 0) {
      const h = readFrameHeader(chunk, off);
      if (h !== null) {
        this.#startFrame(h.type, h.length, events);
        return off + h.size;
      }
      // Fewer than 16 bytes remain, or the header would have been complete.
      this.#header.set(chunk.subarray(off), 0);
      this.#headerLength = chunk.length - off;
      return chunk.length;
    }
    const take = Math.min(this.#header.length - this.#headerLength, chunk.length - off);
    this.#header.set(chunk.subarray(off, off + take), this.#headerLength);
    const h = readFrameHeader(this.#header.subarray(0, this.#headerLength + take), 0);
    if (h === null) {
      this.#headerLength += take;
      return off + take;
    }
    const used = h.size - this.#headerLength;
    this.#headerLength = 0;
    this.#startFrame(h.type, h.length, events);
    return off + used;
  }

  #startFrame(type: number, length: number, events: FrameEvent[]): void {
    if (type === 0x02 || type === 0x06 || type === 0x08 || type === 0x09) {
      // RFC 9114 §7.2.8: "Frame types that were used in HTTP/2 where there is no
      // corresponding HTTP/3 frame have also been reserved. These frame types MUST NOT be
      // sent, and their receipt MUST be treated as a connection error of type
      // H3_FRAME_UNEXPECTED."
      throw unexpected(`HTTP/2 frame type 0x${type.toString(16)}`);
    }
    this.#validator?.frameStart(type, length);
    this.#type = type;
    switch (type) {
      case FRAME_DATA:
        if (length === 0) {
          events.push({ type: 'data', chunk: EMPTY, last: true });
        } else {
          this.#state = S_DATA;
          this.#remaining = length;
        }
        return;
      case FRAME_HEADERS:
      case FRAME_SETTINGS:
      case FRAME_PUSH_PROMISE:
        if (length > this.#maxFrameSize) {
          throw new H3Error(
            H3_EXCESSIVE_LOAD,
            `frame of type 0x${type.toString(16)} with ${length} bytes exceeds our limit of ${this.#maxFrameSize}`,
          );
        }
        break;
      case FRAME_GOAWAY:
      case FRAME_CANCEL_PUSH:
      case FRAME_MAX_PUSH_ID:
        // Each carries exactly one varint. RFC 9114 §7.1: "A frame payload that contains
        // additional bytes after the identified fields or a frame payload that terminates
        // before the end of the identified fields MUST be treated as a connection error of
        // type H3_FRAME_ERROR."
        if (length === 0 || length > 8) {
          throw frameError(`frame of type 0x${type.toString(16)} with length ${length}`);
        }
        break;
      default:
        // RFC 9114 §9: "Implementations MUST ignore unknown or unsupported values in all
        // extensible protocol elements." This covers the reserved 0x1f * N + 0x21 types.
        events.push({ type: 'unknown', frameType: type, length });
        if (length > 0) {
          this.#state = S_SKIP;
          this.#remaining = length;
        }
        return;
    }
    this.#payloadLength = length;
    this.#remaining = length;
    this.#state = S_PAYLOAD;
    if (length === 0) this.#finishFrame(events);
  }

  #finishFrame(events: FrameEvent[]): void {
    const payload = this.#payload;
    this.#payload = EMPTY;
    this.#state = S_HEADER;
    let event: FrameEvent;
    switch (this.#type) {
      case FRAME_HEADERS:
        event = { type: 'headers', fieldSection: payload };
        break;
      case FRAME_SETTINGS:
        event = { type: 'settings', settings: parseSettings(payload) };
        break;
      case FRAME_PUSH_PROMISE: {
        const pushId = decodeVarintBig(payload, 0);
        if (pushId === null) throw frameError('PUSH_PROMISE ends inside its push ID');
        event = {
          type: 'pushPromise',
          pushId: pushId.value,
          fieldSection: payload.subarray(pushId.length),
        };
        break;
      }
      default: {
        const v = decodeVarintBig(payload, 0);
        if (v === null || v.length !== payload.length) {
          throw frameError(`frame of type 0x${this.#type.toString(16)} is not exactly one varint`);
        }
        event =
          this.#type === FRAME_GOAWAY
            ? { type: 'goaway', id: v.value }
            : this.#type === FRAME_CANCEL_PUSH
              ? { type: 'cancelPush', pushId: v.value }
              : { type: 'maxPushId', pushId: v.value };
      }
    }
    this.#validator?.frame?.(event);
    events.push(event);
  }
}

// ---------------------------------------------------------------------------
// SETTINGS

function settingsError(message: string): H3Error {
  return new H3Error(H3_SETTINGS_ERROR, message);
}

/** Parses a SETTINGS frame payload. */
export function parseSettings(payload: Uint8Array): Settings {
  const settings: Settings = new Map();
  const seen = new Set<bigint>();
  let off = 0;
  while (off < payload.length) {
    const id = decodeVarintBig(payload, off);
    const value = id === null ? null : decodeVarintBig(payload, off + id.length);
    if (id === null || value === null) throw frameError('SETTINGS ends inside a setting');
    off += id.length + value.length;
    // RFC 9114 §7.2.4: "The same setting identifier MUST NOT occur more than once in the
    // SETTINGS frame. A receiver MAY treat the presence of duplicate setting identifiers
    // as a connection error of type H3_SETTINGS_ERROR."
    if (seen.has(id.value)) throw settingsError(`duplicate setting 0x${id.value.toString(16)}`);
    seen.add(id.value);
    if (id.value >= 0x02n && id.value <= 0x05n) {
      // RFC 9114 §7.2.4.1: "Setting identifiers that were defined in [HTTP/2] where there
      // is no corresponding HTTP/3 setting have also been reserved. These reserved
      // settings MUST NOT be sent, and their receipt MUST be treated as a connection
      // error of type H3_SETTINGS_ERROR."
      throw settingsError(`HTTP/2 setting 0x${id.value.toString(16)}`);
    }
    if (
      (id.value === BigInt(SETTINGS_ENABLE_CONNECT_PROTOCOL) ||
        id.value === BigInt(SETTINGS_H3_DATAGRAM)) &&
      value.value > 1n
    ) {
      // RFC 9220 §3 takes SETTINGS_ENABLE_CONNECT_PROTOCOL from RFC 8441 §3, which allows
      // only 0 or 1; RFC 9297 §2.1.1 likewise for SETTINGS_H3_DATAGRAM, with
      // H3_SETTINGS_ERROR for any other value.
      throw settingsError(`setting 0x${id.value.toString(16)} must be 0 or 1, got ${value.value}`);
    }
    if (id.value <= BigInt(Number.MAX_SAFE_INTEGER)) {
      settings.set(
        Number(id.value),
        value.value > BigInt(Number.MAX_SAFE_INTEGER)
          ? Number.MAX_SAFE_INTEGER
          : Number(value.value),
      );
    }
  }
  return settings;
}

// ---------------------------------------------------------------------------
// Encoders

/** Type and Length of a frame whose payload the caller writes next. */
export function encodeFrameHeader(type: number | bigint, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length));
  writeVarint(out, writeVarint(out, 0, type), length);
  return out;
}

/** A whole frame: header and payload in one array. */
export function encodeFrame(type: number | bigint, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(payload.length) + payload.length);
  out.set(payload, writeVarint(out, writeVarint(out, 0, type), payload.length));
  return out;
}

/** The header of a DATA frame; the caller sends `length` payload bytes after it. */
export function encodeDataHeader(length: number): Uint8Array {
  return encodeFrameHeader(FRAME_DATA, length);
}

/** A HEADERS frame carrying an encoded field section (see qpack.ts). */
export function encodeHeadersFrame(fieldSection: Uint8Array): Uint8Array {
  return encodeFrame(FRAME_HEADERS, fieldSection);
}

/**
 * A GOAWAY frame. A server sends a client-initiated bidirectional stream ID, a client a
 * push ID; RFC 9114 §5.2 suggests 2^62-4 (server) or 2^62-1 (client) to start a graceful
 * shutdown, hence bigint.
 */
export function encodeGoaway(id: number | bigint): Uint8Array {
  const out = new Uint8Array(2 + varintLength(id));
  out[0] = FRAME_GOAWAY;
  out[1] = varintLength(id);
  writeVarint(out, 2, id);
  return out;
}

/**
 * A SETTINGS frame. Refuses what RFC 9114 §7.2.4 forbids sending: duplicate identifiers
 * and the HTTP/2-only identifiers 0x02-0x05.
 */
export function encodeSettings(
  settings: Iterable<readonly [id: number | bigint, value: number | bigint]>,
): Uint8Array {
  const list = [...settings];
  const seen = new Set<bigint>();
  let length = 0;
  for (const [id, value] of list) {
    const key = BigInt(id);
    if (seen.has(key) || (key >= 0x02n && key <= 0x05n)) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `SETTINGS: setting 0x${key.toString(16)} may not be sent ${seen.has(key) ? 'twice' : 'on HTTP/3'}`,
      );
    }
    seen.add(key);
    length += varintLength(id) + varintLength(value);
  }
  const out = new Uint8Array(1 + varintLength(length) + length);
  let off = writeVarint(out, writeVarint(out, 0, FRAME_SETTINGS), length);
  for (const [id, value] of list) off = writeVarint(out, writeVarint(out, off, id), value);
  return out;
}

// ---------------------------------------------------------------------------
// Frame order

/** The endpoint we are: 'server' reads requests and a client's control stream. */
export type Role = 'client' | 'server';

/**
 * Frame rules of the peer's control stream (RFC 9114 §6.2.1, §7.2), read by `role`.
 * omniws never pushes and never sends MAX_PUSH_ID, so every push ID the peer names is
 * out of range. `settings` holds the peer's SETTINGS once they arrived.
 */
export class ControlStreamValidator implements FrameValidator {
  readonly role: Role;
  settings: Settings | undefined;
  #settingsStarted = false;
  #goaway: bigint | undefined;
  #maxPushId: bigint | undefined;

  constructor(role: Role) {
    this.role = role;
  }

  frameStart(type: number): void {
    if (!this.#settingsStarted) {
      // RFC 9114 §6.2.1: "If the first frame of the control stream is any other frame
      // type, this MUST be treated as a connection error of type H3_MISSING_SETTINGS."
      // §9 adds that an unknown frame type "does not satisfy that requirement and SHOULD
      // be treated as an error".
      if (type !== FRAME_SETTINGS) {
        throw new H3Error(
          H3_MISSING_SETTINGS,
          `control stream starts with frame type 0x${type.toString(16)}, not SETTINGS`,
        );
      }
      this.#settingsStarted = true;
      return;
    }
    switch (type) {
      case FRAME_SETTINGS:
        // RFC 9114 §7.2.4: "If an endpoint receives a second SETTINGS frame on the control
        // stream, the endpoint MUST respond with a connection error of type
        // H3_FRAME_UNEXPECTED."
        throw unexpected('second SETTINGS frame on the control stream');
      // RFC 9114 §7.2.1, §7.2.2, §7.2.5: DATA, HEADERS and PUSH_PROMISE on the control
      // stream are each a connection error of type H3_FRAME_UNEXPECTED.
      case FRAME_DATA:
        throw unexpected('DATA frame on the control stream');
      case FRAME_HEADERS:
        throw unexpected('HEADERS frame on the control stream');
      case FRAME_PUSH_PROMISE:
        throw unexpected('PUSH_PROMISE frame on the control stream');
      case FRAME_MAX_PUSH_ID:
        // RFC 9114 §7.2.7: "A client MUST treat the receipt of a MAX_PUSH_ID frame as a
        // connection error of type H3_FRAME_UNEXPECTED."
        if (this.role === 'client') throw unexpected('MAX_PUSH_ID frame from a server');
    }
  }

  frame(event: FrameEvent): void {
    switch (event.type) {
      case 'settings':
        this.settings = event.settings;
        return;
      case 'goaway':
        // RFC 9114 §7.2.6: "A client MUST treat receipt of a GOAWAY frame containing a
        // stream ID of any other type [than client-initiated bidirectional] as a
        // connection error of type H3_ID_ERROR."
        if (this.role === 'client' && event.id % 4n !== 0n) {
          throw new H3Error(H3_ID_ERROR, `GOAWAY names stream ${event.id}, not a request stream`);
        }
        // RFC 9114 §5.2: "Receiving a GOAWAY containing a larger identifier than previously
        // received MUST be treated as a connection error of type H3_ID_ERROR."
        if (this.#goaway !== undefined && event.id > this.#goaway) {
          throw new H3Error(H3_ID_ERROR, `GOAWAY id grew from ${this.#goaway} to ${event.id}`);
        }
        this.#goaway = event.id;
        return;
      case 'maxPushId':
        // RFC 9114 §7.2.7: "receipt of a MAX_PUSH_ID frame that contains a smaller value
        // than previously received MUST be treated as a connection error of type
        // H3_ID_ERROR."
        if (this.#maxPushId !== undefined && event.pushId < this.#maxPushId) {
          throw new H3Error(
            H3_ID_ERROR,
            `MAX_PUSH_ID fell from ${this.#maxPushId} to ${event.pushId}`,
          );
        }
        this.#maxPushId = event.pushId;
        return;
      case 'cancelPush':
        // RFC 9114 §7.2.3: for a server, a push ID "not yet mentioned by a PUSH_PROMISE
        // frame" is H3_ID_ERROR; for a client, one "greater than currently allowed on the
        // connection". We never promise a push and never allow one.
        throw new H3Error(H3_ID_ERROR, `CANCEL_PUSH for push ${event.pushId}, never promised`);
    }
  }

  end(): void {
    // RFC 9114 §6.2.1: "If either control stream is closed at any point, this MUST be
    // treated as a connection error of type H3_CLOSED_CRITICAL_STREAM."
    throw new H3Error(H3_CLOSED_CRITICAL_STREAM, 'the peer closed its control stream');
  }
}

/**
 * Frame rules of a request stream as `role` reads it (RFC 9114 §4.1): HEADERS, then
 * DATA*, then at most one trailing HEADERS; unknown types anywhere. A client that
 * decodes an interim (1xx) response calls `interimResponse()` so the next HEADERS is a
 * header section again.
 */
export class RequestStreamValidator implements FrameValidator {
  readonly role: Role;
  #state: 'start' | 'headers' | 'data' | 'trailers' = 'start';

  constructor(role: Role) {
    this.role = role;
  }

  frameStart(type: number): void {
    switch (type) {
      case FRAME_HEADERS:
        // RFC 9114 §4.1: "a HEADERS or DATA frame after the trailing HEADERS frame, is
        // considered invalid."
        if (this.#state === 'trailers') throw unexpected('HEADERS frame after the trailers');
        this.#state = this.#state === 'start' ? 'headers' : 'trailers';
        return;
      case FRAME_DATA:
        // RFC 9114 §4.1: "Receipt of an invalid sequence of frames MUST be treated as a
        // connection error of type H3_FRAME_UNEXPECTED. In particular, a DATA frame before
        // any HEADERS frame, or a HEADERS or DATA frame after the trailing HEADERS frame,
        // is considered invalid."
        if (this.#state === 'start') throw unexpected('DATA frame before HEADERS');
        if (this.#state === 'trailers') throw unexpected('DATA frame after the trailers');
        this.#state = 'data';
        return;
      case FRAME_PUSH_PROMISE:
        // RFC 9114 §7.2.5: "A server MUST treat the receipt of a PUSH_PROMISE frame as a
        // connection error of type H3_FRAME_UNEXPECTED." A client "MUST treat receipt of a
        // PUSH_PROMISE frame that contains a larger push ID than the client has advertised
        // as a connection error of H3_ID_ERROR" — and we advertise none.
        if (this.role === 'server') throw unexpected('PUSH_PROMISE frame from a client');
        throw new H3Error(H3_ID_ERROR, 'PUSH_PROMISE, but we never sent MAX_PUSH_ID');
      // RFC 9114 §7.2.3, §7.2.4, §7.2.6, §7.2.7: these belong on the control stream only.
      case FRAME_SETTINGS:
        throw unexpected('SETTINGS frame on a request stream');
      case FRAME_GOAWAY:
        throw unexpected('GOAWAY frame on a request stream');
      case FRAME_CANCEL_PUSH:
        throw unexpected('CANCEL_PUSH frame on a request stream');
      case FRAME_MAX_PUSH_ID:
        throw unexpected('MAX_PUSH_ID frame on a request stream');
    }
  }

  /** The header section just received was an interim (1xx) response. */
  interimResponse(): void {
    if (this.#state !== 'headers') {
      throw new WebSocketError(
        'WS_ERR_INVALID_STATE',
        'interimResponse() is only valid right after a header section',
      );
    }
    this.#state = 'start';
  }

  end(): void {
    if (this.#state !== 'start') return;
    // RFC 9114 §4.1: "If a client-initiated stream terminates without enough of the HTTP
    // message to provide a complete response, the server SHOULD abort its response stream
    // with the error code H3_REQUEST_INCOMPLETE." A response without a final header
    // section is malformed (§4.1.2).
    throw this.role === 'server'
      ? new H3Error(H3_REQUEST_INCOMPLETE, 'request stream ended before HEADERS', {
          scope: 'stream',
        })
      : new H3Error(H3_MESSAGE_ERROR, 'response stream ended before a final HEADERS', {
          scope: 'stream',
        });
  }
}
