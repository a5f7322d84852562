// A session binds one Protocol, one Transport and one Handler: it owns the timers
// (close and idle timeouts), backpressure both ways, hibernation and shutdown, and
// never asks which HTTP version carries it. The strictly ordered handler calls are
// ./handler-calls.ts, the outgoing frames ./outbound.ts; both ask the session what
// they need through its one long-lived events object.

import { isValidWireCloseCode } from './close.js';
import { connectionError, extensionError, WebSocketError } from './errors.js';
import type { MaskSource, Role } from './frame.js';
import {
  type CloseKind,
  type CloseReason,
  type Control,
  type Handler,
  isPromise,
  type Message,
  type OutFrame,
  type PublishOptions,
  type SessionApi,
  type SubscribeOptions,
  type TopicData,
  type UpgradeRequest,
} from './handler.js';
import { HandlerCalls, Task } from './handler-calls.js';
import {
  DEFAULT_MAX_BUFFERED,
  Outbound,
  type OutboundHost,
  slowConsumerError,
} from './outbound.js';
import { Protocol, type ProtocolSink } from './protocol.js';
import {
  Delivery,
  flushLater,
  isPosition,
  kDeliver,
  kFlush,
  positionNotice,
  type SharedMessage,
  type Subscriber,
  type TopicHub,
} from './pubsub.js';
import type { SessionOptions } from './session-options.js';
import { decodeText, handledText } from './text.js';
import type { HttpVersion, PathStats, Transport, TransportSink } from './transport.js';
import { isValidUtf8 } from './utf8.js';

export type { Limits, SessionOptions } from './session-options.js';

/**
 * What a Session is made of: role, transport, handler and state, the upgrade, and session options.
 */
export interface SessionInit<S> extends SessionOptions {
  role: Role;
  transport: Transport;
  handler: Handler<S>;
  state: S;
  request: UpgradeRequest;
  /** Client role: the mask key source (default: crypto-random keys; tests may fix it). */
  mask?: MaskSource;
  /**
   * Called once when the session has ended, just before `closed` resolves: lets a
   * registry forget it without a promise (and its reactions) per session.
   */
  onEnded?: (session: Session<any>) => void;
  /** The topics hub `subscribe` and `publish` use (server sessions; ./topics.ts). */
  topics?: TopicHub | undefined;
}

/** A session's topics and the published frames queued for it until the end of the turn. */
class PubSub {
  topics: Set<string> | null = null;
  /** Topics whose messages come with their position notices (subscribe's `positions`). */
  positioned: Set<string> | null = null;
  queue: Uint8Array[] | null = null;
  /** Bytes in `queue`. */
  bytes = 0;
  /** Bytes `queue` may hold this turn (set when it starts). */
  room = 0;
}

const NO_TOPICS: ReadonlySet<string> = new Set();
/** Queued frames up to this many bytes in all are joined into one buffer when flushed. */
const JOIN_QUEUE_MAX = 64 * 1024;
/** Longest topic name, in UTF-16 units. */
const MAX_TOPIC = 1024;

function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      `a topic is a string of 1 to ${MAX_TOPIC} characters, not ${typeof topic === 'string' ? `one of ${topic.length}` : typeof topic}`,
    );
  }
}

/** The session's one long-lived events object, as each of its users sees it. */
type SessionEvents = HandlerCalls<any> & TransportSink & OutboundHost;

/**
 * One WebSocket: binds a Protocol, a Transport and a Handler; owns timeouts, backpressure,
 * hibernation.
 */
export class Session<S = unknown> implements SessionApi, Subscriber {
  readonly role: Role;
  readonly request: UpgradeRequest;
  readonly #transport: Transport;
  readonly #opts: SessionInit<S>;
  /** The callbacks of the transport and the outgoing side, and the handler calls. */
  readonly #events: SessionEvents;
  /** Created on first send; let go while hibernating. */
  #out: Outbound | null = null;
  #protocol: Protocol | null = null;
  /** Topics and queued deliveries, from the first subscribe or delivery. */
  #ps: PubSub | null = null;

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
  // a close waits for the messages still being encoded
  #closeDeferred = false;

