// A session binds one Protocol, one Transport and one Handler: it owns the timers
// (close and idle timeouts), backpressure both ways, and the strictly ordered
// handler calls. It never asks which HTTP version carries it.
//
// Ordering: init, then each message/control/info in arrival order, then
// terminate exactly once. A callback that returns a Promise is awaited before the
// next one runs; while it is pending, arrivals queue, and past `maxQueued` (or
// `maxQueuedBytes`) the
// session stops reading from the transport until the queue drains.

import { isAscii } from 'node:buffer';
import { isValidWireCloseCode } from './close.js';
import { type ErrorCode, WebSocketError } from './errors.js';
import type { EncodedMessage, MessageExtension } from './extensions.js';
import type { MaskSource, Role } from './frame.js';
import type {
  CloseKind,
  CloseReason,
  Control,
  Handler,
  Message,
  OutFrame,
  Result,
  SessionApi,
  UpgradeRequest,
} from './handler.js';
import { Protocol, type ProtocolSink } from './protocol.js';
import type { HttpVersion, Transport, TransportSink } from './transport.js';
import { isValidUtf8 } from './utf8.js';

export interface Limits {
  /** Largest frame payload accepted (default 16 MiB); above it: close 1009. */
  maxFrame?: number;
  /** Largest message accepted (default 64 MiB); above it: close 1009. */
  maxMessage?: number;
}

export interface SessionOptions extends Limits {
  /** Wait this long for the peer's close frame / for the transport to close (default 10 s). */
  closeTimeout?: number;
  /** Close with 1001 after this long without receiving anything (default 0: never). */
  idleTimeout?: number;
  /** Messages queued to a busy handler before reading pauses (default 64). */
  maxQueued?: number;
  /**
   * Bytes of messages queued to a busy handler before reading pauses (default 1 MiB):
   * with `maxQueued` alone, 64 queued messages of up to `maxMessage` each could be held.
   */
  maxQueuedBytes?: number;
  /** Split outgoing data messages into frames of at most this many bytes (default 0: never). */
  fragmentSize?: number;
  /**
   * Slow consumers: once this many bytes wait unsent (the peer does not read), a further
   * data message is refused as `onSlowConsumer` says (default 16 MiB; Infinity: never).
   */
  maxBuffered?: number;
  /**
   * What `send` does with a data message while `maxBuffered` is exceeded: 'close' (default)
   * closes with 1008 "slow consumer" (WS_ERR_SLOW_CONSUMER); 'drop' drops the message.
   * Either way the message is not sent and `send` returns false.
   */
  onSlowConsumer?: 'close' | 'drop';
  /** Client role: the mask key source (tests inject a fixed one). */
  mask?: MaskSource;
  /** Errors that cannot be returned to anyone (a throwing terminate, a failed handler). */
  onError?: (err: Error) => void;
  /** The negotiated message extension (permessage-deflate), if any. */
  extension?: MessageExtension | undefined;
}

export interface SessionInit<S> extends SessionOptions {
  role: Role;
  transport: Transport;
  handler: Handler<S>;
  state: S;
  request: UpgradeRequest;
  /**
   * Called once when the session has ended, just before `closed` resolves: lets a
   * registry forget it without a promise (and its reactions) per session.
   */
  onEnded?: (session: Session<any>) => void;
}

enum Task {
  Init,
  In,
  Control,
  Info,
  Terminate,
}

/** `n`: bytes of a queued message (0 for anything else). */
type Queued = { t: Task; v: unknown; n: number };

const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
/** The queue of every session that never queued: an idle session owns no array. */
const NO_QUEUE: Queued[] = Object.freeze([]) as unknown as Queued[];

function queuedSize(t: Task, v: unknown): number {
  if (t !== Task.In || isPromise(v)) return 0;
  return (v as Message).data.length;
}

const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

/** Text at least this long is checked for ASCII first (SIMD), which decodes as latin1: a copy. */
const ASCII_CHECK_MIN = 1024;

/** The string of a message's bytes, which are valid UTF-8. */
function decodeText(b: Buffer): string {
  // ASCII is the same string read as latin1, and V8 decodes that far faster than UTF-8
  return b.length >= ASCII_CHECK_MIN && isAscii(b) ? b.toString('latin1') : b.toString('utf8');
}

