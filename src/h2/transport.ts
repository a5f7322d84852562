// HTTP/2 Transport: the Http2Stream of an extended CONNECT after its 2xx, either side.
//
// Graceful end is END_STREAM after the close handshake (`stream.end()`), never
// RST_STREAM: RFC 8441 §4 makes END_STREAM the TCP FIN and RST_STREAM the TCP RST,
// and browsers report a reset as a failed WebSocket. `abort` is RST_STREAM CANCEL
// alone (or PROTOCOL_ERROR). Writes within one tick are corked into one writev, as on h1.
// The stream's 'error' is always listened to: a peer's reset ends the session with
// 1006, it never throws out of an event emitter.

import { constants, type Http2Stream } from 'node:http2';
import { addAbortSignal } from 'node:stream';
import type { Transport, TransportInfo, TransportSink } from '../ws/transport.js';

const { NGHTTP2_PROTOCOL_ERROR, NGHTTP2_NO_ERROR } = constants;

export class H2Transport implements Transport {
  readonly info: TransportInfo;
  /** A stream has no TIME_WAIT: the client ends its side once the close handshake is done. */
  readonly clientEndsFirst = true;
  readonly #stream: Http2Stream;
  #corked = false;
  #ended = false;
  #aborted = false;

  constructor(stream: Http2Stream, secure: boolean) {
    this.#stream = stream;
    // the session's socket is a proxy object that forwards to the TCP/TLS socket
    const socket = stream.session?.socket;
    this.info = {
      http: '2',
      secure,
      remoteAddress: socket?.remoteAddress,
      remotePort: socket?.remotePort,
      localAddress: socket?.localAddress,
      localPort: socket?.localPort,
    };
    stream.setTimeout(0);
    // a session destroyed with an error destroys its streams with it: never unhandled
    stream.on('error', noop);
  }

  /** The underlying stream (id, session, state), for diagnostics and tests. */
  get stream(): Http2Stream {
    return this.#stream;
  }

  attach(sink: TransportSink): void {
    const s = this.#stream;
    let closed = false;
    let resetReported = false;
    // a reset we did not ask for (the peer's RST_STREAM, a GOAWAY, a dead session);
    // node emits 'aborted' before the readable side ends, so the session learns why
    const reportReset = () => {
      if (resetReported || this.#aborted) return;
      if (s.rstCode === undefined || s.rstCode === NGHTTP2_NO_ERROR) return;
      resetReported = true;
      sink.onError(new Error(`HTTP/2 stream reset (RST_STREAM code ${s.rstCode})`));
    };
    const close = () => {
      if (closed) return;
      closed = true;
      reportReset();
      sink.onClose();
    };
    s.on('data', (chunk: Buffer) => sink.onData(chunk));
    s.on('aborted', reportReset);
    s.on('end', () => sink.onEnd());
    s.on('error', (err: Error) => {
      // our own abort surfaces as an AbortError: not news to the session
      if (!(this.#aborted && err.name === 'AbortError')) sink.onError(err);
    });
    s.on('drain', () => sink.onDrain());
    s.on('close', close);
    if (s.destroyed || s.closed) {
      // closed before we attached: report it once
      queueMicrotask(close);
    } else if (s.isPaused()) {
      s.resume();
    }
  }

  write(chunks: Uint8Array | readonly Uint8Array[]): boolean {
    const s = this.#stream;
    if (this.#ended || s.destroyed) return false;
    if (!this.#corked) {
      this.#corked = true;
      s.cork();
      process.nextTick(uncork, this);
    }
    let ok = true;
    if (chunks instanceof Uint8Array) ok = s.write(chunks);
    else for (const c of chunks) ok = s.write(c);
    return ok;
  }

  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#stream.uncork();
  }

  bufferedAmount(): number {
    return this.#stream.bufferSize;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.uncork();
    const s = this.#stream;
    // END_STREAM on an empty DATA frame once everything queued has gone
    if (!s.destroyed) s.end();
  }

  abort(kind: 'cancel' | 'protocol'): void {
    const s = this.#stream;
    if (s.destroyed || s.closed) return;
    this.#aborted = true;
    this.#ended = true;
    if (kind === 'cancel') {
      // `close(NGHTTP2_CANCEL)` would end the writable side first: END_STREAM, then the
      // reset. Destroying with an AbortError (what addAbortSignal does) sends RST_STREAM
      // CANCEL alone, as a TCP RST would be.
      const ac = new AbortController();
      addAbortSignal(ac.signal, s);
      ac.abort();
    } else {
      s.close(NGHTTP2_PROTOCOL_ERROR);
    }
  }

  pause(): void {
    if (!this.#stream.destroyed) this.#stream.pause();
  }

  resume(): void {
    if (!this.#stream.destroyed) this.#stream.resume();
  }
}

function uncork(t: H2Transport): void {
  t.uncork();
}

function noop(): void {}
