// The sans-I/O WebSocket state machine (RFC 6455 §5–§7): bytes in → events out,
// messages in → bytes out. No sockets, no timers, no zlib: the session owns those.
//
// The caller feeds received bytes to `receive`/`receiveEof` and gets callbacks on
// its sink; everything we must put on the wire goes to `sink.write`. Replies the
// RFC requires (the pong to a ping, the echo of a close) are written here, before
// the sink hears of the frame. After a failure or the close handshake the
// protocol is closed: further input is ignored and sends throw WS_ERR_INVALID_STATE.

import { randomFillSync } from 'node:crypto';
import { MessageAssembler } from './assembler.js';
import { decodeClosePayload, encodeClosePayload, isValidWireCloseCode } from './close.js';
import { protocolError, WebSocketError } from './errors.js';
import {
  encodeFrame,
  FrameDecoder,
  type FrameHeader,
  type FrameSink,
  type MaskSource,
  Opcode,
  type Role,
} from './frame.js';
import { Utf8Validator } from './utf8.js';

/** Where a Protocol puts bytes to write and the messages, pings, pongs and close it received. */
export interface ProtocolSink {
  /** Bytes to put on the wire, in order. */
  write(chunks: Uint8Array[]): void;
  /**
   * A complete data message. `rsv` are the RSV bits of its first frame (an extension's
   * business: RSV1 = compressed). Text that is not compressed was validated as UTF-8.
   */
  onMessage(binary: boolean, data: Buffer, rsv: number): void;
  /** A ping arrived; the pong has already been written. */
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /**
   * The peer's close frame arrived. If we had not sent one, our echo has been written.
   * The close handshake is complete either way.
   */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol: our close frame (err.closeCode) has been written if possible. */
  onFailure(err: WebSocketError): void;
  /**
   * True while written bytes wait above the transport's high-water mark. Pongs are
   * then held back (only the latest) until `flushPong()`: a peer that pings without
   * reading cannot make us buffer pongs without bound.
   */
  congested?(): boolean;
}

/** Settings of a Protocol: its role, frame and message limits, extension RSV bits, mask source. */
export interface ProtocolOptions {
  role: Role;
  maxFrame?: number;
  maxMessage?: number;
  /** RSV bits owned by negotiated extensions. */
  rsvOwned?: number;
  /** Mask key source for the client role (default: crypto random). */
  mask?: MaskSource;
}

/** Where a Protocol is: open, closing (a close frame sent or received), or closed. */
export type ProtocolState = 'open' | 'closing' | 'closed';

const EMPTY = Buffer.alloc(0);

// A pool of random bytes, refilled in bulk: a mask key per frame without a syscall per frame.
const maskPool = Buffer.allocUnsafe(4096);
let maskPos = maskPool.length;
/**
 * Crypto-random 4-byte mask keys for client frames (RFC 6455 §5.3), from a pool refilled in bulk.
 */
export const randomMask: MaskSource = (out) => {
  if (maskPos + 4 > maskPool.length) {
    randomFillSync(maskPool);
    maskPos = 0;
  }
  out[0] = maskPool[maskPos]!;
  out[1] = maskPool[maskPos + 1]!;
  out[2] = maskPool[maskPos + 2]!;
  out[3] = maskPool[maskPos + 3]!;
  maskPos += 4;
};

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}

/**
 * The sans-I/O WebSocket state machine (RFC 6455 §5–§7): bytes in, events out; messages in, bytes
 * out.
 */
export class Protocol {
  readonly role: Role;
  readonly #sink: ProtocolSink;
  readonly #decoder: FrameDecoder;
  readonly #mask: MaskSource | undefined;
  #state: ProtocolState = 'open';
  #closeSent = false;
  #closeReceived = false;

  // the frame being received
  #opcode: Opcode = Opcode.Continuation;
  #fin = true;
  // the data message being assembled
  #msgBinary = false;
  #msgRsv = 0;
  #msgValidate = false;
  readonly #message = new MessageAssembler();
  readonly #utf8 = new Utf8Validator();
  // the control frame being assembled (≤ 125 bytes)
  #ctl: Uint8Array[] | null = null;
  // the pong held back while the transport is congested (RFC 6455 §5.5.3 allows only the latest)
  #pendingPong: Buffer | null = null;

  // outbound fragmentation
  #sendingFragmented = false;

