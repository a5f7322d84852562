// The conformance peer's side of the wire: a frame codec of its own (not src/ws/frame.ts,
// so a bug there cannot hide itself) and the PeerDriver contract that lets the same case
// table run over any byte stream. A driver opens one WebSocket to the implementation
// under test (our server, or our client connecting to a fake server), completes the
// handshake by hand and hands back the raw stream after it. h1 is a raw TCP socket;
// an h2 driver would hand back an extended-CONNECT stream, an h3 driver a request stream.

import type { DeflateOptions } from '../ws/deflate-negotiate.js';
import type { CloseReason } from '../ws/handler.js';

// ── bytes ────────────────────────────────────────────────────────────────────

/** Payload bytes as data: UTF-8 text, raw bytes, hex, or a unit repeated to a length. */
export type Bytes =
  | string
  | Uint8Array
  | { hex: string }
  | { repeat: string | Uint8Array; length: number };

const repeatCache = new Map<string, Buffer>();

export function bytesOf(b: Bytes): Buffer {
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  if (b instanceof Uint8Array) return Buffer.from(b.buffer, b.byteOffset, b.length);
  if ('hex' in b) return Buffer.from(b.hex, 'hex');
  const unit = typeof b.repeat === 'string' ? Buffer.from(b.repeat, 'utf8') : Buffer.from(b.repeat);
  const key = `${b.length}:${unit.toString('hex')}`;
  let out = repeatCache.get(key);
  if (out === undefined) {
    out = Buffer.alloc(b.length);
    for (let i = 0; i < b.length; i += unit.length) unit.copy(out, i, 0, b.length - i);
    // only the large ones are worth keeping between cases (9.x reuses them both ways)
    if (b.length >= 65536) {
      if (repeatCache.size > 8) repeatCache.clear();
      repeatCache.set(key, out);
    }
  }
  return out;
}

// ── frames the peer sends ───────────────────────────────────────────────────

export interface FrameSpec {
  op: number;
  data?: Bytes;
  /** Default true. */
  fin?: boolean;
  /** RSV bits as a 3-bit number, Autobahn's way: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
  rsv?: number;
}

/** A frame header (2–14 bytes) for a payload of `length`, with `maskKey` when masked. */
export function frameHeader(
  op: number,
  length: number,
  fin: boolean,
  rsv: number,
  maskKey: Uint8Array | null,
): Buffer {
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const h = Buffer.alloc(2 + ext + (maskKey ? 4 : 0));
  h[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (op & 0x0f);
  h[1] = (maskKey ? 0x80 : 0) | (ext === 0 ? length : ext === 2 ? 126 : 127);
  if (ext === 2) h.writeUInt16BE(length, 2);
  if (ext === 8) h.writeBigUInt64BE(BigInt(length), 2);
  if (maskKey) h.set(maskKey, 2 + ext);
  return h;
}

/** XOR with the key, starting at key position `offset`; returns a new buffer. */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  const n = data.length;
  let i = 0;
  // four bytes at a time through a 32-bit view of the key as it lines up
  const k = Buffer.from([
    key[offset & 3]!,
    key[(offset + 1) & 3]!,
    key[(offset + 2) & 3]!,
    key[(offset + 3) & 3]!,
  ]).readUInt32LE(0);
  const src = Buffer.from(data.buffer, data.byteOffset, n);
  for (; i + 4 <= n; i += 4) out.writeUInt32LE((src.readUInt32LE(i) ^ k) >>> 0, i);
  for (; i < n; i++) out[i] = src[i]! ^ key[(offset + i) & 3]!;
  return out;
}

let keySeed = 0x1234567;
/** Mask keys that vary from frame to frame (deterministic: failures replay). */
export function nextMaskKey(): Uint8Array {
  keySeed = (Math.imul(keySeed, 1103515245) + 12345) >>> 0;
  const k = Buffer.alloc(4);
  k.writeUInt32BE(keySeed);
  return k;
}

export function encodePeerFrame(f: FrameSpec, masked: boolean): Buffer {
  const payload = bytesOf(f.data ?? '');
  const key = masked ? nextMaskKey() : null;
  const head = frameHeader(f.op, payload.length, f.fin ?? true, f.rsv ?? 0, key);
  return Buffer.concat([head, key ? applyMask(payload, key) : payload]);
}

// ── frames the implementation sends ─────────────────────────────────────────

export interface WireFrame {
  fin: boolean;
  rsv: number;
  op: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Incremental reader of the implementation's frames. Linear in the bytes read: chunks
 * are queued and a frame's payload is gathered once, when all of it has arrived.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #avail = 0;

