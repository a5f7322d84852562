// HTTP/3 Transport: the request stream of an extended CONNECT after its 2xx, either
// side (RFC 9220). WebSocket bytes travel in DATA frames; writes made within one tick
// leave as one DATA frame. Graceful end is the stream's FIN after the close handshake;
// `abort` resets the stream both ways with H3_REQUEST_CANCELLED (RFC 9220 §3: "the
// equivalent of a TCP RST"), or H3_GENERAL_PROTOCOL_ERROR for a protocol failure.
//
// Backpressure: `write` returns false once the bytes QUIC has not taken yet pass
// HIGH_WATER_MARK; the sink's onDrain follows when they have all been taken. A peer's
// reset, STOP_SENDING or a lost connection reports an error, resets what is left of
// the stream and closes the transport.

import { WebSocketError } from '../ws/errors.js';
import type { PathStats, Transport, TransportInfo, TransportSink } from '../ws/transport.js';
import { H3_GENERAL_PROTOCOL_ERROR, H3_REQUEST_CANCELLED } from './errors.js';
import type { H3Stream } from './stream.js';

/** Queued bytes above which `write` returns false. */
export const HIGH_WATER_MARK = 256 * 1024;

export class H3Transport implements Transport {
  readonly info: TransportInfo;
  /** A stream has no TIME_WAIT: the client ends its side once the close handshake is done. */
  readonly clientEndsFirst = true;
  readonly #stream: H3Stream;
  #corked: Uint8Array[] | null = null;
  #corkedBytes = 0;
  #ended = false;
  #aborted = false;
  #needDrain = false;
  #closed = false;

  constructor(stream: H3Stream) {
    this.#stream = stream;
    const q = stream.connection.quic;
    this.info = {
      http: '3',
      secure: true,
      remoteAddress: q.remoteAddress,
      remotePort: q.remotePort,
      localAddress: q.localAddress,
      localPort: q.localPort,
    };
  }

  /** The QUIC connection's RTT, congestion window, path MTU and counters. */
  pathStats(): PathStats {
    return this.#stream.connection.quic.stats();
  }

  /** Client: QUIC connection migration to a new local port (every stream on it moves). */
  async migrate(): Promise<{ address: string; port: number }> {
    const q = this.#stream.connection.quic;
    if (!q.migrate || q.role !== 'client') {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'only a client moves its QUIC connection');
    }
    try {
      const local = await q.migrate();
      return { address: local.host, port: local.port };
    } catch (err) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', (err as Error).message, { cause: err });
    }
  }

  /** The request stream underneath (id, connection), for diagnostics and tests. */
  get stream(): H3Stream {
    return this.#stream;
  }

  attach(sink: TransportSink): void {
    const s = this.#stream;
    const close = () => {
      if (this.#closed) return;
      this.#closed = true;
      this.#corked = null;
      sink.onClose();
    };
    s.setSink({
      onHeaders() {
        // trailers cannot reach us: the stream is a tunnel (RFC 9114 §4.4)
      },
      onData: (chunk) => sink.onData(chunk),
      onEnd: () => sink.onEnd(),
      onAbort: (err) => {
        if (!this.#aborted) sink.onError(err);
        // a tunnel broken in one direction is broken: reset what is left (RFC 9220 §3)
        s.reset(H3_REQUEST_CANCELLED);
      },
      onDrain: () => {
        if (!this.#needDrain || this.bufferedAmount() > 0) return;
        this.#needDrain = false;
        sink.onDrain();
      },
      onClose: close,
    });
    if (s.closed) queueMicrotask(close);
  }

  write(chunks: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.#ended || this.#closed || this.#stream.writableEnded) return false;
    if (this.#corked === null) {
      this.#corked = [];
      this.#stream.connection.cork(this);
    }
    if (chunks instanceof Uint8Array) {
      this.#corked.push(chunks);
      this.#corkedBytes += chunks.length;
    } else {
      for (const c of chunks) {
        this.#corked.push(c);
        this.#corkedBytes += c.length;
      }
    }
    if (this.bufferedAmount() < HIGH_WATER_MARK) return true;
    this.#needDrain = true;
    return false;
  }

  /** Send what was written this tick as one DATA frame. */
  uncork(): void {
    const list = this.#corked;
    if (list === null) return;
    this.#corked = null;
    this.#corkedBytes = 0;
    if (!this.#closed && list.length > 0) this.#stream.sendData(list);
  }

  bufferedAmount(): number {
    return this.#corkedBytes + this.#stream.bufferedAmount();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.uncork();
    this.#stream.end();
  }

  abort(kind: 'cancel' | 'protocol'): void {
    if (this.#closed) return;
    this.#aborted = true;
    this.#ended = true;
    this.#corked = null;
    this.#corkedBytes = 0;
    this.#stream.reset(kind === 'cancel' ? H3_REQUEST_CANCELLED : H3_GENERAL_PROTOCOL_ERROR);
  }

  pause(): void {
    this.#stream.pause();
  }

  resume(): void {
    this.#stream.resume();
  }
}
