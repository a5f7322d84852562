// RFC 6455 §5 frame codec: an incremental decoder and the encoder.
//
// The decoder takes bytes in any chunking and reports, per frame, one header and
// then the payload in one or more pieces as it arrives (already unmasked), so the
// caller can validate UTF-8 early and never needs a whole large frame in one
// buffer. Every rule that can be checked from a header is checked here, before
// any payload is buffered: opcodes, RSV bits, the mask bit for our role, control
// frame rules, fragmentation order, and the frame/message size limits.
// Pieces are views into the caller's chunks, which are unmasked in place: hand
// the decoder buffers it may own.

import { type ErrorCode, protocolError, type WebSocketError } from './errors.js';

/** WebSocket frame opcodes by name (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Which end of a WebSocket: the server, or the client, which masks its frames (RFC 6455 §5.3). */
export type Role = 'server' | 'client';

/** A decoded frame header (RFC 6455 §5.2): FIN, RSV bits, opcode, mask bit, payload length. */
export interface FrameHeader {
  fin: boolean;
  /** RSV1..3 as bits 0x4, 0x2, 0x1 (0x4 = RSV1). */
  rsv: number;
  opcode: Opcode;
  masked: boolean;
  length: number;
}

/** Where a FrameDecoder delivers frames: each header, then its payload in pieces. */
export interface FrameSink {
  /** A frame begins. `onPayload` follows, at least once (with an empty, final piece if length is 0). */
  onFrameHeader(h: FrameHeader): void;
  /** The next piece of the current frame's payload, unmasked. `last` marks the frame's end. */
  onFramePayload(piece: Uint8Array, last: boolean): void;
}

/** Settings of a FrameDecoder: its role, frame and message limits, RSV bits owned by extensions. */
export interface DecoderOptions {
  role: Role;
  /** Largest frame payload accepted; above it the frame fails with 1009. */
  maxFrame?: number;
  /** Largest message (sum of its frames' payloads) accepted; above it 1009. */
  maxMessage?: number;
  /** RSV bits owned by negotiated extensions on the first frame of a data message (0x4 = RSV1). */
  rsvOwned?: number;
}

/** Largest frame payload accepted unless told otherwise: 16 MiB. */
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;
/** Largest message accepted unless told otherwise: 64 MiB. */
export const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

function fail(code: ErrorCode, message: string, closeCode = 1002): WebSocketError {
  return protocolError(code, message, closeCode);
}

/**
 * Incremental frame decoder. `push` never throws for bad input it was given
 * before; it throws a WebSocketError (with `closeCode`) for the first violation,
 * after which the decoder is dead (every later `push` throws the same error).
 */
export class FrameDecoder {
  readonly #sink: FrameSink;
  readonly #expectMask: boolean;
  #maxFrame: number;
  #maxMessage: number;
  #rsvOwned: number;

  // partial header bytes (a header is 2..14 bytes); only while a header spans chunks
  #hdr: Uint8Array | null = null;
  #hdrLen = 0;
  // current frame
  #inPayload = false;
  #remaining = 0;
  #masked = false;
  // the masking key as a big-endian 32-bit number (no typed array per decoder)
  #maskKey = 0;
  #maskOffset = 0;
  // fragmentation
  #inMessage = false;
  #messageLength = 0;
  #error: WebSocketError | null = null;

  constructor(sink: FrameSink, opts: DecoderOptions) {
    this.#sink = sink;
    this.#expectMask = opts.role === 'server';
    this.#maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
    this.#maxMessage = opts.maxMessage ?? DEFAULT_MAX_MESSAGE;
    this.#rsvOwned = opts.rsvOwned ?? 0;
  }

  /** Extensions are negotiated before the first frame; allowed to change only then. */
  setRsvOwned(bits: number): void {
    this.#rsvOwned = bits & 0x7;
  }

  setLimits(maxFrame: number, maxMessage: number): void {
    this.#maxFrame = maxFrame;
    this.#maxMessage = maxMessage;
  }

