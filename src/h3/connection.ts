// One HTTP/3 connection (RFC 9114) over a QuicConnection, either role: our control
// stream and SETTINGS, the peer's unidirectional streams, request streams, GOAWAY,
// and the mapping of every protocol violation to its HTTP/3 error code.
//
// The caller creates an H3Connection as the QUIC connection's handler (it implements
// QuicConnectionHandler) the moment the handshake completes, so it sees every stream.
// A server learns of requests through `onRequest(stream, fields)`; a client opens them
// with `request(fields)`. Either then reads the stream (an H3Stream, stream.ts) through
// its sink.
//
// QPACK: we advertise a dynamic table capacity of 0 and never open an encoder or a
// decoder stream (RFC 9204 §4.2: "An endpoint MAY avoid creating an encoder stream if
// it will not be used … MAY avoid creating a decoder stream if its decoder sets the
// maximum capacity of the dynamic table to zero"). The peer's are accepted and read.

import { randomInt } from 'node:crypto';
import { WebSocketError } from '../ws/errors.js';
import {
  H3_CLOSED_CRITICAL_STREAM,
  H3_ID_ERROR,
  H3_INTERNAL_ERROR,
  H3_NO_ERROR,
  H3_REQUEST_REJECTED,
  H3_STREAM_CREATION_ERROR,
  H3Error,
} from './errors.js';
import {
  ControlStreamValidator,
  encodeGoaway,
  encodeSettings,
  FrameDecoder,
  type FrameEvent,
  type Role,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_MAX_FIELD_SECTION_SIZE,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
  type Settings,
  STREAM_CONTROL,
  STREAM_PUSH,
  STREAM_QPACK_DECODER,
  STREAM_QPACK_ENCODER,
} from './frames.js';
import { qlogSettingName, qlogSettings } from './qlog.js';
import { DecoderStreamParser, fieldSectionSize, type Header, parseEncoderStream } from './qpack.js';
import { describeClose, type QuicCloseInfo, type QuicConnection } from './quic.js';
import { type Corked, H3Stream, type H3StreamHost } from './stream.js';
import { decodeVarint, decodeVarintBig } from './varint.js';
import type { WtSession } from './wt-session.js';
import {
  decodeDatagram,
  offersWebTransport,
  readSessionId,
  WT_BUFFERED_STREAM_REJECTED,
  WT_STREAM_SIGNAL,
  WT_UNI_STREAM_TYPE,
  WtWireError,
  webTransportSettings,
} from './wt-wire.js';

/** Streams that name a session not (yet) known, kept per connection at most. */
const MAX_ORPHAN_STREAMS = 16;
/** A WebTransport stream's header must be complete within this many bytes. */
const MAX_WT_HEADER = 16;

/** Our SETTINGS_MAX_FIELD_SECTION_SIZE unless told otherwise. */
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 64 * 1024;

/** Settings of an H3Connection: its role, extended CONNECT, header-section size and timeout. */
export interface H3ConnectionOptions {
  role: Role;
  /** Send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 9220 §3); servers with WebSocket routes. */
  enableConnectProtocol?: boolean;
  /** Our SETTINGS_MAX_FIELD_SECTION_SIZE: the largest header section we accept. */
  maxFieldSectionSize?: number;
  /**
   * Server: a request stream whose header section has not arrived this many ms after its
   * first byte is reset with H3_REQUEST_REJECTED (default: no limit).
   */
  requestHeadTimeout?: number;
  /**
   * Server: a request that is not safe to replay (RFC 9110 §9.2.1: any method but GET,
   * HEAD, OPTIONS and TRACE; every extended CONNECT) arriving in 0-RTT data either waits
   * until the handshake completes ('wait', the default) or is answered 425 Too Early
   * ('reject'), so that the client retries it after the handshake (RFC 8470 §5.2).
   */
  earlyData?: 'wait' | 'reject';
  /**
   * WebTransport (draft-ietf-webtrans-http3): send every draft's settings with this
   * session limit, and route streams and datagrams that name a session to it. The QUIC
   * connection must have datagrams on.
   */
  webtransport?: { maxSessions: number };
}