  // The protocol's and the transport's callbacks into this session: one small object
  // each, with the methods on a shared prototype. (Closures would cost ~60 bytes per
  // callback per session, which adds up over many idle connections.)
  static readonly #ProtocolEvents = class implements ProtocolSink {
    readonly #s: Session<any>;
    constructor(s: Session<any>) {
      this.#s = s;
    }
    write(chunks: Uint8Array[]): void {
      this.#s.#write(chunks);
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

  // The transport's events, and what the handler calls and the outgoing side ask of
  // the session: one object for the session's lifetime.
  static readonly #Events = class extends HandlerCalls<any> implements TransportSink, OutboundHost {
    readonly #s: Session<any>;
    constructor(s: Session<any>, init: SessionInit<any>) {
      super(init.handler, init.state);
      this.#s = s;
    }
    api(): SessionApi {
      return this.#s;
    }
    options(): SessionOptions {
      return this.#s.#opts;
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
    transportClosed(): boolean {
      return this.#s.#transportClosed;
    }
    terminated(): boolean {
      return this.#s.#terminated;
    }
    pauseReading(): void {
      this.#s.#transport.pause();
    }
    resumeReading(): void {
      this.#s.#transport.resume();
    }
    canSend(): boolean {
      return this.#s.#canSend();
    }
    closing(): boolean {
      return this.#s.#closeKind !== null;
    }
    currentProtocol(): Protocol | null {
      return this.#s.#protocol;
    }
    close(code?: number, reason?: string): void {
      this.#s.close(code, reason);
    }
    stop(code: number, reason: string): void {
      this.#s.#startClose('normal', code, reason);
    }
    closeOnError(code: number, reason: string, err: WebSocketError): void {
      this.#s.#closeOnError(code, reason, err);
    }
    hibernate(): boolean {
      return this.#s.#hibernate();
    }
    writeFramed(frame: readonly Uint8Array[]): void {
      this.#s.#write(frame);
    }
    encodesDone(): void {
      this.#s.#events.hibernateIfWanted();
    }
    encodeFailed(err: unknown): void {
      this.#s.#handlerFailed(err);
    }
    handlerFailed(err: unknown): void {
      this.#s.#handlerFailed(err);
    }
    extensionFailed(err: unknown): void {
      this.#s.#extensionFailed(err);
    }
    acceptsDecoded(): boolean {
      const s = this.#s;
      const closed = s.#protocol === null || s.#protocol.state === 'closed';
      return !(closed && s.#closeKind === 'error');
    }
    end(): CloseReason {
      return this.#s.#end();
    }
    ended(final: CloseReason): void {
      const s = this.#s;
      s.#opts.onEnded?.(s);
      s.#resolveClosed?.(final);
    }
  };

  constructor(init: SessionInit<S>) {
    this.role = init.role;
    this.request = init.request;
    this.#transport = init.transport;
    this.#opts = init;
    this.#events = new Session.#Events(this, init);
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
  /**
   * The path under this WebSocket: over HTTP/3 its QUIC connection's RTT, min RTT,
   * congestion window, path MTU and packet/byte counters (shared with every WebSocket on
   * that connection); undefined over HTTP/1.1 and HTTP/2.
   */
  pathStats(): PathStats | undefined {
    return this.#transport.pathStats?.();
  }
  /**
   * Client over HTTP/3: move the QUIC connection under this WebSocket to a new local UDP
   * port (RFC 9000 §9: the new path is probed, validated, then used), with every WebSocket
   * on that connection; resolves with the new local address. Rejects over HTTP/1.1 and
   * HTTP/2, on a server, and when the server offers no spare connection ID or the path
   * does not validate.
   */
  migrate(): Promise<{ address: string; port: number }> {
    if (!this.#transport.migrate) {
      return Promise.reject(
        new WebSocketError(
          'WS_ERR_INVALID_STATE',
          `only a WebSocket over HTTP/3 can move to a new path (this one is over HTTP/${this.#transport.info.http})`,
        ),
      );
    }
    return this.#transport.migrate();
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
    this.#events.enqueue(Task.Init, this.request);
    const idle = this.#opts.idleTimeout ?? 0;
    if (idle > 0) {
      this.#idleTimer = setTimeout(() => this.#onIdle(), idle);
      this.#idleTimer.unref?.();
    }
    this.#transport.attach(this.#events);
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
    this.#events.enqueue(Task.Terminate, undefined);
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
        this.#events.enqueue(
          Task.In,
          decoded.then((d) => this.#decodedMessage(binary, d)),
        );
        return;
      }
      const msg = this.#decodedMessage(binary, decoded);
      if (msg) this.#events.enqueue(Task.In, msg);
      return;
    }
    if (binary) {
      this.#events.enqueue(Task.In, { type: 'binary', data } satisfies Message);
      return;
    }
    const text = decodeText(data);
    handledText.text = text;
    handledText.bytes = data;
    try {
      this.#events.enqueue(Task.In, { type: 'text', data: text } satisfies Message);
    } finally {
      // handled (or queued behind a busy handler): the bytes are not kept while idle
      handledText.text = null;
      handledText.bytes = null;
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
    this.#proto().fail(extensionError(err));
  }

  #onControl(type: 'ping' | 'pong', data: Buffer): void {
    if (this.#opts.handler.handleControl) {
      this.#events.enqueue(Task.Control, { type, data } satisfies Control);
    }
  }

  #onCloseFrame(code: number, reason: string): void {
    if (this.#closeKind === null) this.#setReason('remote', code, reason);
    // RFC 6455 §7.1.1: "the underlying TCP connection, in most normal cases, SHOULD be
    // closed first by the server"; over TCP the client waits for that (bounded by the
    // close timeout), so that the server holds TIME_WAIT. A stream of HTTP/2 or HTTP/3 has
    // no TIME_WAIT, and a client whose close handshake is complete has nothing left to
    // send: it ends its side now (END_STREAM / FIN). Servers that wait for the client's
    // end before their own (Hypercorn) would otherwise hold both sides to the timeout.
    if (this.role === 'server' || this.#transport.clientEndsFirst) this.#transport.end();
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

  #handlerFailed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(`handler threw a non-error: ${String(err)}`);
    const wrapped = new WebSocketError('WS_ERR_HANDLER', `handler failed: ${e.message}`, {
      closeCode: 1011,
      cause: e,
    });
    this.#opts.onError?.(wrapped);
    // RFC 6455 §7.4.1: 1011 "encountered an unexpected condition"; no detail is leaked.
    this.#closeOnError(1011, '', wrapped);
  }

  /** Close with `code` after a failure, unless a close reason is set already. */
  #closeOnError(code: number, reason: string, err: Error): void {
    if (this.#closeKind !== null) return;
    this.#setReason('error', code, reason, err);
    if (this.#proto().close(code, reason)) this.#armCloseTimer();
  }

  /** The session has ended: its final reason; the protocol and the extension are let go. */
  #end(): CloseReason {
    this.#terminated = true;
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
    this.#leaveTopics();
    try {
      this.#opts.extension?.close();
    } catch (err) {
      this.#opts.onError?.(err as Error);
    }
    return final;
  }

  /** Let the protocol go while idle; false while an encode is pending (hibernate after it). */
  #hibernate(): boolean {
    if (this.#encoding()) return false;
    const p = this.#protocol;
    if (p && p.state === 'open' && p.idle && !this.#closeKind) {
      this.#protocol = null;
      this.#out = null;
      this.#opts.extension?.release?.();
    }
    return true;
  }

  /** Whether messages are still being encoded (asynchronously: permessage-deflate). */
  #encoding(): boolean {
    return this.#out !== null && this.#out.pending > 0;
  }

  #outbound(): Outbound {
    if (this.#out === null) this.#out = new Outbound(this.#events, this.#opts, this.#transport);
    return this.#out;
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
        if (this.#outbound().sendOne(p, f)) continue;
        sent = false;
        if (!this.#canSend()) break; // closed as a slow consumer: the rest is not sent either
      }
      return sent && this.#writable;
    }
    return this.#outbound().sendOne(p, frames as OutFrame) && this.#writable;
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
    if (this.#encoding()) {
      // messages still being encoded go first; the close frame follows them
      this.#closeDeferred = true;
      if (this.#closeKind === null) this.#setReason(kind, code, reason);
      this.#out!.afterPending(() => {
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
    this.#events.enqueue(Task.Info, info);
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

  // ── topics ─────────────────────────────────────────────────────────────────

  #hub(): TopicHub {
    const hub = this.#opts.topics;
    if (hub !== undefined) return hub;
    throw new WebSocketError(
      'WS_ERR_INVALID_STATE',
      this.role === 'client'
        ? 'topics are served: a client session has none'
        : 'this session was made without a topics hub (SessionInit.topics)',
    );
  }

  subscribe(topic: string, opts?: SubscribeOptions): boolean {
    checkTopic(topic);
    const hub = this.#hub();
    if (opts?.since !== undefined && !isPosition(opts.since)) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `since must be a history position (<ms>-<seq>), not ${JSON.stringify(opts.since).slice(0, 40)}`,
      );
    }
    if (this.#terminated) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the WebSocket is closed');
    }
    this.#ps ??= new PubSub();
    const ps = this.#ps;
    ps.topics ??= new Set();
    const set = ps.topics;
    if (set.has(topic)) return false;
    set.add(topic);
    if (opts?.positions || opts?.since !== undefined) {
      ps.positioned ??= new Set();
      ps.positioned.add(topic);
    }
    hub.add(this, topic, opts);
    return true;
  }

  unsubscribe(topic: string): boolean {
    const set = this.#ps?.topics;
    if (!set?.delete(topic)) return false;
    this.#ps!.positioned?.delete(topic);
    this.#opts.topics!.remove(this, topic);
    return true;
  }

  isSubscribed(topic: string): boolean {
    return this.#ps?.topics?.has(topic) ?? false;
  }

  get topics(): ReadonlySet<string> {
    return this.#ps?.topics ?? NO_TOPICS;
  }

  /** Publish to every subscriber of `topic` but this session; how many it was queued for. */
  publish(topic: string, data: TopicData, opts?: PublishOptions): number {
    checkTopic(topic);
    return this.#hub().publish(topic, data, opts, this);
  }

  #leaveTopics(): void {
    const ps = this.#ps;
    if (ps === null) return;
    this.#ps = null;
    const set = ps.topics;
    if (set !== null) for (const t of set) this.#opts.topics!.remove(this, t);
  }