// The text message being handled (synchronously, by any session) and its UTF-8 bytes:
// sending that string back (an echo) reuses the bytes instead of encoding it again.
// Any equal string has the same UTF-8, so the pair is right for whoever sends it.
let inText: string | null = null;
let inTextBytes: Buffer | null = null;

/** UTF-8 of a string to send; the received bytes when it is the text being handled. */
function utf8Of(text: string): Buffer {
  return text === inText ? inTextBytes! : Buffer.from(text, 'utf8');
}

/**
 * A 1006 error about the connection (the peer vanished, the socket failed). Its stack
 * would show only this file's event handling, and capturing it was a visible part of
 * the cost of a connection that ends in a reset: none is captured.
 */
function connectionError(code: ErrorCode, message: string, cause?: Error): WebSocketError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new WebSocketError(code, message, {
      closeCode: 1006,
      ...(cause !== undefined && { cause }),
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function isPromise<T>(x: unknown): x is Promise<T> {
  return (
    typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
  );
}

export class Session<S = unknown> implements SessionApi {
  readonly role: Role;
  readonly request: UpgradeRequest;
  readonly #transport: Transport;
  readonly #handler: Handler<S>;
  #state: S;
  readonly #opts: SessionInit<S>;
  #protocol: Protocol | null = null;

  // handler calls
  #queue: Queued[] = NO_QUEUE;
  #queuedBytes = 0;
  #busy = false;
  #paused = false;

  // closing
  #closeKind: CloseKind | null = null;
  #code = 1006;
  #reason = '';
  #error: Error | undefined;
  #transportClosed = false;
  #terminated = false;
  #closeTimer: NodeJS.Timeout | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #closedPromise: Promise<CloseReason> | null = null;
  #resolveClosed: ((r: CloseReason) => void) | null = null;
  #final: CloseReason | null = null;
  #drainWaiters: (() => void)[] | null = null;
  #writable = true;
  // outbound messages waiting for an asynchronous extension encode, in order
  #outPending = 0;
  #outChain: Promise<void> | null = null;
  #closeDeferred = false;
  // hibernation asked for while a compressed reply was still being encoded
  #hibernateWanted = false;

  // The protocol's and the transport's callbacks into this session: one small object
  // each, with the methods on a shared prototype. (Closures would cost ~60 bytes per
  // callback per session, which adds up over many idle connections.)
  static readonly #ProtocolEvents = class implements ProtocolSink {
    readonly #s: Session<any>;
    constructor(s: Session<any>) {
      this.#s = s;
    }
    write(chunks: Uint8Array[]): void {
      const s = this.#s;
      s.#writable = s.#transport.write(chunks);
    }
    onMessage(binary: boolean, data: Buffer, rsv: number): void {
      this.#s.#onMessage(binary, data, rsv);
    }
    onPing(data: Buffer): void {
      this.#s.#onControl('ping', data);
    }
    onPong(data: Buffer): void {
      this.#s.#onControl('pong', data);
    }
    onClose(code: number, reason: string): void {
      this.#s.#onCloseFrame(code, reason);
    }
    onFailure(err: WebSocketError): void {
      this.#s.#onFailure(err);
    }
    congested(): boolean {
      return !this.#s.#writable;
    }
  };

  static readonly #TransportEvents = class implements TransportSink {
    readonly #s: Session<any>;
    constructor(s: Session<any>) {
      this.#s = s;
    }
    onData(chunk: Uint8Array): void {
      this.#s.#onData(chunk);
    }
    onEnd(): void {
      this.#s.#onEnd();
    }
    onError(err: Error): void {
      this.#s.#onTransportError(err);
    }
    onDrain(): void {
      this.#s.#onDrain();
    }
    onClose(): void {
      this.#s.#onTransportClose();
    }
  };

  constructor(init: SessionInit<S>) {
    this.role = init.role;
    this.request = init.request;
    this.#transport = init.transport;
    this.#handler = init.handler;
    this.#state = init.state;
    this.#opts = init;
  }

  get http(): HttpVersion {
    return this.request.http;
  }
  get subprotocol(): string | undefined {
    return this.request.subprotocol;
  }
  get extensions(): string {
    return this.request.extensions;
  }
  /** 'open' | 'closing' | 'closed', as the protocol sees it. */
  get readyState(): 'open' | 'closing' | 'closed' {
    if (this.#terminated || this.#transportClosed) return 'closed';
    return this.#protocol?.state ?? 'open';
  }
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount();
  }
  /** Resolves once, when the session has ended (after terminate ran). */
  get closed(): Promise<CloseReason> {
    if (this.#final) return Promise.resolve(this.#final);
    this.#closedPromise ??= new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    return this.#closedPromise;
  }

  /** Start: run init and begin reading. Bytes buffered by the transport arrive after init. */
  start(): void {
    this.#enqueue(Task.Init, undefined);
    const idle = this.#opts.idleTimeout ?? 0;
    if (idle > 0) {
      this.#idleTimer = setTimeout(() => this.#onIdle(), idle);
      this.#idleTimer.unref?.();
    }
    this.#transport.attach(new Session.#TransportEvents(this));
  }

  #proto(): Protocol {
    if (this.#protocol) return this.#protocol;
    const o = this.#opts;
    // the sink goes with the protocol (a hibernating session keeps neither)
    this.#protocol = new Protocol(new Session.#ProtocolEvents(this), {
      role: this.role,
      ...(o.maxFrame !== undefined && { maxFrame: o.maxFrame }),
      ...(o.maxMessage !== undefined && { maxMessage: o.maxMessage }),
      ...(o.mask !== undefined && { mask: o.mask }),
      ...(o.extension !== undefined && { rsvOwned: o.extension.rsv }),
    });
    return this.#protocol;
  }

  // ── transport events ───────────────────────────────────────────────────────

  #onData(chunk: Uint8Array): void {
    this.#idleTimer?.refresh();
    this.#proto().receive(chunk);
  }

  #onEnd(): void {
    const p = this.#proto();
    const clean = p.receiveEof();
    if (!clean && this.#closeKind === null) {
      this.#setReason(
        'error',
        1006,
        '',
        connectionError(
          'WS_ERR_CONNECTION_LOST',
          'the peer closed the connection without a close frame',
        ),
      );
    }
    // Our side ends too: the peer is gone, or (client) the server closed first as it should.
    this.#transport.end();
    this.#armCloseTimer();
  }

  #onTransportError(err: Error): void {
    if (this.#closeKind === null) {
      this.#setReason(
        'error',
        1006,
        '',
        connectionError('WS_ERR_TRANSPORT', `transport error: ${err.message}`, err),
      );
    }
  }

  #onDrain(): void {
    this.#writable = true;
    this.#protocol?.flushPong();
    const w = this.#drainWaiters;
    this.#drainWaiters = null;
    if (w) for (const f of w) f();
  }

  #onTransportClose(): void {
    this.#transportClosed = true;
    this.#clearTimers();
    if (this.#closeKind === null) {
      this.#setReason(
        'error',
        1006,
        '',
        connectionError('WS_ERR_CONNECTION_LOST', 'the connection was lost'),
      );
    }
    this.#onDrain();
    this.#enqueue(Task.Terminate, undefined);
  }

  // ── protocol events ────────────────────────────────────────────────────────

  #onMessage(binary: boolean, data: Buffer, rsv: number): void {
    const ext = this.#opts.extension;
    if (ext && (rsv & ext.rsv) !== 0) {
      let decoded: Buffer | Promise<Buffer>;
      try {
        decoded = ext.decode(data, rsv, binary);
      } catch (err) {
        this.#extensionFailed(err);
        return;
      }
      if (isPromise<Buffer>(decoded)) {
        // keeps its place in the queue; the handler sees it once inflated
        this.#enqueue(
          Task.In,
          decoded.then((d) => this.#decodedMessage(binary, d)),
        );
        return;
      }
      const msg = this.#decodedMessage(binary, decoded);
      if (msg) this.#enqueue(Task.In, msg);
      return;
    }
    if (binary) {
      this.#enqueue(Task.In, { type: 'binary', data } satisfies Message);
      return;
    }
    const text = decodeText(data);
    inText = text;
    inTextBytes = data;
    try {
      this.#enqueue(Task.In, { type: 'text', data: text } satisfies Message);
    } finally {
      // handled (or queued behind a busy handler): the bytes are not kept while idle
      inText = null;
      inTextBytes = null;
    }
  }

  /** A decoded message, its text validated as UTF-8 (compressed text is checked only now). */
  #decodedMessage(binary: boolean, data: Buffer): Message | null {
    if (binary) return { type: 'binary', data };
    if (!isValidUtf8(data)) {
      this.#proto().fail(
        new WebSocketError('WS_ERR_INVALID_UTF8', 'text message is not valid UTF-8', {
          closeCode: 1007,
        }),
      );
      return null;
    }
    return { type: 'text', data: decodeText(data) };
  }

  #extensionFailed(err: unknown): void {
    const e =
      err instanceof WebSocketError
        ? err
        : new WebSocketError(
            'WS_ERR_DECOMPRESSION',
            `extension failed: ${(err as Error).message}`,
            {
              closeCode: 1007,
              cause: err,
            },
          );
    this.#proto().fail(e);
  }

  #onControl(type: 'ping' | 'pong', data: Buffer): void {
    if (this.#handler.handleControl) this.#enqueue(Task.Control, { type, data } satisfies Control);
  }

  #onCloseFrame(code: number, reason: string): void {
    if (this.#closeKind === null) this.#setReason('remote', code, reason);
    // RFC 6455 §7.1.1: "the underlying TCP connection, in most normal cases, SHOULD be
    // closed first by the server"; the client waits for that (bounded by the close timeout).
    if (this.role === 'server') this.#transport.end();
    this.#armCloseTimer();
  }

  #onFailure(err: WebSocketError): void {
    if (this.#closeKind === null) {
      // the code that went on the wire (the protocol sends 1011 for codes that may not)
      const c = err.closeCode ?? 1002;
      this.#setReason('error', isValidWireCloseCode(c) ? c : 1011, '', err);
    }
    // RFC 6455 §7.1.7: _Fail the WebSocket Connection_ closes the connection.
    this.#transport.end();
    this.#armCloseTimer();
  }

  #setReason(kind: CloseKind, code: number, reason: string, error?: Error): void {
    this.#closeKind = kind;
    this.#code = code;
    this.#reason = reason;
    this.#error = error;
  }

  // ── timers ─────────────────────────────────────────────────────────────────

  #armCloseTimer(): void {
    if (this.#closeTimer || this.#transportClosed) return;
    const ms = this.#opts.closeTimeout ?? 10_000;
    this.#closeTimer = setTimeout(() => this.#onCloseTimeout(), ms);
    this.#closeTimer.unref?.();
  }

  #onCloseTimeout(): void {
    this.#closeTimer = null;
    if (this.#transportClosed) return;
    const p = this.#protocol;
    if (p && !p.closeReceived && (this.#closeKind === 'normal' || this.#closeKind === 'shutdown')) {
      // we closed and the peer never answered
      this.#setReason(
        'timeout',
        1006,
        '',
        new WebSocketError(
          'WS_ERR_CLOSE_TIMEOUT',
          'the peer did not answer the close frame in time',
          {
            closeCode: 1006,
          },
        ),
      );
    }
    this.#transport.abort('cancel');
  }

  #onIdle(): void {
    this.#idleTimer = null;
    if (this.#closeKind !== null || this.#transportClosed) return;
    this.#startClose('timeout', 1001, 'idle timeout');
  }

  #clearTimers(): void {
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#closeTimer = null;
    this.#idleTimer = null;
  }

  // ── handler calls ──────────────────────────────────────────────────────────

  #enqueue(t: Task, v: unknown): void {
    if (this.#terminated) return;
    if (this.#busy || this.#queue.length > 0) {
      const n = queuedSize(t, v);
      if (this.#queue === NO_QUEUE) this.#queue = [];
      this.#queue.push({ t, v, n });
      this.#queuedBytes += n;
      const max = this.#opts.maxQueued ?? 64;
      const maxBytes = this.#opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
      if (
        !this.#paused &&
        (this.#queue.length > max || this.#queuedBytes > maxBytes) &&
        !this.#transportClosed
      ) {
        this.#paused = true;
        this.#transport.pause();
      }
      return;
    }
    this.#run(t, v);
  }

  #drain(): void {
    while (!this.#busy && this.#queue.length > 0 && !this.#terminated) {
      const q = this.#queue.shift()!;
      this.#queuedBytes -= q.n;
      this.#run(q.t, q.v);
    }
    if (
      this.#paused &&
      this.#queue.length <= (this.#opts.maxQueued ?? 64) >> 1 &&
      this.#queuedBytes <= (this.#opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES) / 2
    ) {
      this.#paused = false;
      if (!this.#transportClosed) this.#transport.resume();
    }
  }

  #run(t: Task, v: unknown): void {
    const h = this.#handler;
    let r: Result<S> | Promise<Result<S>> | undefined;
    try {
      switch (t) {
        case Task.Init:
          if (!h.init) return;
          r = h.init(this.request, this.#state, this);
          break;
        case Task.In:
          if (isPromise<Message | null>(v)) {
            this.#awaitMessage(v);
            return;
          }
          r = h.handleIn(v as Message, this.#state, this);
          break;
        case Task.Control:
          r = h.handleControl!(v as Control, this.#state, this);
          break;
        case Task.Info:
          if (!h.handleInfo) return;
          r = h.handleInfo(v, this.#state, this);
          break;
        case Task.Terminate:
          this.#terminate();
          return;
      }
    } catch (err) {
      this.#handlerFailed(err);
      return;
    }
    if (isPromise<Result<S>>(r)) {
      this.#busy = true;
      r.then(
        (res) => {
          this.#busy = false;
          this.#apply(res);
          this.#drain();
        },
        (err) => {
          this.#busy = false;
          this.#handlerFailed(err);
          this.#drain();
        },
      );
    } else {
      this.#apply(r);
    }
  }

  /** An asynchronously decoded message: nothing after it runs until it is delivered. */
  #awaitMessage(p: Promise<Message | null>): void {
    this.#busy = true;
    p.then(
      (msg) => {
        this.#busy = false;
        const closed = this.#protocol === null || this.#protocol.state === 'closed';
        if (msg && !(closed && this.#closeKind === 'error')) this.#run(Task.In, msg);
        this.#drain();
      },
      (err) => {
        this.#busy = false;
        this.#extensionFailed(err);
        this.#drain();
      },
    );
  }

  #apply(r: Result<S> | undefined): void {
    if (typeof r !== 'object' || r === null || !('result' in r)) {
      this.#handlerFailed(
        new WebSocketError('WS_ERR_HANDLER', 'handler returned no result (use ok/reply/stop)'),
      );
      return;
    }
    this.#state = r.state;
    try {
      if (r.result === 'reply') {
        if (this.#canSend()) this.send(r.frames);
      } else if (r.result === 'stop') {
        this.#startClose('normal', r.code ?? 1000, r.reason ?? '');
      }
    } catch (err) {
      this.#handlerFailed(err);
      return;
    }
    if (r.result !== 'stop' && r.hibernate) this.#hibernate();
    else this.#hibernateWanted = false;
  }

  #handlerFailed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(`handler threw a non-error: ${String(err)}`);
    const wrapped = new WebSocketError('WS_ERR_HANDLER', `handler failed: ${e.message}`, {
      closeCode: 1011,
      cause: e,
    });
    this.#opts.onError?.(wrapped);
    if (this.#closeKind !== null) return;
    this.#setReason('error', 1011, '', wrapped);
    // RFC 6455 §7.4.1: 1011 "encountered an unexpected condition"; no detail is leaked.
    const p = this.#proto();
    if (p.close(1011)) this.#armCloseTimer();
  }

  #terminate(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#queue = NO_QUEUE;
    this.#queuedBytes = 0;
    const p = this.#protocol;
    const final: CloseReason = {
      kind: this.#closeKind ?? 'error',
      code: this.#code,
      reason: this.#reason,
      wasClean: p?.closeSent === true && p.closeReceived && this.#closeKind !== 'error',
      ...(this.#error !== undefined && { error: this.#error }),
    };
    this.#final = final;
    this.#protocol = null;
    try {
      this.#opts.extension?.close();
    } catch (err) {
      this.#opts.onError?.(err as Error);
    }
    const done = () => {
      this.#opts.onEnded?.(this);
      this.#resolveClosed?.(final);
    };
    if (!this.#handler.terminate) {
      done();
      return;
    }
    try {
      const r = this.#handler.terminate(final, this.#state);
      if (isPromise(r)) {
        r.then(done, (err) => {
          this.#opts.onError?.(err as Error);
          done();
        });
        return;
      }
    } catch (err) {
      this.#opts.onError?.(err as Error);
    }
    done();
  }

  #hibernate(): void {
    // an asynchronous encode (permessage-deflate) is still running: hibernate after it
    this.#hibernateWanted = this.#outPending > 0;
    const p = this.#protocol;
    if (p && p.state === 'open' && p.idle && !this.#closeKind && this.#outPending === 0) {
      this.#protocol = null;
      this.#opts.extension?.release?.();
    }
  }

  // ── API for handlers and the outside world ─────────────────────────────────

  #canSend(): boolean {
    if (this.#transportClosed || this.#terminated || this.#closeDeferred) return false;
    const p = this.#protocol;
    return p === null || (!p.closeSent && p.state !== 'closed');
  }

  /**
   * Send frames. Returns false when the transport buffers above its high-water mark
   * (wait for `drained()`). Throws WS_ERR_INVALID_STATE once closing, and for
   * invalid frames (close codes, oversized control payloads) without sending any.
   */
  send(frames: OutFrame | readonly OutFrame[]): boolean {
    if (!this.#canSend()) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the WebSocket is closing or closed');
    }
    const p = this.#proto();
    if (Array.isArray(frames)) {
      let sent = true;
      for (const f of frames as readonly OutFrame[]) {
        if (this.#sendOne(p, f)) continue;
        sent = false;
        if (!this.#canSend()) break; // closed as a slow consumer: the rest is not sent either
      }
      return sent && this.#writable;
    }
    return this.#sendOne(p, frames as OutFrame) && this.#writable;
  }

  /** Whether a data message may be queued now; applies the slow-consumer policy if not. */
  #admitData(): boolean {
    const max = this.#opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (this.#transport.bufferedAmount() < max) return true;
    if ((this.#opts.onSlowConsumer ?? 'close') === 'close' && this.#closeKind === null) {
      const err = new WebSocketError(
        'WS_ERR_SLOW_CONSUMER',
        `more than ${max} bytes wait unsent: the peer does not read`,
        { closeCode: 1008 },
      );
      this.#setReason('error', 1008, 'slow consumer', err);
      // RFC 6455 §7.4.1: 1008 "a message that violates its policy"
      if (this.#proto().close(1008, 'slow consumer')) this.#armCloseTimer();
    }
    return false;
  }

  /** False when a data message was refused (slow consumer). */
  #sendOne(p: Protocol, f: OutFrame): boolean {
    const isData =
      typeof f === 'string' || f instanceof Uint8Array || f.type === 'text' || f.type === 'binary';
    if (isData && !this.#admitData()) return false;
    this.#sendFrame(p, f);
    return true;
  }

  #sendFrame(p: Protocol, f: OutFrame): void {
    const frag = this.#opts.fragmentSize ?? 0;
    if (typeof f === 'string') {
      this.#sendData(p, false, utf8Of(f), frag);
    } else if (f instanceof Uint8Array) {
      this.#sendData(p, true, f, frag);
    } else if (f.type === 'text') {
      this.#sendData(p, false, utf8Of(f.data), frag);
    } else if (f.type === 'binary') {
      this.#sendData(p, true, f.data, frag);
    } else if (f.type === 'ping' || f.type === 'pong') {
      const d = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
      if (f.type === 'ping') p.ping(d);
      else p.pong(d);
    } else if (f.type === 'close') {
      this.close(f.code, f.reason);
    } else {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'unknown frame type');
    }
  }

  #sendData(p: Protocol, binary: boolean, data: Uint8Array, frag: number): void {
    const ext = this.#opts.extension;
    if (ext === undefined) {
      this.#writeData(p, binary, data, 0, frag);
      return;
    }
    const enc = ext.encode(data, binary);
    if (!isPromise<EncodedMessage>(enc) && this.#outPending === 0) {
      this.#writeData(p, binary, enc.data, enc.rsv, frag);
      return;
    }
    // asynchronous encode: later frames (and our close) wait their turn
    this.#outPending++;
    const pending = Promise.resolve(enc);
    this.#outChain = (this.#outChain ?? Promise.resolve())
      .then(() => pending)
      .then(
        (m) => {
          this.#outPending--;
          if (this.#transportClosed) return;
          const proto = this.#protocol;
          if (proto && !proto.closeSent) this.#writeData(proto, binary, m.data, m.rsv, frag);
          if (this.#outPending === 0 && this.#hibernateWanted) this.#hibernate();
        },
        (err) => {
          this.#outPending--;
          // the session ended meanwhile and closed the extension: nothing is lost
          if (this.#transportClosed || this.#terminated) return;
          this.#opts.onError?.(err as Error);
          this.#handlerFailed(err);
        },
      );
  }

  #writeData(p: Protocol, binary: boolean, data: Uint8Array, rsv: number, frag: number): void {
    if (frag > 0 && data.length > frag) p.sendFragmented(binary, data, frag, rsv);
    else p.sendData(binary, data, { rsv });
  }

  /** Resolves when buffered outbound bytes drop below the low-water mark (or the session ends). */
  drained(): Promise<void> {
    if (this.#transportClosed || this.#writable) return Promise.resolve();
    const waiters = this.#drainWaiters ?? [];
    this.#drainWaiters = waiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /**
   * Start the closing handshake (default 1000). Throws WS_ERR_CLOSE_CODE_NOT_ALLOWED
   * or WS_ERR_CLOSE_REASON_TOO_LONG for what RFC 6455 §7.4 does not allow; nothing is sent then.
   */
  close(code = 1000, reason = ''): void {
    if (!isValidWireCloseCode(code)) {
      throw new WebSocketError(
        'WS_ERR_CLOSE_CODE_NOT_ALLOWED',
        `close code ${code} may not be sent (allowed: 1000-1003, 1007-1014, 3000-4999)`,
      );
    }
    this.#startClose('normal', code, reason);
  }

  /** Close with 1001 as the server goes away; terminate sees kind 'shutdown'. */
  shutdown(code = 1001, reason = ''): void {
    this.#startClose('shutdown', code, reason);
  }

  #startClose(kind: CloseKind, code: number, reason: string): void {
    if (this.#transportClosed || this.#terminated || this.#closeDeferred) return;
    if (this.#outPending > 0) {
      // messages still being encoded go first; the close frame follows them
      this.#closeDeferred = true;
      if (this.#closeKind === null) this.#setReason(kind, code, reason);
      this.#outChain = (this.#outChain ?? Promise.resolve()).then(() => {
        this.#closeDeferred = false;
        if (this.#transportClosed || this.#terminated) return;
        if (this.#proto().close(code, reason)) this.#armCloseTimer();
      });
      return;
    }
    const p = this.#proto();
    if (p.close(code, reason)) {
      if (this.#closeKind === null) this.#setReason(kind, code, reason);
      this.#armCloseTimer();
    }
  }

  /** Deliver `info` to handleInfo, in order with the messages. */
  post(info: unknown): void {
    if (this.#terminated || this.#closeKind !== null) return;
    this.#enqueue(Task.Info, info);
  }

  /** Close the transport at once, without a close handshake. */
  abort(): void {
    if (this.#closeKind === null) {
      this.#setReason(
        'error',
        1006,
        '',
        new WebSocketError('WS_ERR_CONNECTION_LOST', 'aborted', { closeCode: 1006 }),
      );
    }
    this.#transport.abort('cancel');
  }
}