const REPLAY_SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Whether a request may be acted on from early data: a safe method and no `:protocol`. */
export function isReplaySafe(fields: readonly Header[]): boolean {
  let safe = false;
  for (const [k, v] of fields) {
    if (k === ':protocol') return false;
    if (k === ':method') safe = REPLAY_SAFE.has(v);
  }
  return safe;
}

export interface H3ConnectionEvents {
  /** Server: the header section of a new request (the stream's events wait for `setSink`). */
  onRequest?(stream: H3Stream, fields: Header[]): void;
  /** The peer's SETTINGS arrived. */
  onSettings?(settings: Settings): void;
  /** The peer sent GOAWAY with this stream ID (server) or push ID (client). */
  onGoaway?(id: bigint): void;
  /** A stream's consumer threw (the stream was reset with H3_INTERNAL_ERROR). */
  onStreamError?(err: Error): void;
  /** No request stream is open any more (after the last one closed). */
  onIdle?(): void;
  /** The connection is gone (exactly once). `error` when it ended with an error. */
  onClose?(info: H3CloseInfo): void;
}

/** How an HTTP/3 connection ended: who closed it, the code, the reason, and our error if any. */
export interface H3CloseInfo {
  /** Who closed: 'peer', 'local' (incl. our protocol errors), 'idle' (QUIC idle timeout), 'error'. */
  readonly by: QuicCloseInfo['by'];
  /** The HTTP/3 application code, or the QUIC transport code when `app` is false. */
  readonly code: number;
  readonly app: boolean;
  readonly reason: string;
  /** An H3Error for a violation we detected; other failures as they came. */
  readonly error?: Error;
}

/** A peer's unidirectional stream (RFC 9114 §6.2). */
interface UniStream {
  /** Stream type bytes while the varint is incomplete. */
  head: Uint8Array;
  type: bigint | null;
  decoder?: FrameDecoder;
  qpackDecoder?: DecoderStreamParser;
  ignored?: boolean;
  /** A WebTransport stream waiting for its session ID. */
  wt?: boolean;
}

/** A WebTransport stream whose session is not known yet: its bytes, until it is. */
interface Orphan {
  sessionId: number;
  kind: 'bidi' | 'uni';
  chunks: Uint8Array[];
  fin: boolean;
}

/** An HTTP/3 connection; it is the QUIC connection's handler. */
export class H3Connection implements H3StreamHost {
  readonly role: Role;
  readonly quic: QuicConnection;
  readonly maxFieldSectionSize: number;
  readonly #requestHeadTimeout: number;
  readonly #earlyPolicy: 'wait' | 'reject';
  /** Server: requests from 0-RTT held until the handshake completes. */
  #heldEarly: [H3Stream, Header[]][] = [];
  readonly #events: H3ConnectionEvents;
  readonly #requests = new Map<number, H3Stream>();
  readonly #uni = new Map<number, UniStream>();
  readonly #controlValidator: ControlStreamValidator;
  #peerControl: number | null = null;
  #peerEncoder: number | null = null;
  #peerDecoder: number | null = null;
  #peerSettings: Settings | undefined;
  #controlStream: number | null = null;
  /** Server: GOAWAY sent with this ID; requests at or above it are refused. */
  #goawaySent: bigint | null = null;
  /** Client: GOAWAY received with this stream ID. */
  #goawayReceived: bigint | null = null;
  /** Server: above the highest client bidi stream ID seen (what GOAWAY names). */
  #nextRequestId = 0;
  #closed = false;
  #closeInfo: H3CloseInfo | null = null;
  /** The violation we closed the connection for. */
  #failure: H3Error | null = null;
  readonly #closeWaiters: ((info: H3CloseInfo) => void)[] = [];
  readonly #handshakeWaiters: (() => void)[] = [];
  readonly #wtEnabled: boolean;
  /** WebTransport sessions by ID (their CONNECT stream's). */
  readonly #wtSessions = new Map<number, WtSession>();
  /** Stream → the session it belongs to. */
  readonly #wtStreams = new Map<number, WtSession>();
  /** Peer bidirectional streams whose first varint has not arrived whole. */
  readonly #bidiHeads = new Map<number, Uint8Array>();
  readonly #orphans = new Map<number, Orphan>();
  /** Writers holding this tick's writes (WebSocket transports): src/h3/transport.ts. */
  #corked: Corked[] = [];
  #uncorkQueued = false;

