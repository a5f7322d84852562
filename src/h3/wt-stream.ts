// One stream of a WebTransport session (draft-ietf-webtrans-http3 §4.2-4.3): raw bytes
// after the stream header, in either direction a bidirectional stream has, or the one a
// unidirectional stream has. Reading pushes back: while the consumer is paused (or not
// there yet and `maxPending` bytes wait) QUIC stops reading, and flow control stops the
// peer. Writing never drops: what QUIC cannot take waits, `write` returns false above
// `highWaterMark`, and `onDrain` says when it is worth writing again.

import { HeldEvents } from './held-events.js';
import type { QuicConnection } from './quic.js';
import { h3ToWtCode, WT_SESSION_GONE, wtToH3Code } from './wt-wire.js';

/** Where a stream's events go. */
export interface WtStreamSink {
  onData(chunk: Uint8Array): void;
  /** The peer finished its side (FIN). */
  onEnd(): void;
  /**
   * The peer reset its side (`reset`) or asked us to stop sending (`stopped`), with its
   * WebTransport error code (null: a code outside WebTransport's range, or the session went).
   */
  onAbort(how: 'reset' | 'stopped', code: number | null): void;
  /** What was written has been handed to QUIC. */
  onDrain(): void;
  /** Both directions are done; nothing more will come. */
  onClose(): void;
}

/** What a stream needs of its session: QUIC, and to be told when it is done. */
export interface WtStreamHost {
  readonly quic: QuicConnection;
  streamClosed(s: WtStream): void;
}

const HIGH_WATER_MARK = 64 * 1024;

type Pending =
  | { t: 'data'; chunk: Uint8Array }
  | { t: 'end' }
  | { t: 'abort'; how: 'reset' | 'stopped'; code: number | null }
  | { t: 'close' };

export class WtStream {
  readonly id: number;
  readonly kind: 'bidi' | 'uni';
  /** The peer opened it. */
  readonly incoming: boolean;
  readonly #host: WtStreamHost;
  #sink: WtStreamSink | null = null;
  readonly #held: HeldEvents<Pending>;
  #readDone: boolean;
  #writeDone: boolean;
  #closed = false;

  constructor(host: WtStreamHost, id: number, kind: 'bidi' | 'uni', incoming: boolean) {
    this.#host = host;
    this.id = id;
    this.kind = kind;
    this.incoming = incoming;
    this.#held = new HeldEvents(host.quic, id);
    // a unidirectional stream has one side only
    this.#readDone = kind === 'uni' && !incoming;
    this.#writeDone = kind === 'uni' && incoming;
  }

  get readable(): boolean {
    return !this.#readDone;
  }

  get writable(): boolean {
    return !this.#writeDone;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedAmount(): number {
    return this.#host.quic.bufferedAmount(this.id);
  }

  /** Start delivering events (those kept so far first). */
  setSink(sink: WtStreamSink): void {
    this.#sink = sink;
    this.#held.release((p) => this.#deliver(p), this.#closed);
  }

  /** Queue bytes (a string as UTF-8); false once more than the high-water mark waits for QUIC. */
  write(chunk: Uint8Array | string): boolean {
    if (this.#writeDone)
      throw new Error(`stream ${this.id} cannot be written (ended or receive-only)`);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('write a Uint8Array or a string');
    if (bytes.length > 0) this.#host.quic.write(this.id, bytes);
    return this.bufferedAmount < HIGH_WATER_MARK;
  }

  /** FIN: our side is done. */
  end(): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#host.quic.write(this.id, [], true);
    this.#maybeClose();
  }

  /** RESET_STREAM with a WebTransport error code (0 … 2^32-1). */
  reset(code = 0): void {
    if (this.#writeDone && this.#closed) return;
    const h3 = Number(wtToH3Code(code));
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#host.quic.resetStream(this.id, h3);
    }
    this.#maybeClose();
  }

  /** STOP_SENDING with a WebTransport error code: what arrives is dropped. */
  stopSending(code = 0): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.#host.quic.stopSending(this.id, Number(wtToH3Code(code)));
    this.#held.clear();
    this.#maybeClose();
  }

  pause(): void {
    this.#held.pause();
  }

  resume(): void {
    this.#held.resume();
  }

  // ── from the session ──────────────────────────────────────────────────────

  /** @internal */
  receive(data: Uint8Array, fin: boolean): void {
    if (this.#readDone) return;
    if (data.length > 0) this.#emit({ t: 'data', chunk: data });
    if (fin) {
      this.#readDone = true;
      this.#emit({ t: 'end' });
      this.#maybeClose();
    }
  }

  /** @internal The peer reset its side or stopped reading ours (an HTTP/3 error code). */
  peerAborted(how: 'reset' | 'stopped', h3Code: number | null): void {
    if (how === 'reset') {
      if (this.#readDone) return;
      this.#readDone = true;
    } else {
      if (this.#writeDone) return;
      this.#writeDone = true; // quiche answers STOP_SENDING with RESET_STREAM (RFC 9000 §3.5)
    }
    this.#emit({ t: 'abort', how, code: h3Code === null ? null : h3ToWtCode(h3Code) });
    this.#maybeClose();
  }

  /** @internal */
  drained(): void {
    if (!this.#closed) this.#sink?.onDrain();
  }

  /** @internal The session is gone: both directions end with WT_SESSION_GONE. */
  sessionGone(): void {
    if (this.#closed) return;
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#host.quic.resetStream(this.id, WT_SESSION_GONE);
    }
    if (!this.#readDone) {
      this.#readDone = true;
      this.#host.quic.stopSending(this.id, WT_SESSION_GONE);
      this.#emit({ t: 'abort', how: 'reset', code: null });
    }
    this.#maybeClose();
  }

  #maybeClose(): void {
    if (this.#closed || !this.#readDone || !this.#writeDone) return;
    this.#closed = true;
    this.#emit({ t: 'close' });
    this.#host.streamClosed(this);
  }

  #emit(p: Pending): void {
    if (this.#sink) {
      this.#deliver(p);
      return;
    }
    this.#held.hold(p, p.t === 'data' ? p.chunk.length : 0);
  }

  #deliver(p: Pending): void {
    const s = this.#sink!;
    try {
      switch (p.t) {
        case 'data':
          s.onData(p.chunk);
          return;
        case 'end':
          s.onEnd();
          return;
        case 'abort':
          s.onAbort(p.how, p.code);
          return;
        case 'close':
          s.onClose();
      }
    } catch {
      // a consumer that throws loses its stream, not the session
      this.reset(0);
      this.stopSending(0);
    }
  }
}