  constructor(sink: ProtocolSink, opts: ProtocolOptions) {
    this.role = opts.role;
    this.#sink = sink;
    this.#mask = opts.role === 'client' ? (opts.mask ?? randomMask) : undefined;
    this.#decoder = new FrameDecoder(new Protocol.#FrameEvents(this), {
      role: opts.role,
      ...(opts.maxFrame !== undefined && { maxFrame: opts.maxFrame }),
      ...(opts.maxMessage !== undefined && { maxMessage: opts.maxMessage }),
      ...(opts.rsvOwned !== undefined && { rsvOwned: opts.rsvOwned }),
    });
  }

  // The decoder's callbacks: one small object, no closures per connection.
  static readonly #FrameEvents = class implements FrameSink {
    readonly #p: Protocol;
    constructor(p: Protocol) {
      this.#p = p;
    }
    onFrameHeader(h: FrameHeader): void {
      this.#p.#onHeader(h);
    }
    onFramePayload(piece: Uint8Array, last: boolean): void {
      this.#p.#onPayload(piece, last);
    }
  };

  get state(): ProtocolState {
    return this.#state;
  }
  get closeSent(): boolean {
    return this.#closeSent;
  }
  get closeReceived(): boolean {
    return this.#closeReceived;
  }

  setRsvOwned(bits: number): void {
    this.#decoder.setRsvOwned(bits);
  }

  /** True when nothing partial is buffered (between messages): hibernation may release buffers. */
  get idle(): boolean {
    return (
      this.#decoder.idle &&
      !this.#decoder.inMessage &&
      this.#message.empty &&
      this.#pendingPong === null
    );
  }

  // ── receiving ──────────────────────────────────────────────────────────────

  receive(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      // the state may have changed inside the callbacks
      const open = (this.#state as ProtocolState) !== 'closed';
      // Errors of the peer's making carry the close code they map to; anything else was
      // thrown by a sink callback (our own bug): fail with 1011 and let it propagate.
      if (err instanceof WebSocketError && err.closeCode !== undefined) {
        if (open) this.#fail(err);
        return;
      }
      if (open) {
        this.#fail(
          new WebSocketError(
            'WS_ERR_HANDLER',
            `receive callback failed: ${(err as Error)?.message}`,
            {
              closeCode: 1011,
              cause: err,
            },
          ),
        );
      }
      throw err;
    }
  }

  /**
   * The peer ended its direction without (or after) a close frame. Returns true
   * when that is an orderly end (the close handshake had completed).
   */
  receiveEof(): boolean {
    if (this.#state === 'closed') return this.#closeReceived;
    this.#state = 'closed';
    return false;
  }

  #onHeader(h: FrameHeader): void {
    this.#opcode = h.opcode;
    this.#fin = h.fin;
    if (h.opcode === Opcode.Text || h.opcode === Opcode.Binary) {
      this.#msgBinary = h.opcode === Opcode.Binary;
      this.#msgRsv = h.rsv;
      // compressed text is validated after inflation, by whoever inflates it
      this.#msgValidate = !this.#msgBinary && h.rsv === 0 && !this.#closeSent;
      if (this.#msgValidate) this.#utf8.reset();
    }
  }

  #onPayload(piece: Uint8Array, last: boolean): void {
    if (this.#state === 'closed') return;
    const op = this.#opcode;
    if (op === Opcode.Text || op === Opcode.Binary || op === Opcode.Continuation) {
      // Our policy, not an RFC rule: once we have sent a Close frame the application has
      // said it is done, so data still arriving is discarded. (RFC 6455 §1.4 only says "after
      // receiving a control frame indicating the connection should be closed, a peer discards
      // any further data received"; that case is handled by the 'closed' state above.)
      if (this.#closeSent) return;
      if (piece.length > 0 && this.#msgValidate && !this.#utf8.push(piece)) {
        throw protocolError('WS_ERR_INVALID_UTF8', 'text message is not valid UTF-8', 1007);
      }
      if (last && this.#fin) this.#deliverMessage(piece);
      else this.#message.push(piece);
      return;
    }
    if (piece.length > 0) {
      if (this.#ctl === null) this.#ctl = [piece];
      else this.#ctl.push(piece);
    }
    if (!last) return;
    const parts = this.#ctl;
    this.#ctl = null;
    const data =
      parts === null ? EMPTY : parts.length === 1 ? toBuffer(parts[0]!) : Buffer.concat(parts);
    if (op === Opcode.Ping) {
      // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame
      // in response, unless it already received a Close frame." Not after our close either.
      if (!this.#closeSent) this.#pong(data);
      this.#sink.onPing(data);
    } else if (op === Opcode.Pong) {
      this.#sink.onPong(data);
    } else {
      this.#onCloseFrame(data);
    }
  }

  #deliverMessage(lastPiece: Uint8Array): void {
    if (this.#msgValidate && !this.#utf8.complete) {
      throw protocolError('WS_ERR_INVALID_UTF8', 'text message ends inside a UTF-8 sequence', 1007);
    }
    let data: Buffer;
    if (this.#message.empty) {
      // the whole message is this one piece: no copy
      data = lastPiece.length === 0 ? EMPTY : toBuffer(lastPiece);
    } else {
      this.#message.push(lastPiece);
      data = this.#message.take();
    }
    this.#sink.onMessage(this.#msgBinary, data, this.#msgRsv);
  }

  #pong(data: Buffer): void {
    // RFC 6455 §5.5.3: "If an endpoint receives a Ping frame and has not yet sent Pong
    // frame(s) in response to previous Ping frame(s), the endpoint MAY elect to send a Pong
    // frame for only the most recently processed Ping frame."
    if (this.#sink.congested?.()) {
      this.#pendingPong = data;
      return;
    }
    this.#pendingPong = null;
    this.#writeFrame(Opcode.Pong, data);
  }

  /** The transport drained: send the pong held back while it was congested, if any. */
  flushPong(): void {
    const data = this.#pendingPong;
    if (data === null) return;
    this.#pendingPong = null;
    if (!this.#closeSent && this.#state !== 'closed') this.#writeFrame(Opcode.Pong, data);
  }

  #onCloseFrame(payload: Buffer): void {
    const { code, reason } = decodeClosePayload(payload); // throws 1002/1007 on bad payloads
    this.#closeReceived = true;
    // RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not previously send a
    // Close frame, the endpoint MUST send a Close frame in response. (When sending a Close
    // frame in response, the endpoint typically echos the status code it received.)"
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#writeFrame(Opcode.Close, code === 1005 ? EMPTY : payload.subarray(0, 2));
    }
    this.#state = 'closed';
    this.#message.clear();
    this.#sink.onClose(code, reason);
  }

  #fail(err: WebSocketError): void {
    // RFC 6455 §7.1.7: send a Close frame with an appropriate code (if none was sent), then
    // close the underlying connection.
    if (!this.#closeSent) {
      this.#closeSent = true;
      // A code that may not be on the wire (1006 "connection lost" from outside, say) would
      // make encodeClosePayload throw here and leave us open. RFC 6455 §7.4.1: 1011 "indicates
      // that a server is terminating the connection because it encountered an unexpected
      // condition that prevented it from fulfilling the request."
      const code = err.closeCode ?? 1002;
      this.#writeFrame(Opcode.Close, encodeClosePayload(isValidWireCloseCode(code) ? code : 1011));
    }
    this.#state = 'closed';
    this.#message.clear();
    this.#ctl = null;
    this.#sink.onFailure(err);
  }

  /** Fail the connection from outside (e.g. inflation found a bomb, bad UTF-8 after inflate). */
  fail(err: WebSocketError): void {
    if (this.#state !== 'closed') this.#fail(err);
  }

  // ── sending ────────────────────────────────────────────────────────────────

  #assertCanSend(): void {
    if (this.#closeSent || this.#state === 'closed') {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the WebSocket is closing or closed');
    }
  }

  #writeFrame(opcode: Opcode, payload: Uint8Array, fin = true, rsv = 0): void {
    this.#sink.write(encodeFrame(opcode, payload, { fin, rsv, mask: this.#mask }));
  }

  /** Encode one whole message (or, with `fin: false`, its first fragment). */
  sendData(binary: boolean, payload: Uint8Array, opts: { fin?: boolean; rsv?: number } = {}): void {
    this.#assertCanSend();
    if (this.#sendingFragmented) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'a fragmented message is being sent');
    }
    const fin = opts.fin ?? true;
    this.#sendingFragmented = !fin;
    this.#writeFrame(binary ? Opcode.Binary : Opcode.Text, payload, fin, opts.rsv ?? 0);
  }

  /** The next fragment of the message started with `sendData(…, { fin: false })`. */
  sendContinuation(payload: Uint8Array, fin: boolean): void {
    this.#assertCanSend();
    if (!this.#sendingFragmented) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'no fragmented message is being sent');
    }
    this.#sendingFragmented = !fin;
    this.#writeFrame(Opcode.Continuation, payload, fin);
  }

  /** Encode a whole message as frames of at most `fragmentSize` bytes. */
  sendFragmented(binary: boolean, payload: Uint8Array, fragmentSize: number, rsv = 0): void {
    this.#assertCanSend();
    if (this.#sendingFragmented) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'a fragmented message is being sent');
    }
    if (!(fragmentSize >= 1)) {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'fragment size must be at least 1');
    }
    const n = payload.length;
    let off = 0;
    let first = true;
    do {
      const end = Math.min(n, off + fragmentSize);
      const fin = end >= n;
      this.#writeFrame(
        first ? (binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation,
        payload.subarray(off, end),
        fin,
        first ? rsv : 0,
      );
      first = false;
      off = end;
    } while (off < n);
  }

  ping(data: Uint8Array = EMPTY): void {
    this.#assertCanSend();
    assertControlPayload(data);
    this.#writeFrame(Opcode.Ping, data);
  }

  pong(data: Uint8Array = EMPTY): void {
    this.#assertCanSend();
    assertControlPayload(data);
    this.#writeFrame(Opcode.Pong, data);
  }

  /**
   * Start the closing handshake. Throws (and sends nothing) for a code or reason
   * RFC 6455 does not allow on the wire. Returns false when a close was already sent.
   */
  close(code?: number, reason?: string): boolean {
    const payload = encodeClosePayload(code, reason);
    if (this.#closeSent || this.#state === 'closed') return false;
    this.#closeSent = true;
    this.#state = 'closing';
    this.#message.clear();
    this.#writeFrame(Opcode.Close, payload);
    return true;
  }
}

function assertControlPayload(data: Uint8Array): void {
  if (data.length > 125) {
    throw new WebSocketError(
      'WS_ERR_CONTROL_PAYLOAD_TOO_BIG',
      'control frame payload above 125 bytes',
    );
  }
}