  constructor(quic: QuicConnection, opts: H3ConnectionOptions, events: H3ConnectionEvents = {}) {
    this.role = opts.role;
    this.quic = quic;
    this.maxFieldSectionSize = opts.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    this.#requestHeadTimeout = opts.requestHeadTimeout ?? 0;
    this.#earlyPolicy = opts.earlyData ?? 'wait';
    this.#events = events;
    this.#controlValidator = new ControlStreamValidator(opts.role);
    this.#wtEnabled = opts.webtransport !== undefined;
    // RFC 9114 §6.2.1: "Each side MUST initiate a single control stream at the beginning
    // of the connection and send its SETTINGS frame as the first frame on this stream."
    const id = quic.openStream('uni');
    if (id === null) {
      queueMicrotask(() =>
        this.#fail(
          new H3Error(H3_STREAM_CREATION_ERROR, 'the peer allows no unidirectional stream'),
        ),
      );
      return;
    }
    this.#controlStream = id;
    const settings: [number, number][] = [
      [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
      [SETTINGS_QPACK_BLOCKED_STREAMS, 0],
      [SETTINGS_MAX_FIELD_SECTION_SIZE, this.maxFieldSectionSize],
    ];
    if (opts.enableConnectProtocol || opts.webtransport) {
      settings.push([SETTINGS_ENABLE_CONNECT_PROTOCOL, 1]);
    }
    if (opts.webtransport) settings.push(...webTransportSettings(opts.webtransport.maxSessions));
    // RFC 9114 §7.2.4.1: reserved identifiers 0x1f * N + 0x21 exercise the peer's duty to
    // ignore unknown settings
    settings.push([0x1f * randomInt(1, 1 << 16) + 0x21, randomInt(0, 1 << 16)]);
    quic.write(id, [Uint8Array.of(STREAM_CONTROL), encodeSettings(settings)]);
    const q = quic.qlog;
    if (q) {
      q.event('http:stream_type_set', { stream_id: id, owner: 'local', new: 'control' });
      q.event('http:parameters_set', { owner: 'local', ...qlogSettings(settings) });
      q.event('http:frame_created', {
        stream_id: id,
        frame: {
          frame_type: 'settings',
          settings: settings.map(([k, v]) => ({ name: qlogSettingName(k), value: v })),
        },
      });
    }
  }

  /** The peer's SETTINGS, once they arrived. */
  get peerSettings(): Settings | undefined {
    return this.#peerSettings;
  }

  /** Whether the peer's SETTINGS offer WebTransport (any draft's settings, with H3 datagrams). */
  get peerOffersWebTransport(): boolean {
    return this.#peerSettings !== undefined && offersWebTransport(this.#peerSettings);
  }

  /** Whether this connection routes WebTransport streams and datagrams. */
  get webtransport(): boolean {
    return this.#wtEnabled;
  }

  /** WebTransport sessions open on this connection. */
  get sessionCount(): number {
    return this.#wtSessions.size;
  }