  push(chunk: Buffer): WireFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#avail += chunk.length;
    }
    const out: WireFrame[] = [];
    for (;;) {
      if (this.#avail < 2) return out;
      const h = this.#peek(Math.min(14, this.#avail));
      const len7 = h[1]! & 0x7f;
      const masked = (h[1]! & 0x80) !== 0;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const hlen = 2 + ext + (masked ? 4 : 0);
      if (h.length < hlen) return out;
      const length =
        ext === 0 ? len7 : ext === 2 ? h.readUInt16BE(2) : Number(h.readBigUInt64BE(2));
      if (this.#avail < hlen + length) return out;
      this.#take(hlen);
      let payload = this.#take(length);
      if (masked) payload = applyMask(payload, h.subarray(2 + ext, 2 + ext + 4));
      out.push({
        fin: (h[0]! & 0x80) !== 0,
        rsv: (h[0]! >> 4) & 7,
        op: h[0]! & 0x0f,
        masked,
        payload,
      });
    }
  }

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.#avail;
  }

  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#chunks).subarray(0, n);
  }

  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    this.#avail -= n;
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.#chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.#chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.#chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    return Buffer.concat(parts, n);
  }
}

// ── the driver contract ─────────────────────────────────────────────────────

/** Settings of the implementation's echo endpoint for one case. */
export interface ImplOptions {
  /** The implementation fragments what it sends (Session `fragmentSize`). */
  fragmentSize?: number;
  /** permessage-deflate of the implementation (its route's or its client's option). */
  perMessageDeflate?: DeflateOptions;
  /**
   * Sec-WebSocket-Extensions of the peer: with a server under test, the offer the peer
   * makes; with a client under test, the answer the peer gives when the client offered
   * permessage-deflate (no answer otherwise).
   */
  peerExtensions?: string;
}

/** The implementation's route or client options for one case's ImplOptions. */
export function implOptions(opts: ImplOptions): {
  fragmentSize?: number;
  perMessageDeflate?: DeflateOptions;
} {
  return {
    ...(opts.fragmentSize !== undefined && { fragmentSize: opts.fragmentSize }),
    ...(opts.perMessageDeflate !== undefined && { perMessageDeflate: opts.perMessageDeflate }),
  };
}

/** Whether a request's Sec-WebSocket-Extensions offers permessage-deflate. */
export function offersDeflate(header: string | undefined): boolean {
  return (header ?? '').split(',').some((e) => e.split(';')[0]!.trim() === 'permessage-deflate');
}

/** One WebSocket to the implementation, seen as the raw byte stream after the handshake. */
export interface PeerStream {
  /** Write bytes; resolves once they are handed to the OS (or the stream is gone). */
  write(data: Uint8Array): Promise<void>;
  /** Receive the implementation's bytes (those that followed the handshake come first). */
  onData(cb: (chunk: Buffer) => void): void;
  /** Graceful end of our direction (TCP FIN / END_STREAM / QUIC FIN). */
  end(): void;
  /** Abrupt close (the peer gives up: Autobahn's "kill"). */
  destroy(): void;
  /** Resolves when the implementation ended its direction (FIN) or the stream died. */
  readonly ended: Promise<void>;
  /** Resolves when the stream is fully closed. */
  readonly closed: Promise<void>;
  /** Whether the stream died by a reset/error rather than an orderly end. */
  reset(): boolean;
  /** How the stream died when it was not an orderly end, for the trace (e.g. "RST_STREAM CANCEL"). */
  resetHow?(): string;
  /**
   * HTTP/2: the stream ended because the whole connection ended in order (GOAWAY NO_ERROR,
   * or its TCP end without an error), not with END_STREAM of its own.
   */
  endedWithConnection?(): boolean;
  /**
   * The agreed Sec-WebSocket-Extensions: the server's response when the implementation
   * is the server; the peer's answer when it is the client (undefined without an offer).
   */
  readonly extensions?: string | undefined;
  /**
   * The implementation's session, when it runs in this process (omniws under test): how it
   * ended, and how many times terminate ran. Absent for an implementation elsewhere.
   */
  readonly impl?: { readonly terminated: Promise<CloseReason>; terminateCalls(): number };
}

export interface PeerDriver {
  /** 'h1', 'h2' or 'h3'. */
  readonly transport: string;
  /**
   * The implementation is someone else's (a server at a URL, a client that connected): its
   * endpoint cannot be configured per case, so the runner judges by the RFCs alone, not by
   * omniws' settings (see RunOptions in runner.ts).
   */
  readonly foreign?: boolean;
  /** The role of the implementation under test. */
  readonly implRole: 'server' | 'client';
  open(opts: ImplOptions): Promise<PeerStream>;
  close(): Promise<void>;
}