  /** A published message: its shared frame queued until the end of the turn. */
  [kDeliver](m: SharedMessage): Delivery {
    if (!this.#canSend()) return Delivery.Closed;
    const o = this.#opts;
    const frag = o.fragmentSize;
    if (frag !== undefined && frag > 0 && m.data.length > frag) return this.#deliverOwn(m);
    const ext = o.extension;
    let frame: Uint8Array[];
    if (ext === undefined || !m.compress) frame = m.plain();
    else {
      const enc = ext.shared;
      if (enc === undefined || enc === null) return this.#deliverOwn(m);
      frame = m.encoded(enc);
    }
    let ps = this.#ps;
    if (ps === null) {
      ps = new PubSub();
      this.#ps = ps;
    }
    let q = ps.queue;
    if (q === null) {
      // what may still be queued this turn: maxBuffered less what the transport holds
      ps.room = (o.maxBuffered ?? DEFAULT_MAX_BUFFERED) - this.#transport.bufferedAmount();
      if (ps.room <= 0) return this.#slowSubscriber();
    } else if (ps.bytes >= ps.room) {
      return this.#slowSubscriber();
    }
    const positioned = m.position !== undefined && ps.positioned?.has(m.topic) === true;
    const out = this.#out;
    if (out !== null && out.pending > 0) {
      // messages of this session are being compressed: this one goes out after them
      if (positioned) out.sendFramed(m.notice());
      out.sendFramed(frame);
      return Delivery.Queued;
    }
    if (q === null) {
      q = [];
      ps.queue = q;
      flushLater(this);
    }
    if (positioned) {
      for (const c of m.notice()) {
        q.push(c);
        ps.bytes += c.length;
      }
    }
    for (let i = 0; i < frame.length; i++) {
      const c = frame[i]!;
      q.push(c);
      ps.bytes += c.length;
    }
    return Delivery.Queued;
  }

  /** A published message this session encodes itself (context takeover, fragmentation). */
  #deliverOwn(m: SharedMessage): Delivery {
    const out = this.#outbound();
    if (m.position !== undefined && this.#ps?.positioned?.has(m.topic)) {
      const notice = Buffer.from(positionNotice(m.topic, m.position));
      if (!out.sendMessage(this.#proto(), false, notice)) {
        return this.#canSend() ? Delivery.Dropped : Delivery.Closed;
      }
    }
    if (out.sendMessage(this.#proto(), m.binary, m.data)) return Delivery.Queued;
    return this.#canSend() ? Delivery.Dropped : Delivery.Closed;
  }

  #slowSubscriber(): Delivery {
    const max = this.#opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if ((this.#opts.onSlowConsumer ?? 'close') === 'drop') return Delivery.Dropped;
    // RFC 6455 §7.4.1: 1008 "a message that violates its policy"
    this.#closeOnError(1008, 'slow consumer', slowConsumerError(max));
    return Delivery.Closed;
  }

  /** Every write of the session's own: the published frames queued before it go first. */
  #write(chunks: readonly Uint8Array[]): void {
    if (this.#ps?.queue) this.#flushDeliveries();
    this.#writable = this.#transport.write(chunks);
  }

  /** The end of the turn: the queued frames leave in one write. */
  [kFlush](): void {
    if (this.#ps?.queue) this.#flushDeliveries();
  }

  #flushDeliveries(): void {
    const ps = this.#ps!;
    const q = ps.queue!;
    const n = ps.bytes;
    ps.queue = null;
    ps.bytes = 0;
    const t = this.#transport;
    if (this.#transportClosed) return;
    if (q.length === 1 || n <= JOIN_QUEUE_MAX) {
      const one = q.length === 1 ? q[0]! : Buffer.concat(q, n);
      this.#writable = t.writeNow ? t.writeNow(one) : t.write(one);
    } else {
      this.#writable = t.write(q);
    }
  }
}