  /** @internal Route the streams and datagrams that name `s` to it (and those that waited). */
  addSession(s: WtSession): void {
    this.#wtSessions.set(s.id, s);
    for (const [id, o] of [...this.#orphans]) {
      if (o.sessionId !== s.id) continue;
      this.#orphans.delete(id);
      this.#adopt(id, s, o.kind, o.chunks, o.fin);
    }
  }

  /** @internal The session ended: its ID routes nothing any more. */
  sessionClosed(s: WtSession): void {
    if (this.#wtSessions.get(s.id) === s) this.#wtSessions.delete(s.id);
    for (const [id, owner] of [...this.#wtStreams]) if (owner === s) this.#wtStreams.delete(id);
  }

  /** @internal A session opened a stream: route its events to it. */
  wtStreamOpened(id: number, s: WtSession): void {
    this.#wtStreams.set(id, s);
  }

  /** @internal A session's stream is done both ways. */
  wtStreamClosed(id: number): void {
    this.#wtStreams.delete(id);
  }

  /** Whether the peer allows extended CONNECT (RFC 9220 §3). */
  get peerEnablesConnectProtocol(): boolean {
    return this.#peerSettings?.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) === 1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Client: a GOAWAY arrived (no new requests); server: we sent one. */
  get goingAway(): boolean {
    return this.#goawaySent !== null || this.#goawayReceived !== null;
  }

  /** Open request streams. */
  get streamCount(): number {
    return this.#requests.size;
  }

  /**
   * Resolves once the QUIC handshake has completed (at once unless the connection runs on
   * 0-RTT keys); rejects if the connection closes first.
   */
  handshakeDone(): Promise<void> {
    if (this.quic.established) return Promise.resolve();
    if (this.#closeInfo) return Promise.reject(new Error('the HTTP/3 connection closed'));
    return new Promise((resolve, reject) => {
      this.#handshakeWaiters.push(resolve);
      this.whenClosed().then(() =>
        reject(new Error('the HTTP/3 connection closed before its handshake completed')),
      );
    });
  }

  /** Resolves once the connection is closed, with how. */
  whenClosed(): Promise<H3CloseInfo> {
    if (this.#closeInfo) return Promise.resolve(this.#closeInfo);
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  /**
   * Client: open a request stream and send its header section. Throws a WebSocketError
   * when the connection cannot take one (closed, GOAWAY received, stream limit reached).
   */
  request(fields: readonly Header[], end = false): H3Stream {
    if (this.role !== 'client') {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'only a client opens request streams');
    }
    if (this.#closed || this.#goawayReceived !== null) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the HTTP/3 connection is going away');
    }
    this.checkFieldSection(fields);
    const id = this.quic.openStream('bidi');
    if (id === null) {
      throw new WebSocketError(
        'WS_ERR_INVALID_STATE',
        'the HTTP/3 connection has no request stream left',
      );
    }
    const stream = this.#newStream(id);
    stream.sendHeaders(fields, end);
    return stream;
  }

  /** Whether another request stream can be opened now (client). */
  canRequest(): boolean {
    return !this.#closed && this.#goawayReceived === null && this.quic.streamsLeft('bidi') > 0;
  }

  /**
   * Server: send GOAWAY (RFC 9114 §5.2) naming the first request we will not process;
   * requests already received continue. Further calls do nothing.
   */
  goaway(): void {
    if (this.#closed || this.#controlStream === null || this.#goawaySent !== null) return;
    if (this.role === 'server') {
      this.#goawaySent = BigInt(this.#nextRequestId);
      this.quic.write(this.#controlStream, encodeGoaway(this.#goawaySent));
    } else {
      // a client's GOAWAY carries a push ID; we never allowed a push, so 0
      this.#goawaySent = 0n;
      this.quic.write(this.#controlStream, encodeGoaway(0));
    }
    this.quic.qlog?.event('http:frame_created', {
      stream_id: this.#controlStream,
      frame: { frame_type: 'goaway', id: Number(this.#goawaySent) },
    });
    // draft-ietf-webtrans-http3 §4.7: sessions learn of the GOAWAY as a DRAIN
    for (const s of this.#wtSessions.values()) s.drain();
    if (this.#requests.size === 0) this.#events.onIdle?.();
  }

  /** Close the connection (CONNECTION_CLOSE with an HTTP/3 code, default H3_NO_ERROR). */
  close(code: number = H3_NO_ERROR, reason = ''): void {
    if (this.#closed) return;
    this.quic.close(code, reason);
  }

  /** Throws WS_ERR_INVALID_ARGUMENT when the peer's SETTINGS_MAX_FIELD_SECTION_SIZE refuses `fields`. */
  checkFieldSection(fields: readonly Header[]): void {
    const limit = this.#peerSettings?.get(SETTINGS_MAX_FIELD_SECTION_SIZE);
    if (limit === undefined) return;
    const size = fieldSectionSize(fields);
    // RFC 9114 §4.2.2: "An implementation that has received this parameter SHOULD NOT
    // send an HTTP message header that exceeds the indicated size"
    if (size > limit) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `header section of ${size} bytes exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE ${limit}`,
      );
    }
  }

  // ── QuicConnectionHandler ────────────────────────────────────────────────

  onStreamData(stream: number, data: Uint8Array, fin: boolean): void {
    if (this.#closed) return;
    const wt = this.#wtStreams.get(stream);
    if (wt) {
      wt.stream(stream)?.receive(data, fin);
      return;
    }
    const orphan = this.#orphans.get(stream);
    if (orphan) {
      orphan.chunks.push(data);
      orphan.fin ||= fin;
      return;
    }
    try {
      if ((stream & 2) !== 0) this.#onUniData(stream, data, fin);
      else this.#onBidiData(stream, data, fin);
    } catch (err) {
      this.#onError(err, stream);
    }
  }

  onStreamReset(stream: number, code: number): void {
    if (this.#closed) return;
    const wt = this.#wtStreams.get(stream);
    if (wt) {
      wt.stream(stream)?.peerAborted('reset', code);
      return;
    }
    if (this.#orphans.delete(stream) || this.#bidiHeads.delete(stream)) return;
    if ((stream & 2) !== 0) {
      if (this.#isCritical(stream)) {
        this.#fail(
          new H3Error(H3_CLOSED_CRITICAL_STREAM, `the peer reset its critical stream ${stream}`),
        );
      }
      this.#uni.delete(stream);
      return;
    }
    this.#requests.get(stream)?.peerAborted(code, 'reset');
  }

  onStreamStopped(stream: number, code: number | null): void {
    if (this.#closed) return;
    const wt = this.#wtStreams.get(stream);
    if (wt) {
      wt.stream(stream)?.peerAborted('stopped', code);
      return;
    }
    if (stream === this.#controlStream) {
      this.#fail(
        new H3Error(H3_CLOSED_CRITICAL_STREAM, 'the peer stopped reading our control stream'),
      );
      return;
    }
    this.#requests.get(stream)?.peerAborted(code, 'stopped');
  }

  onStreamDrain(stream: number): void {
    const wt = this.#wtStreams.get(stream);
    if (wt) wt.stream(stream)?.drained();
    else this.#requests.get(stream)?.drained();
  }

  onDatagram(data: Uint8Array): void {
    if (!this.#wtEnabled || this.#closed) return;
    let d: ReturnType<typeof decodeDatagram>;
    try {
      d = decodeDatagram(data);
    } catch {
      return; // unreliable: a malformed one is as good as lost
    }
    this.#wtSessions.get(d.sessionId)?.datagram(d.payload);
  }

  onHandshakeDone(): void {
    for (const w of this.#handshakeWaiters.splice(0)) w();
    const held = this.#heldEarly;
    this.#heldEarly = [];
    for (const [s, fields] of held) if (!s.closed && !this.#closed) this.requestArrived(s, fields);
  }

  onClose(info: QuicCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    const err =
      this.#failure ??
      (info.error instanceof H3Error
        ? info.error
        : new H3Error(
            info.app ? info.code : H3_INTERNAL_ERROR,
            `the HTTP/3 connection closed (${info.by}: ${describeClose(info)})`,
            { scope: 'connection', ...(info.error && { cause: info.error }) },
          ));
    for (const s of [...this.#wtSessions.values()]) s.connectionClosed();
    this.#wtSessions.clear();
    this.#wtStreams.clear();
    this.#orphans.clear();
    for (const s of [...this.#requests.values()]) s.connectionClosed(err);
    this.#requests.clear();
    this.#uni.clear();
    this.quic.setKeepAlive(false);
    const error = this.#failure ?? info.error;
    const h3: H3CloseInfo = {
      by: info.by,
      code: info.code,
      app: info.app,
      reason: info.reason,
      ...(error && { error }),
    };
    this.#closeInfo = h3;
    for (const w of this.#closeWaiters.splice(0)) w(h3);
    this.#events.onClose?.(h3);
  }

  // ── streams ──────────────────────────────────────────────────────────────

  #newStream(id: number): H3Stream {
    const s = new H3Stream(this, this.quic, id, this.maxFieldSectionSize);
    this.#requests.set(id, s);
    this.quic.setKeepAlive(true);
    return s;
  }

  /** @internal */
  streamClosed(s: H3Stream): void {
    if (this.#requests.get(s.id) !== s) return;
    this.#requests.delete(s.id);
    if (this.#requests.size === 0) {
      this.quic.setKeepAlive(false);
      if (!this.#closed) this.#events.onIdle?.();
    }
  }

  /** @internal Hold `c`'s writes until the next packets are made or the tick ends. */
  cork(c: Corked): void {
    this.#corked.push(c);
    if (this.#uncorkQueued) return;
    this.#uncorkQueued = true;
    queueMicrotask(this.#uncorkAll);
  }

  /** @internal QUIC is about to make packets: what was corked goes with them. */
  beforeFlush(): void {
    if (this.#corked.length > 0) this.#uncorkAll();
  }

  readonly #uncorkAll = (): void => {
    this.#uncorkQueued = false;
    const list = this.#corked;
    if (list.length === 0) return;
    this.#corked = [];
    for (const c of list) c.uncork();
  };

  /** @internal A stream's consumer threw: reset the stream with H3_INTERNAL_ERROR. */
  streamFailed(s: H3Stream, err: unknown): void {
    this.#events.onStreamError?.(err instanceof Error ? err : new Error(String(err)));
    if (!s.closed) s.reset(H3_INTERNAL_ERROR);
  }

  /** @internal A request's header section (server). */
  requestArrived(s: H3Stream, fields: Header[]): void {
    if (!this.#events.onRequest) {
      s.reset(H3_REQUEST_REJECTED);
      return;
    }
    // RFC 8470 §5.1: a server that acts on early data only does so for requests whose
    // replay does no harm; RFC 9220 (after RFC 8441 §4) gives a WebSocket no such safety
    if (this.quic.earlyData && !isReplaySafe(fields)) {
      if (this.#earlyPolicy === 'reject') {
        s.sendHeaders([[':status', '425']], true);
        s.stopReading(H3_NO_ERROR);
      } else {
        this.#heldEarly.push([s, fields]);
      }
      return;
    }
    this.#events.onRequest(s, fields);
  }

  #onBidiData(id: number, data: Uint8Array, fin: boolean): void {
    let s = this.#requests.get(id);
    if (s === undefined && this.#wtEnabled && (id & 1) !== (this.role === 'server' ? 1 : 0)) {
      // a peer's new stream: a request (HEADERS first), or a WebTransport stream (0x41)
      const head = this.#bidiHeads.get(id);
      const bytes = head ? concat(head, data) : data;
      const signal = decodeVarint(bytes, 0);
      if (signal === null) {
        if (!fin) this.#bidiHeads.set(id, bytes.slice());
        else this.#bidiHeads.delete(id);
        return;
      }
      if (signal.value === WT_STREAM_SIGNAL) {
        this.#bidiHeads.delete(id);
        this.#wtHeader(id, 'bidi', bytes.subarray(signal.length), fin);
        return;
      }
      this.#bidiHeads.delete(id);
      data = bytes;
    }
    if (s === undefined) {
      if (this.role === 'client') {
        // RFC 9114 §6.1: "Clients MUST treat receipt of a server-initiated bidirectional
        // stream as a connection error of type H3_STREAM_CREATION_ERROR"
        if ((id & 1) === 1) {
          throw new H3Error(
            H3_STREAM_CREATION_ERROR,
            `server-initiated bidirectional stream ${id}`,
          );
        }
        return; // one of ours, already closed
      }
      // Streams may arrive out of order (8 before 4); data of a finished one never comes
      // here, as the QUIC layer discards what arrives for streams it retired.
      if (id + 4 > this.#nextRequestId) this.#nextRequestId = id + 4;
      if (this.#goawaySent !== null && BigInt(id) >= this.#goawaySent) {
        // RFC 9114 §5.2: requests at or above the GOAWAY ID are rejected, so the client
        // may retry them elsewhere
        this.quic.resetStream(id, H3_REQUEST_REJECTED);
        this.quic.stopSending(id, H3_REQUEST_REJECTED);
        return;
      }
      s = this.#newStream(id);
      if (this.#requestHeadTimeout > 0) s.expectHeadWithin(this.#requestHeadTimeout);
    }
    s.receive(data, fin);
  }

  /**
   * The rest of a WebTransport stream's header (the session ID) and what follows it: to
   * the session, to the orphans while the session is not known, or refused.
   */
  #wtHeader(id: number, kind: 'bidi' | 'uni', bytes: Uint8Array, fin: boolean): void {
    let parsed: ReturnType<typeof readSessionId>;
    try {
      parsed = readSessionId(bytes, 0);
    } catch (err) {
      if (!(err instanceof WtWireError)) throw err;
      this.#refuseWtStream(id, kind);
      return;
    }
    if (parsed === null) {
      if (fin || bytes.length >= MAX_WT_HEADER) {
        this.#refuseWtStream(id, kind);
        return;
      }
      // wait for the rest of the session ID (kept as a uni stream's head, or a bidi head)
      if (kind === 'uni') this.#uni.set(id, { head: bytes.slice(), type: null, wt: true });
      else this.#bidiHeads.set(id, concat(Uint8Array.of(WT_STREAM_SIGNAL), bytes));
      return;
    }
    const rest = bytes.subarray(parsed.next);
    const session = this.#wtSessions.get(parsed.id);
    if (session) {
      this.#adopt(id, session, kind, rest.length > 0 ? [rest] : [], fin);
      return;
    }
    // draft §4.6: a stream may arrive before its session's CONNECT; keep a few
    if (this.#orphans.size >= MAX_ORPHAN_STREAMS) {
      this.#refuseWtStream(id, kind);
      return;
    }
    this.#orphans.set(id, {
      sessionId: parsed.id,
      kind,
      chunks: rest.length > 0 ? [rest] : [],
      fin,
    });
  }

  #adopt(
    id: number,
    session: WtSession,
    kind: 'bidi' | 'uni',
    chunks: Uint8Array[],
    fin: boolean,
  ): void {
    const s = session.incoming(id, kind);
    if (s === null) {
      this.#refuseWtStream(id, kind);
      return;
    }
    this.#wtStreams.set(id, session);
    for (let i = 0; i < chunks.length; i++) s.receive(chunks[i]!, fin && i === chunks.length - 1);
    if (chunks.length === 0 && fin) s.receive(new Uint8Array(0), true);
  }

  #refuseWtStream(id: number, kind: 'bidi' | 'uni'): void {
    this.quic.stopSending(id, WT_BUFFERED_STREAM_REJECTED);
    if (kind === 'bidi') this.quic.resetStream(id, WT_BUFFERED_STREAM_REJECTED);
  }

  #isCritical(id: number): boolean {
    return id === this.#peerControl || id === this.#peerEncoder || id === this.#peerDecoder;
  }

  #onUniData(id: number, data: Uint8Array, fin: boolean): void {
    let u = this.#uni.get(id);
    if (u === undefined) {
      if ((id & 1) === (this.role === 'server' ? 1 : 0)) return; // ours: nothing to read
      u = { head: new Uint8Array(0), type: null };
      this.#uni.set(id, u);
    }
    if (u.ignored) return;
    if (u.wt) {
      // the session ID of a WebTransport unidirectional stream, still incomplete
      const bytes = concat(u.head, data);
      this.#uni.delete(id);
      this.#wtHeader(id, 'uni', bytes, fin);
      return;
    }
    let body = data;
    if (u.type === null) {
      const head = u.head.length === 0 ? data : concat(u.head, data);
      const v = decodeVarintBig(head, 0);
      if (v === null) {
        u.head = head.slice();
        if (fin) this.#uni.delete(id);
        return;
      }
      u.type = v.value;
      u.head = new Uint8Array(0);
      body = head.subarray(v.length);
      if (this.#wtEnabled && u.type === BigInt(WT_UNI_STREAM_TYPE)) {
        this.#uni.delete(id);
        this.#wtHeader(id, 'uni', body, fin);
        return;
      }
      this.#startUni(id, u);
      if (u.ignored) return;
    }
    if (u.decoder) {
      for (const e of u.decoder.push(body)) this.#onControlFrame(e);
      if (fin) u.decoder.end(); // throws H3_CLOSED_CRITICAL_STREAM
    } else if (u.type === BigInt(STREAM_QPACK_ENCODER)) {
      parseEncoderStream(body);
    } else if (u.qpackDecoder) {
      u.qpackDecoder.push(body);
    }
    if (fin && this.#isCritical(id)) {
      // RFC 9204 §4.2: "the receiver MUST treat the closure of either of these streams as
      // a connection error of type H3_CLOSED_CRITICAL_STREAM"
      throw new H3Error(H3_CLOSED_CRITICAL_STREAM, `the peer closed its QPACK stream ${id}`);
    }
  }

  #startUni(id: number, u: UniStream): void {
    switch (u.type) {
      case BigInt(STREAM_CONTROL):
        // RFC 9114 §6.2.1: "Only one control stream per peer is permitted; receipt of a
        // second stream claiming to be a control stream MUST be treated as a connection
        // error of type H3_STREAM_CREATION_ERROR."
        if (this.#peerControl !== null) {
          throw new H3Error(H3_STREAM_CREATION_ERROR, 'a second control stream');
        }
        this.#peerControl = id;
        this.quic.qlog?.event('http:stream_type_set', {
          stream_id: id,
          owner: 'remote',
          new: 'control',
        });
        u.decoder = new FrameDecoder({ validator: this.#controlValidator });
        return;
      case BigInt(STREAM_PUSH):
        // RFC 9114 §6.2.2: "Only servers can push; if a server receives a client-initiated
        // push stream, this MUST be treated as a connection error of type
        // H3_STREAM_CREATION_ERROR." A client never allowed a push (no MAX_PUSH_ID), so
        // any push ID is beyond its limit: H3_ID_ERROR (§4.6).
        if (this.role === 'server') {
          throw new H3Error(H3_STREAM_CREATION_ERROR, 'a client opened a push stream');
        }
        throw new H3Error(H3_ID_ERROR, 'a push stream, but we never sent MAX_PUSH_ID');
      case BigInt(STREAM_QPACK_ENCODER):
      case BigInt(STREAM_QPACK_DECODER): {
        const encoder = u.type === BigInt(STREAM_QPACK_ENCODER);
        // RFC 9204 §4.2: "Receipt of a second instance of either stream type MUST be
        // treated as a connection error of type H3_STREAM_CREATION_ERROR."
        if ((encoder ? this.#peerEncoder : this.#peerDecoder) !== null) {
          throw new H3Error(
            H3_STREAM_CREATION_ERROR,
            `a second QPACK ${encoder ? 'encoder' : 'decoder'} stream`,
          );
        }
        if (encoder) this.#peerEncoder = id;
        else {
          this.#peerDecoder = id;
          u.qpackDecoder = new DecoderStreamParser();
        }
        return;
      }
      default:
        // RFC 9114 §6.2: "Recipients of unknown stream types MUST either abort reading of
        // the stream or discard incoming data without further processing. If reading is
        // aborted, the recipient SHOULD use the H3_STREAM_CREATION_ERROR error code".
        u.ignored = true;
        this.quic.stopSending(id, H3_STREAM_CREATION_ERROR);
    }
  }

  #onControlFrame(e: FrameEvent): void {
    switch (e.type) {
      case 'settings':
        this.quic.qlog?.event('http:parameters_set', {
          owner: 'remote',
          ...qlogSettings(e.settings),
        });
        this.quic.qlog?.event('http:frame_parsed', {
          stream_id: this.#peerControl ?? -1,
          frame: {
            frame_type: 'settings',
            settings: [...e.settings].map(([k, v]) => ({ name: qlogSettingName(k), value: v })),
          },
        });
        this.#peerSettings = e.settings;
        this.#events.onSettings?.(e.settings);
        return;
      case 'goaway':
        this.quic.qlog?.event('http:frame_parsed', {
          stream_id: this.#peerControl ?? -1,
          frame: { frame_type: 'goaway', id: Number(e.id) },
        });
        if (this.role === 'client') {
          this.#goawayReceived = e.id;
          // RFC 9114 §5.2: requests at or above the ID "were not or will not be processed"
          for (const s of [...this.#requests.values()]) {
            if (BigInt(s.id) >= e.id) s.peerAborted(H3_REQUEST_REJECTED, 'reset');
          }
        }
        this.#events.onGoaway?.(e.id);
        if (this.#requests.size === 0) this.#events.onIdle?.();
        return;
      default:
      // MAX_PUSH_ID: we never push; CANCEL_PUSH: refused by the validator; unknown: ignored
    }
  }

  #onError(err: unknown, stream: number): void {
    if (err instanceof H3Error && err.scope === 'stream' && (stream & 2) === 0) {
      const s = this.#requests.get(stream);
      if (s) {
        s.reset(err.h3Code);
        return;
      }
    }
    if (err instanceof H3Error) {
      this.#fail(err);
      return;
    }
    this.#fail(
      new H3Error(H3_INTERNAL_ERROR, `internal error: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      }),
    );
  }

  /** A connection error: CONNECTION_CLOSE with the error's HTTP/3 code. */
  #fail(err: H3Error): void {
    if (this.#closed) return;
    this.#failure = err;
    this.quic.close(err.h3Code, err.message.slice(0, 200));
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
