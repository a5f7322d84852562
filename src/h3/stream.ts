// One HTTP/3 request stream (RFC 9114 §4.1), either role: decodes and validates its
// frames, keeps events until the reader sets its sink (pausing the stream while they
// pile up), and ends when both directions are done.
//
// The stream knows its connection only through H3StreamHost (role, limits, and the
// callbacks for a request head, a consumer that threw, and a closed stream).

import {
  H3_FRAME_UNEXPECTED,
  H3_NO_ERROR,
  H3_REQUEST_CANCELLED,
  H3_REQUEST_REJECTED,
  H3Error,
} from './errors.js';
import {
  encodeDataHeader,
  encodeHeadersFrame,
  FrameDecoder,
  type FrameEvent,
  RequestStreamValidator,
  type Role,
} from './frames.js';
import { HeldEvents } from './held-events.js';
import { qlogHeaders } from './qlog.js';
import { decodeFieldSection, encodeFieldSection, type Header } from './qpack.js';
import type { QuicConnection } from './quic.js';

/** What a stream needs of its connection (H3Connection is one). */
export interface H3StreamHost {
  readonly role: Role;
  readonly quic: QuicConnection;
  readonly maxFieldSectionSize: number;
  /** Throws when the peer's SETTINGS_MAX_FIELD_SECTION_SIZE refuses `fields`. */
  checkFieldSection(fields: readonly Header[]): void;
  /** A request's header section (server). */
  requestArrived(s: H3Stream, fields: Header[]): void;
  /** The stream is done in both directions. */
  streamClosed(s: H3Stream): void;
  /** The stream's consumer threw. */
  streamFailed(s: H3Stream, err: unknown): void;
  /**
   * Call `c.uncork()` before the connection's next packets are made, or at the end of
   * this tick, whichever comes first.
   */
  cork(c: Corked): void;
}

/** A writer that holds a tick's writes to hand them to QUIC at once. */
export interface Corked {
  uncork(): void;
}

/** What a request stream's reader receives. */
export interface H3StreamSink {
  /** A header section: a response (client; interim ones included) or trailers. */
  onHeaders(fields: Header[], trailers: boolean): void;
  /** DATA payload bytes (the chunk is the receiver's). */
  onData(chunk: Uint8Array): void;
  /** The peer finished its side (FIN). */
  onEnd(): void;
  /** The stream ended abruptly: the peer reset it or stopped reading, or the connection went. */
  onAbort(err: H3Error): void;
  /** Bytes queued by `sendData` have all been handed to QUIC. */
  onDrain(): void;
  /**
   * Client, before the response: the server stopped reading the request (STOP_SENDING),
   * and its response may still come (RFC 9114 §4.1.1). A sink without it gets `onAbort`.
   */
  onStopped?(code: number | null): void;
  /** The stream is done in both directions; nothing more will be delivered. */
  onClose(): void;
}

type Pending =
  | { t: 'headers'; fields: Header[]; trailers: boolean }
  | { t: 'data'; chunk: Uint8Array }
  | { t: 'end' }
  | { t: 'abort'; err: H3Error }
  | { t: 'stopped'; code: number | null }
  | { t: 'close' };

/** A request stream (client-initiated bidirectional) from either side. */
export class H3Stream {
  readonly id: number;
  readonly connection: H3StreamHost;
  readonly #quic: QuicConnection;
  readonly #decoder: FrameDecoder;
  readonly #validator: RequestStreamValidator;
  #sink: H3StreamSink | null = null;
  readonly #held: HeldEvents<Pending>;
  #headersSeen = false;
  #headTimer: NodeJS.Timeout | null = null;
  #tunnel = false;
  #readDone = false;
  #writeDone = false;
  #closed = false;
  #abortReported = false;