  /** True while a fragmented data message is open. */
  get inMessage(): boolean {
    return this.#inMessage;
  }

  /** True when no partial frame is buffered or pending (a clean frame boundary). */
  get idle(): boolean {
    return !this.#inPayload && this.#hdrLen === 0;
  }

  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    try {
      this.#push(chunk);
    } catch (err) {
      this.#error = err as WebSocketError;
      throw err;
    }
  }

  #push(chunk: Uint8Array): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.#inPayload) {
        pos = this.#payload(chunk, pos);
        continue;
      }
      if (this.#hdrLen === 0) {
        // Fast path: the whole header is in this chunk.
        const size = headerSize(chunk, pos, len);
        if (size > 0) {
          this.#header(chunk, pos);
          pos += size;
          if (this.#remaining === 0) this.#finishEmpty();
          continue;
        }
      }
      // Slow path: gather header bytes across chunks, then parse from the scratch buffer.
      let hdr = this.#hdr;
      if (hdr === null) {
        hdr = new Uint8Array(14);
        this.#hdr = hdr;
      }
      const target = this.#hdrLen < 2 ? 2 : headerLengthFromFirstTwo(hdr);
      const take = Math.min(target - this.#hdrLen, len - pos);
      hdr.set(chunk.subarray(pos, pos + take), this.#hdrLen);
      this.#hdrLen += take;
      pos += take;
      if (this.#hdrLen >= 2 && this.#hdrLen === headerLengthFromFirstTwo(hdr)) {
        this.#hdrLen = 0;
        this.#hdr = null;
        this.#header(hdr, 0);
        if (this.#remaining === 0) this.#finishEmpty();
      }
    }
  }

  #finishEmpty(): void {
    this.#inPayload = false;
    this.#sink.onFramePayload(EMPTY, true);
  }

  #payload(chunk: Uint8Array, pos: number): number {
    const avail = chunk.length - pos;
    const n = Math.min(avail, this.#remaining);
    const piece = pos === 0 && n === chunk.length ? chunk : chunk.subarray(pos, pos + n);
    if (this.#masked) {
      unmaskKey(piece, this.#maskKey, this.#maskOffset);
      this.#maskOffset = (this.#maskOffset + n) & 3;
    }
    this.#remaining -= n;
    const last = this.#remaining === 0;
    if (last) this.#inPayload = false;
    this.#sink.onFramePayload(piece, last);
    return pos + n;
  }

  #header(b: Uint8Array, p: number): void {
    const b0 = b[p]!;
    const b1 = b[p + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let q = p + 2;
    if (length === 126) {
      length = (b[q]! << 8) | b[q + 1]!;
      q += 2;
    } else if (length === 127) {
      const hi = ((b[q]! << 24) >>> 0) + (b[q + 1]! << 16) + (b[q + 2]! << 8) + b[q + 3]!;
      const lo = ((b[q + 4]! << 24) >>> 0) + (b[q + 5]! << 16) + (b[q + 6]! << 8) + b[q + 7]!;
      // RFC 6455 §5.2: "the most significant bit MUST be 0"
      if (hi & 0x80000000) {
        throw fail(
          'WS_ERR_INVALID_PAYLOAD_LENGTH',
          'payload length has the most significant bit set',
        );
      }
      if (hi > 0x1fffff) {
        throw fail('WS_ERR_FRAME_TOO_BIG', 'payload length above 2^53 - 1', 1009);
      }
      length = hi * 0x100000000 + lo;
      q += 8;
    }

    const isControl = (opcode & 0x8) !== 0;
    if (isControl) {
      if (opcode !== Opcode.Close && opcode !== Opcode.Ping && opcode !== Opcode.Pong) {
        throw fail('WS_ERR_INVALID_OPCODE', `reserved opcode 0x${opcode.toString(16)}`);
      }
      // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less
      // and MUST NOT be fragmented."
      if (!fin) throw fail('WS_ERR_FRAGMENTED_CONTROL', 'fragmented control frame');
      if (length > 125) {
        throw fail(
          'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
          'control frame payload above 125 bytes',
        );
      }
      if (rsv !== 0) throw fail('WS_ERR_UNEXPECTED_RSV', 'RSV bits set on a control frame');
    } else {
      if (opcode === Opcode.Continuation) {
        if (!this.#inMessage) {
          throw fail(
            'WS_ERR_UNEXPECTED_CONTINUATION',
            'continuation frame without an open message',
          );
        }
        // RFC 7692 §6.1: RSV1 is set only on the first frame of a message.
        if (rsv !== 0) throw fail('WS_ERR_UNEXPECTED_RSV', 'RSV bits set on a continuation frame');
      } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
        if (this.#inMessage) {
          throw fail('WS_ERR_EXPECTED_CONTINUATION', 'new data frame inside a fragmented message');
        }
        // RFC 6455 §5.2: "If a nonzero value is received and none of the negotiated
        // extensions defines the meaning of such a nonzero value, the receiving endpoint
        // MUST _Fail the WebSocket Connection_."
        if ((rsv & ~this.#rsvOwned) !== 0) {
          throw fail('WS_ERR_UNEXPECTED_RSV', 'RSV bits set that no extension owns');
        }
        this.#messageLength = 0;
      } else {
        throw fail('WS_ERR_INVALID_OPCODE', `reserved opcode 0x${opcode.toString(16)}`);
      }
      if (length > this.#maxFrame) {
        throw fail('WS_ERR_FRAME_TOO_BIG', `frame of ${length} bytes above maxFrame`, 1009);
      }
      this.#messageLength += length;
      if (this.#messageLength > this.#maxMessage) {
        throw fail('WS_ERR_MESSAGE_TOO_BIG', 'message above maxMessage', 1009);
      }
      this.#inMessage = !fin;
    }

    // RFC 6455 §5.1: a server MUST close on an unmasked client frame; a client MUST close
    // on a masked server frame.
    if (masked !== this.#expectMask) {
      throw this.#expectMask
        ? fail('WS_ERR_EXPECTED_MASK', 'client frame is not masked')
        : fail('WS_ERR_UNEXPECTED_MASK', 'server frame is masked');
    }
    if (masked) {
      this.#maskKey = ((b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!) >>> 0;
      this.#maskOffset = 0;
    }
    this.#masked = masked;
    this.#remaining = length;
    this.#inPayload = true;
    this.#sink.onFrameHeader({ fin, rsv, opcode: opcode as Opcode, masked, length });
  }
}

function headerLengthFromFirstTwo(b: Uint8Array): number {
  const l = b[1]! & 0x7f;
  return 2 + (l === 126 ? 2 : l === 127 ? 8 : 0) + (b[1]! & 0x80 ? 4 : 0);
}

/** Size of the header starting at `p` if it is complete within `end`, else 0. */
function headerSize(b: Uint8Array, p: number, end: number): number {
  if (end - p < 2) return 0;
  const b1 = b[p + 1]!;
  const l = b1 & 0x7f;
  const size = 2 + (l === 126 ? 2 : l === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
  return end - p >= size ? size : 0;
}

/** Below this many bytes a typed-array view costs more than it saves: XOR byte by byte. */
const UNMASK_WORDS_MIN = 64;

/**
 * XOR `data` in place with `mask`, starting at mask position `offset` (0..3).
 * Short data goes byte by byte; longer data a 32-bit word at a time from the first
 * aligned byte, eight words per iteration (Int32Array keeps the words small integers).
 */
export function unmask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  unmaskKey(data, ((mask[0]! << 24) | (mask[1]! << 16) | (mask[2]! << 8) | mask[3]!) >>> 0, offset);
}

/** `unmask` with the key as a big-endian 32-bit number (key byte j = bits 31-8j..24-8j). */
function unmaskKey(data: Uint8Array, key: number, offset: number): void {
  const n = data.length;
  let i = 0;
  // the key rotated so that its first byte is the one for data[0]
  let k =
    offset & 3 ? ((key << (8 * (offset & 3))) | (key >>> (32 - 8 * (offset & 3)))) >>> 0 : key;
  if (n >= UNMASK_WORDS_MIN) {
    // bytes until the data is 4-byte aligned
    while (((data.byteOffset + i) & 3) !== 0) {
      data[i] = data[i]! ^ (k >>> 24);
      k = ((k << 8) | (k >>> 24)) >>> 0;
      i++;
    }
    const words = (n - i) >>> 2;
    // the key's bytes in memory order as one native-endian word
    const m = IS_LE ? (k >>> 24) | ((k >>> 8) & 0xff00) | ((k << 8) & 0xff0000) | (k << 24) : k | 0;
    const w = new Int32Array(data.buffer, data.byteOffset + i, words);
    const end8 = words & ~7;
    let j = 0;
    for (; j < end8; j += 8) {
      w[j] = w[j]! ^ m;
      w[j + 1] = w[j + 1]! ^ m;
      w[j + 2] = w[j + 2]! ^ m;
      w[j + 3] = w[j + 3]! ^ m;
      w[j + 4] = w[j + 4]! ^ m;
      w[j + 5] = w[j + 5]! ^ m;
      w[j + 6] = w[j + 6]! ^ m;
      w[j + 7] = w[j + 7]! ^ m;
    }
    for (; j < words; j++) w[j] = w[j]! ^ m;
    i += words << 2;
  }
  const m0 = k >>> 24;
  const m1 = (k >>> 16) & 0xff;
  const m2 = (k >>> 8) & 0xff;
  const m3 = k & 0xff;
  for (; i + 4 <= n; i += 4) {
    data[i] = data[i]! ^ m0;
    data[i + 1] = data[i + 1]! ^ m1;
    data[i + 2] = data[i + 2]! ^ m2;
    data[i + 3] = data[i + 3]! ^ m3;
  }
  if (i < n) data[i] = data[i]! ^ m0;
  if (i + 1 < n) data[i + 1] = data[i + 1]! ^ m1;
  if (i + 2 < n) data[i + 2] = data[i + 2]! ^ m2;
}

const IS_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Source of 4-byte masking keys; injectable so client frames are deterministic in tests. */
export type MaskSource = (out: Uint8Array) => void;

/** How `encodeFrame()` writes a frame: FIN, RSV bits, and the mask key source (client role). */
export interface EncodeOptions {
  fin?: boolean;
  rsv?: number;
  /** Mask key source; when given the frame is masked (client role). */
  mask?: MaskSource | undefined;
}

/** Frames at or below this size are encoded into one buffer (header + payload). */
const COPY_THRESHOLD = 1024;

/**
 * Encode one frame. Returns one buffer for small payloads and [header, payload]
 * for large unmasked ones (no copy of the payload). Masking always copies: the
 * caller's payload is never modified.
 */
export function encodeFrame(
  opcode: Opcode,
  payload: Uint8Array,
  opts: EncodeOptions = {},
): Uint8Array[] {
  const fin = opts.fin ?? true;
  const rsv = opts.rsv ?? 0;
  const len = payload.length;
  const masked = opts.mask !== undefined;
  const extra = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const hlen = 2 + extra + (masked ? 4 : 0);
  const inline = masked || len <= COPY_THRESHOLD;
  const out = Buffer.allocUnsafe(inline ? hlen + len : hlen);
  out[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  if (extra === 0) {
    out[1] = len;
  } else if (extra === 2) {
    out[1] = 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 127;
    const hi = Math.floor(len / 0x100000000);
    out.writeUInt32BE(hi, 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  if (masked) {
    out[1] = out[1]! | 0x80;
    const key = out.subarray(hlen - 4, hlen);
    opts.mask!(key);
    const body = out.subarray(hlen);
    body.set(payload);
    unmask(body, key, 0);
    return [out];
  }
  if (inline) {
    out.set(payload, hlen);
    return [out];
  }
  return [out, payload];
}