  /** @internal */
  constructor(connection: H3StreamHost, quic: QuicConnection, id: number, maxFrameSize: number) {
    this.connection = connection;
    this.#quic = quic;
    this.id = id;
    this.#validator = new RequestStreamValidator(connection.role);
    this.#decoder = new FrameDecoder({ maxFrameSize, validator: this.#validator });
    this.#held = new HeldEvents(quic, id);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether our sending side is finished (FIN queued, or reset). */
  get writableEnded(): boolean {
    return this.#writeDone;
  }

  /**
   * After a 2xx to CONNECT (RFC 9114 §4.4): "only DATA frames are permitted to be sent
   * on the stream … Receipt of any other known frame type MUST be treated as a
   * connection error of type H3_FRAME_UNEXPECTED."
   */
  becomeTunnel(): void {
    this.#tunnel = true;
  }

  /** Start delivering events (those kept so far first). */
  setSink(sink: H3StreamSink): void {
    this.#sink = sink;
    this.#held.release((p) => this.#deliver(p), this.#closed);
  }

  /** Send a header section; with `end`, our side ends with it. */
  sendHeaders(fields: readonly Header[], end = false): void {
    if (this.#writeDone || this.#closed) return;
    this.connection.checkFieldSection(fields);
    const section = encodeFieldSection(fields);
    const q = this.#quic.qlog;
    if (q) {
      const headers = qlogHeaders(fields);
      q.event('qpack:headers_encoded', { stream_id: this.id, headers, length: section.length });
      q.event('http:frame_created', {
        stream_id: this.id,
        length: section.length,
        frame: { frame_type: 'headers', headers },
      });
    }
    this.#quic.write(this.id, encodeHeadersFrame(section), end);
    if (end) this.#endWrite();
  }

  /** Send one DATA frame carrying `chunks` (nothing for no bytes); with `end`, then FIN. */
  sendData(chunks: Uint8Array | readonly Uint8Array[], end = false): void {
    if (this.#writeDone || this.#closed) return;
    const list = chunks instanceof Uint8Array ? [chunks] : chunks;
    let length = 0;
    for (const c of list) length += c.length;
    if (length > 0) {
      this.#quic.qlog?.event('http:frame_created', {
        stream_id: this.id,
        length,
        frame: { frame_type: 'data' },
      });
      this.#quic.write(this.id, [encodeDataHeader(length), ...list], end);
    } else if (end) this.#quic.write(this.id, [], true);
    if (end) this.#endWrite();
  }

  /** FIN: our side is done. */
  end(): void {
    if (this.#writeDone || this.#closed) return;
    this.#quic.write(this.id, [], true);
    this.#endWrite();
  }

  /** Bytes queued and not yet handed to QUIC. */
  bufferedAmount(): number {
    return this.#quic.bufferedAmount(this.id);
  }

  /**
   * Abort both directions with `code` (RESET_STREAM + STOP_SENDING, RFC 9114 §4.1.1):
   * H3_REQUEST_CANCELLED for a cancelled request or WebSocket.
   */
  reset(code: number = H3_REQUEST_CANCELLED): void {
    if (this.#closed) return;
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#quic.resetStream(this.id, code);
    }
    if (!this.#readDone) {
      this.#readDone = true;
      this.#quic.stopSending(this.id, code);
    }
    this.#maybeClose();
  }

  /** Stop reading without aborting our response (RFC 9114 §4.1: a response ahead of a full request). */
  stopReading(code: number = H3_NO_ERROR): void {
    if (this.#readDone || this.#closed) return;
    this.#readDone = true;
    this.#quic.stopSending(this.id, code);
    this.#maybeClose();
  }

  pause(): void {
    this.#held.pause();
  }

  resume(): void {
    this.#held.resume();
  }

  /**
   * @internal Server: reset the stream (H3_REQUEST_REJECTED) unless its request header
   * section has arrived within `ms` — a peer trickling a HEADERS frame holds nothing for long.
   */
  expectHeadWithin(ms: number): void {
    if (this.#headersSeen || this.#closed) return;
    this.#headTimer = setTimeout(() => {
      this.#headTimer = null;
      if (!this.#headersSeen) this.reset(H3_REQUEST_REJECTED);
    }, ms);
    this.#headTimer.unref();
  }

  #clearHeadTimer(): void {
    if (this.#headTimer === null) return;
    clearTimeout(this.#headTimer);
    this.#headTimer = null;
  }

  // ── from the connection ───────────────────────────────────────────────────

  /** @internal Stream bytes from QUIC; throws H3Error on violations. */
  receive(data: Uint8Array, fin: boolean): void {
    if (this.#readDone) return;
    const events = data.length > 0 ? this.#decoder.push(data) : [];
    for (const e of events) this.#onFrame(e);
    if (fin) {
      this.#decoder.end();
      this.#readDone = true;
      this.#emit({ t: 'end' });
      this.#maybeClose();
    }
  }

  #onFrame(e: FrameEvent): void {
    switch (e.type) {
      case 'headers': {
        if (this.#tunnel)
          throw new H3Error(H3_FRAME_UNEXPECTED, 'HEADERS frame on a CONNECT tunnel');
        const fields = decodeFieldSection(e.fieldSection, this.connection.maxFieldSectionSize);
        const q = this.#quic.qlog;
        if (q) {
          const headers = qlogHeaders(fields);
          const length = e.fieldSection.length;
          q.event('qpack:headers_decoded', { stream_id: this.id, headers, length });
          q.event('http:frame_parsed', {
            stream_id: this.id,
            length,
            frame: { frame_type: 'headers', headers },
          });
        }
        const trailers = this.#headersSeen;
        this.#headersSeen = true;
        if (!trailers && this.connection.role === 'client') {
          const status = fields.find(([n]) => n === ':status')?.[1] ?? '';
          // RFC 9114 §4.1: interim (1xx) responses come before the final one
          if (/^1\d\d$/.test(status)) {
            this.#validator.interimResponse();
            this.#headersSeen = false;
          }
        }
        if (!trailers && this.connection.role === 'server') {
          this.#clearHeadTimer();
          this.connection.requestArrived(this, fields);
          return;
        }
        this.#emit({ t: 'headers', fields, trailers });
        return;
      }
      case 'data':
        if (e.chunk.length > 0) {
          // one event per piece read (a DATA frame may arrive in several)
          this.#quic.qlog?.event('http:frame_parsed', {
            stream_id: this.id,
            length: e.chunk.length,
            frame: { frame_type: 'data' },
          });
          this.#emit({ t: 'data', chunk: e.chunk });
        }
        return;
      default:
      // unknown and reserved frame types: RFC 9114 §9, ignored (the decoder skipped them)
    }
  }

  /** @internal The peer reset its side (RESET_STREAM) or stopped reading ours (STOP_SENDING). */
  peerAborted(code: number | null, direction: 'reset' | 'stopped'): void {
    if (
      direction === 'stopped' &&
      this.connection.role === 'client' &&
      !this.#headersSeen &&
      !this.#readDone
    ) {
      // RFC 9114 §4.1.1: a server may answer before the request is complete and then stop
      // reading it; "clients MUST NOT discard complete responses as a result of having
      // their request terminated abruptly". The STOP_SENDING may overtake the response
      // (it is small: before address validation it fits where the response does not)
      this.#writeDone = true;
      this.#emit({ t: 'stopped', code });
      this.#maybeClose();
      return;
    }
    if (direction === 'reset') this.#readDone = true;
    else this.#writeDone = true;
    const what = direction === 'reset' ? 'reset the stream' : 'stopped reading the stream';
    this.#abort(new H3Error(code ?? H3_REQUEST_CANCELLED, `the peer ${what}`, { scope: 'stream' }));
    this.#maybeClose();
  }

  /** @internal The connection is gone. */
  connectionClosed(err: H3Error): void {
    if (this.#closed) return;
    this.#readDone = true;
    this.#writeDone = true;
    this.#abort(err);
    this.#maybeClose();
  }

  /** @internal */
  drained(): void {
    if (!this.#closed) this.#sink?.onDrain();
  }

  #abort(err: H3Error): void {
    if (this.#abortReported || this.#closed) return;
    this.#abortReported = true;
    this.#emit({ t: 'abort', err });
  }

  #endWrite(): void {
    this.#writeDone = true;
    this.#maybeClose();
  }

  #maybeClose(): void {
    if (this.#closed || !this.#readDone || !this.#writeDone) return;
    this.#closed = true;
    this.#clearHeadTimer();
    this.#emit({ t: 'close' });
    this.connection.streamClosed(this);
  }

  #emit(p: Pending): void {
    if (this.#sink) {
      this.#deliver(p);
      return;
    }
    this.#held.hold(p, p.t === 'data' ? p.chunk.length : 0);
  }

  #deliver(p: Pending): void {
    try {
      this.#dispatch(this.#sink!, p);
    } catch (err) {
      // a consumer that throws loses its stream, not the connection with everyone on it
      this.connection.streamFailed(this, err);
    }
  }

  #dispatch(s: H3StreamSink, p: Pending): void {
    switch (p.t) {
      case 'headers':
        s.onHeaders(p.fields, p.trailers);
        return;
      case 'data':
        s.onData(p.chunk);
        return;
      case 'end':
        s.onEnd();
        return;
      case 'abort':
        s.onAbort(p.err);
        return;
      case 'stopped':
        if (s.onStopped) s.onStopped(p.code);
        else {
          this.#abortReported = true;
          s.onAbort(
            new H3Error(p.code ?? H3_REQUEST_CANCELLED, 'the peer stopped reading the stream', {
              scope: 'stream',
            }),
          );
        }
        return;
      case 'close':
        s.onClose();
    }
  }
}
