// A long-lived client connection (after WebsockexNova's ConnectionHandler): one
// `ClientConnection` outlives the sessions under it. Each attempt asks the handler
// for its connection info, opens a session through `connect()` (HTTP/1.1, /2, /3 or
// 'auto'), and when the session ends the ReconnectPolicy (./reconnect.ts) — never the
// connection callbacks — decides whether and when to try again. Messages sent while
// no session is open wait in a bounded queue. A heartbeat (./heartbeat.ts) pings and
// treats a silent peer as lost (1006 locally).
//
// Every handler callback — the shared ones (handleIn, handleControl, handleInfo,
// terminate) and the client ones (connectionInfo, handleConnect, handleDisconnect,
// handleTimeout, handlePong) — runs strictly one at a time over one state, which
// survives reconnections. `prepareFrame` transforms every outgoing data frame.

import { parseWsUrl } from '../h1/client.js';
import { validateClose } from '../ws/close.js';
import { WebSocketError } from '../ws/errors.js';
import {
  type Awaitable,
  type CloseReason,
  type Control,
  type Handler,
  isPromise,
  type Message,
  type OutFrame,
  ok,
  type Result,
  type UpgradeRequest,
} from '../ws/handler.js';
import type { Session } from '../ws/session.js';
import type { HttpVersion } from '../ws/transport.js';
import {
  attemptOptions,
  attemptUrl,
  callbackError,
  type DisconnectBase,
  defaultConnectionInfo,
  handshakeFailure,
  sessionEnd,
} from './attempt.js';
import { type ConnectOptions, connect, type HttpChoice } from './connect.js';
import { deferred } from './deferred.js';
import { Heartbeat, type HeartbeatOptions, heartbeatOptions } from './heartbeat.js';
import { ReconnectPolicy } from './reconnect.js';
import { parseNotice, type RecoveryInfo, resumePath } from './resume.js';
import { byteLength, type DataFrame, dataOf, type QueueOptions, SendQueue } from './send-queue.js';
import { Turns } from './turns.js';
import type {
  AttemptInfo,
  ClientState,
  ClientStatus,
  ConnectedInfo,
  ConnectionInfo,
  DisconnectReason,
  Pong,
  TimeoutInfo,
} from './types.js';

/**
 * The callbacks of a `connectClient()` connection: a session handler's, across reconnects, plus
 * connect, pong, timeout.
 */
export interface ClientHandler<S> {
  /** Per attempt: change the host, port, path, TLS, timeout, protocols, headers or HTTP version. */
  connectionInfo?(attempt: AttemptInfo, state: S): Awaitable<Partial<ConnectionInfo> | undefined>;
  /** A session opened (the client's init, once per connection). Runs before queued messages go out. */
  handleConnect?(info: ConnectedInfo, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  handleIn(msg: Message, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  /** Pings, and pongs when there is no handlePong. */
  handleControl?(ctl: Control, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  handleInfo?(info: unknown, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  /** Every pong, with the latency when it answers our heartbeat ping. */
  handlePong?(pong: Pong, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  /** The heartbeat or the handshake timed out. `stop` means: do not reconnect. */
  handleTimeout?(t: TimeoutInfo, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  /** A session or an attempt ended; `reason.retry` says what comes next. `stop`: do not reconnect. */
  handleDisconnect?(
    reason: DisconnectReason,
    state: S,
    conn: ClientConnection<S>,
  ): Awaitable<Result<S>>;
  /** Transform an outgoing data frame (envelopes, encodings); synchronous, once per frame. */
  prepareFrame?(data: string | Uint8Array, type: 'text' | 'binary', state: S): DataFrame;
  /**
   * With `resume`: the outcome of coming back to a topic with history. Without this
   * callback the notice goes to handleIn as a text message: a gap is never silent.
   */
  handleRecovery?(r: RecoveryInfo, state: S, conn: ClientConnection<S>): Awaitable<Result<S>>;
  /** Called exactly once, when the connection ends for good. */
  terminate?(reason: CloseReason, state: S): void | Promise<void>;
}

/** Options of `connectClient()`: handler and state, reconnect policy, heartbeat and send queue. */
export interface ClientConnectOptions<S>
  extends Omit<ConnectOptions<null>, 'handler' | 'state' | 'http'> {
  handler: ClientHandler<S>;
  state?: S;
  /** Which HTTP carries the WebSocket (default 1). */
  http?: HttpChoice;
  /** When to reconnect (default `new ReconnectPolicy()`); false: never. */
  policy?: ReconnectPolicy | false;
  /** Ping and watch for silence (default off); true for the defaults. */
  heartbeat?: HeartbeatOptions | boolean;
  queue?: QueueOptions;
  /**
   * Resume topics with history across reconnections (docs/scaling.md): ask for positions
   * (`?positions=1`), keep the last one, and come back with `?since=<it>` so the server
   * replays what was missed. Position notices are not passed to handleIn.
   */
  resume?: boolean;
}

/**
 * Open a client connection that reconnects by its policy. Returns at once (throws
 * WS_ERR_INVALID_URL / WS_ERR_INVALID_ARGUMENT for bad arguments); `opened` resolves
 * at the first open, `closed` when the connection ends for good.
 */
export function connectClient<S>(
  url: string | URL,
  opts: ClientConnectOptions<S>,
): ClientConnection<S> {
  return new ClientConnection(url, opts);
}

/**
 * A client WebSocket that reconnects by its policy and queues sends in between; `connectClient()`
 * makes it.
 */
export class ClientConnection<S = unknown> {
  readonly url: string;
  readonly #opts: ClientConnectOptions<S>;
  readonly #handler: ClientHandler<S>;
  readonly #policy: ReconnectPolicy | null;
  readonly #hbOpts: HeartbeatOptions | null;
  readonly #queue: SendQueue;
  readonly #turns: Turns;
  readonly #defaults: ConnectionInfo;
  #state: S;

  #phase: ClientState = 'connecting';
  #session: Session<null> | null = null;
  #http: HttpVersion | undefined;
  #closing: { code: number; reason: string } | null = null;
  #attempt = 0;
  #failures = 0;
  #connects = 0;
  #stableTimer: NodeJS.Timeout | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #heartbeat: Heartbeat | null = null;
  #heartbeatLost = false;
  #latency: number | undefined;
  #lastDisconnect: DisconnectReason | undefined;
  #bytesIn = 0;
  #bytesOut = 0;
  #messagesIn = 0;
  #messagesOut = 0;
  #outBlocked = false;
  // the session is open but handleConnect has not finished: sends queue behind the waiting ones
  #flushed = false;
  #attemptTimeout = 15_000;
  /** With `resume`: the last position heard. */
  #position: string | undefined;

  readonly #opened = deferred<void>();
  readonly #closed = deferred<CloseReason>();
  #everOpened = false;

  constructor(url: string | URL, opts: ClientConnectOptions<S>) {
    const u = parseWsUrl(url);
    this.url = String(url);
    this.#opts = opts;
    this.#handler = opts.handler;
    if (typeof opts.handler?.handleIn !== 'function') {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'handler.handleIn is required');
    }
    this.#state = opts.state as S;
    this.#policy = opts.policy === false ? null : (opts.policy ?? new ReconnectPolicy());
    this.#hbOpts = heartbeatOptions(opts.heartbeat);
    this.#queue = new SendQueue(opts.queue);
    this.#turns = new Turns(() => this.#heartbeat, opts);
    this.#defaults = defaultConnectionInfo(u, opts);
    queueMicrotask(() => this.#attemptNow());
  }

  // ── public API ─────────────────────────────────────────────────────────────

  /** Resolves at the first open; rejects if the connection ends before ever opening. */
  get opened(): Promise<void> {
    return this.#opened.promise;
  }

  /** Resolves once, when the connection has ended for good (after terminate ran). */
  get closed(): Promise<CloseReason> {
    return this.#closed.promise;
  }

  get state(): ClientState {
    return this.#phase;
  }

  /** The HTTP version of the open (or last) session. */
  get http(): HttpVersion | undefined {
    return this.#http;
  }

  get subprotocol(): string | undefined {
    return this.#session?.subprotocol;
  }

  get extensions(): string {
    return this.#session?.extensions ?? '';
  }

  /** With `resume`: the last position heard (what the next connection resumes after). */
  get position(): string | undefined {
    return this.#position;
  }

  status(): ClientStatus {
    return {
      state: this.#phase,
      http: this.#http,
      latency: this.#latency,
      attempts: this.#failures,
      connects: this.#connects,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      queued: this.#queue.length,
      dropped: this.#queue.dropped,
      bufferedAmount: this.#session?.bufferedAmount ?? 0,
      lastDisconnect: this.#lastDisconnect,
    };
  }

  /**
   * Send frames. Data frames pass through prepareFrame; with no open session they
   * wait in the queue (ping/pong are dropped then). Returns false when the transport
   * buffers above its high-water mark (wait for `drained()`) or a control frame was
   * dropped. Throws WS_ERR_INVALID_STATE after close(), WS_ERR_QUEUE_FULL when the
   * queue is full and set to 'reject'.
   */
  send(frames: OutFrame | readonly OutFrame[]): boolean {
    if (this.#closing || this.#phase === 'closed') {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the connection is closing or closed');
    }
    const list = Array.isArray(frames) ? (frames as readonly OutFrame[]) : [frames as OutFrame];
    let writable = true;
    for (const f of list) if (!this.#sendOne(f, false)) writable = false;
    return writable;
  }

  /** Resolves when the open session's buffered bytes drop below the low-water mark. */
  drained(): Promise<void> {
    return this.#session?.drained() ?? Promise.resolve();
  }

  /** Deliver `info` to handleInfo, in order with the messages. */
  post(info: unknown): void {
    if (this.#phase === 'closed') return;
    const s = this.#session;
    if (s && s.readyState === 'open') {
      s.post(info);
      return;
    }
    this.#turns.detached(() =>
      this.#callback(() => this.#handler.handleInfo?.(info, this.#state, this)),
    );
  }

  /**
   * Close for good (default 1000): no more reconnections. An open session gets a close
   * frame; a pending retry is cancelled. Throws WS_ERR_CLOSE_CODE_NOT_ALLOWED /
   * WS_ERR_CLOSE_REASON_TOO_LONG for what RFC 6455 §7.4 does not allow.
   */
  close(code = 1000, reason = ''): void {
    validateClose(code, reason);
    if (this.#closing || this.#phase === 'closed') return;
    this.#closing = { code, reason };
    if (this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#finish({ kind: 'normal', code, reason, wasClean: false });
      return;
    }
    const s = this.#session;
    if (s) {
      this.#phase = 'closing';
      s.close(code, reason);
    }
    // an attempt in flight ends at its open (closed at once) or its failure
  }

  // ── attempts ───────────────────────────────────────────────────────────────

  #attemptNow(): void {
    if (this.#phase === 'closed') return;
    if (this.#closing) {
      // close() before the first attempt started
      const { code, reason } = this.#closing;
      this.#finish({ kind: 'normal', code, reason, wasClean: false });
      return;
    }
    const attempt = ++this.#attempt;
    this.#phase = this.#connects === 0 && this.#failures === 0 ? 'connecting' : 'reconnecting';
    const h = this.#handler;
    let info: Awaitable<Partial<ConnectionInfo> | undefined>;
    try {
      info = this.#turns.run(
        () =>
          h.connectionInfo?.(
            {
              attempt,
              failures: this.#failures,
              defaults: { ...this.#defaults },
              lastDisconnect: this.#lastDisconnect,
            },
            this.#state,
          ) as Awaitable<Partial<ConnectionInfo> | undefined>,
      );
    } catch (err) {
      this.#attemptFailed(attempt, callbackError('connectionInfo', err));
      return;
    }
    if (isPromise<Partial<ConnectionInfo> | undefined>(info)) {
      info.then(
        (i) => this.#open(attempt, i),
        (err) => this.#attemptFailed(attempt, callbackError('connectionInfo', err)),
      );
    } else {
      this.#open(attempt, info);
    }
  }

  #open(attempt: number, change: Partial<ConnectionInfo> | undefined): void {
    if (this.#closing) {
      const { code, reason } = this.#closing;
      this.#finish({ kind: 'normal', code, reason, wasClean: false });
      return;
    }
    const ci: ConnectionInfo = { ...this.#defaults, ...(change ?? {}) };
    if (this.#opts.resume) ci.path = resumePath(ci.path, this.#position);
    this.#attemptTimeout = ci.handshakeTimeout ?? ci.timeout ?? 15_000;
    const {
      handler: _h,
      state: _s,
      policy: _p,
      heartbeat: _b,
      queue: _q,
      resume: _r,
      ...rest
    } = this.#opts;
    let p: Promise<Session<null>>;
    try {
      p = connect(attemptUrl(ci), attemptOptions(rest, ci, this.#sessionHandler(attempt)));
    } catch (err) {
      this.#attemptFailed(attempt, err);
      return;
    }
    // on success the session is ours already: its init ran #onOpen
    p.then(undefined, (err) => this.#attemptFailed(attempt, err));
  }

  /** The handler the session runs: every callback goes through ours, over our state. */
  #sessionHandler(attempt: number): Handler<null> {
    const h = this.#handler;
    return {
      init: (req, _s, api) => this.#onOpen(attempt, req, api as Session<null>),
      handleIn: (msg) => {
        this.#heartbeat?.alive();
        this.#messagesIn++;
        this.#bytesIn += msg.type === 'text' ? Buffer.byteLength(msg.data) : msg.data.length;
        const notice = this.#opts.resume && msg.type === 'text' ? parseNotice(msg.data) : undefined;
        if (notice?.kind === 'position') {
          this.#position = notice.position;
          return ok(null);
        }
        if (notice?.kind === 'recovery' && h.handleRecovery) {
          return this.#callback(() => h.handleRecovery!(notice.info, this.#state, this));
        }
        return this.#callback(() => h.handleIn(msg, this.#state, this));
      },
      handleControl: (ctl) => {
        const hb = this.#heartbeat;
        if (ctl.type === 'pong') {
          const latency = hb?.pong(ctl.data);
          if (latency !== undefined) this.#latency = latency;
          if (h.handlePong) {
            return this.#callback(() =>
              h.handlePong!({ latency, payload: ctl.data }, this.#state, this),
            );
          }
        } else {
          hb?.alive();
        }
        if (!h.handleControl) return ok(null);
        return this.#callback(() => h.handleControl!(ctl, this.#state, this));
      },
      handleInfo: (info) => {
        if (!h.handleInfo) return ok(null);
        return this.#callback(() => h.handleInfo!(info, this.#state, this));
      },
      terminate: (reason) => this.#onSessionEnd(attempt, reason),
    };
  }

  #onOpen(attempt: number, req: UpgradeRequest, session: Session<null>): Awaitable<Result<null>> {
    this.#session = session;
    this.#http = req.http;
    this.#connects++;
    this.#heartbeatLost = false;
    this.#outBlocked = false;
    this.#flushed = false;
    this.#phase = 'open';
    if (this.#closing) {
      this.#phase = 'closing';
      session.close(this.#closing.code, this.#closing.reason);
      return ok(null);
    }
    const policy = this.#policy;
    if (policy && this.#failures > 0) {
      this.#stableTimer = setTimeout(() => {
        this.#stableTimer = null;
        this.#failures = 0;
      }, policy.stableAfter);
      this.#stableTimer.unref();
    }
    if (this.#hbOpts) this.#startHeartbeat(session, this.#hbOpts);
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#opened.resolve();
    const r = this.#callback(() =>
      this.#handler.handleConnect?.({ request: req, attempt, reconnected }, this.#state, this),
    );
    if (isPromise<Result<null>>(r)) return r.then((res) => this.#flush(session, res));
    return this.#flush(session, r);
  }

  /** After handleConnect: the frames queued while disconnected go out, in order. */
  #flush(session: Session<null>, r: Result<null>): Result<null> {
    if (this.#session !== session) return r;
    while (this.#queue.length > 0 && session.readyState === 'open') {
      const f = this.#queue.shift()!;
      this.#write(session, f);
    }
    this.#flushed = true;
    return r;
  }

  #attemptFailed(attempt: number, err: unknown): void {
    const { base, final, error } = handshakeFailure(attempt, err);
    if (error instanceof WebSocketError && error.code === 'WS_ERR_HANDSHAKE_TIMEOUT') {
      const timeout = this.#attemptTimeout;
      this.#turns.detached(
        () =>
          this.#callback(() =>
            this.#handler.handleTimeout?.({ kind: 'handshake', timeout }, this.#state, this),
          ),
        () => this.#afterDisconnect(base, final),
      );
      return;
    }
    this.#afterDisconnect(base, final);
  }

  #onSessionEnd(attempt: number, reason: CloseReason): void {
    const session = this.#session;
    this.#session = null;
    this.#flushed = false;
    this.#heartbeat?.stop();
    this.#heartbeat = null;
    if (this.#outBlocked) this.#outBlocked = false;
    if (this.#stableTimer) {
      clearTimeout(this.#stableTimer);
      this.#stableTimer = null;
    }
    const { base, final } = sessionEnd(
      attempt,
      reason,
      this.#heartbeatLost,
      session?.http ?? this.#http,
    );
    this.#afterDisconnect(base, final);
  }

  #afterDisconnect(base: DisconnectBase, final: CloseReason): void {
    if (this.#phase === 'closed') return;
    let dr: DisconnectReason;
    if (this.#closing) {
      dr = { ...base, retry: null, why: 'closed' };
    } else if (!this.#policy) {
      dr = { ...base, retry: null, why: 'no-policy' };
    } else {
      const d = this.#policy.decide(base, this.#failures + 1);
      dr = d.retry
        ? { ...base, retry: { attempt: d.attempt, delay: d.delay } }
        : { ...base, retry: null, why: d.why };
    }
    this.#lastDisconnect = dr;
    this.#phase = dr.retry ? 'reconnecting' : 'closing';
    this.#turns.detached(
      () => this.#callback(() => this.#handler.handleDisconnect?.(dr, this.#state, this)),
      () => {
        if (this.#closing || !dr.retry) {
          this.#finish(final);
          return;
        }
        this.#failures++;
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          this.#attemptNow();
        }, dr.retry.delay);
      },
    );
  }

  #finish(reason: CloseReason): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#stableTimer) clearTimeout(this.#stableTimer);
    this.#retryTimer = null;
    this.#stableTimer = null;
    this.#heartbeat?.stop();
    this.#heartbeat = null;
    this.#queue.clear();
    if (!this.#everOpened) {
      this.#opened.reject(
        reason.error ??
          new WebSocketError('WS_ERR_CONNECTION_LOST', 'closed before the connection opened'),
      );
    }
    const done = () => this.#closed.resolve(reason);
    let r: Awaitable<void>;
    try {
      r = this.#turns.run(() => this.#handler.terminate?.(reason, this.#state));
    } catch (err) {
      this.#turns.report(err);
      done();
      return;
    }
    if (isPromise<void>(r)) {
      r.then(done, (err) => {
        this.#turns.report(err);
        done();
      });
    } else {
      done();
    }
  }

  // ── heartbeat ──────────────────────────────────────────────────────────────

  #startHeartbeat(session: Session<null>, opts: HeartbeatOptions): void {
    const hb = new Heartbeat(opts, {
      ping: (payload) => {
        if (session.readyState !== 'open') return;
        try {
          this.#write(session, { type: 'ping', data: payload });
        } catch (err) {
          // a payload above 125 bytes, or the session is closing: no heartbeat then
          hb.stop();
          this.#turns.report(err);
        }
      },
      lost: () => {
        if (this.#session !== session) return;
        this.#heartbeatLost = true;
        const t: TimeoutInfo = { kind: 'heartbeat', interval: hb.interval, timeout: hb.timeout };
        this.#turns.detached(
          () => this.#callback(() => this.#handler.handleTimeout?.(t, this.#state, this)),
          // RFC 6455 §7.1.7: a dead peer gets no closing handshake; 1006 locally
          () => session.abort(),
        );
      },
    });
    this.#turns.holdIfBusy(hb);
    this.#heartbeat = hb;
    hb.start();
  }

  // ── sending ────────────────────────────────────────────────────────────────

  /** Returns the session's writable flag (true when queued; false for a dropped control frame). */
  #sendOne(f: OutFrame, fromHandler: boolean): boolean {
    if (typeof f === 'object' && !(f instanceof Uint8Array)) {
      if (f.type === 'close') {
        this.close(f.code, f.reason);
        return true;
      }
      if (f.type === 'ping' || f.type === 'pong') {
        const s = this.#session;
        if (s?.readyState !== 'open') return false;
        return this.#write(s, f);
      }
    }
    const prepared = this.#prepare(f as DataFrame);
    const s = this.#session;
    if (s && s.readyState === 'open' && (this.#flushed || fromHandler)) {
      try {
        return this.#write(s, prepared);
      } catch (err) {
        // closing under us: the frame waits for the next session like any other
        if (!(err instanceof WebSocketError && err.code === 'WS_ERR_INVALID_STATE')) throw err;
      }
    }
    if (this.#closing || this.#phase === 'closed') {
      if (fromHandler) return false;
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'the connection is closing or closed');
    }
    this.#queue.push(prepared);
    return true;
  }

  #prepare(f: DataFrame): DataFrame {
    const p = this.#handler.prepareFrame;
    if (!p) return f;
    const { binary, data } = dataOf(f);
    return p.call(this.#handler, data, binary ? 'binary' : 'text', this.#state);
  }

  #write(session: Session<null>, f: OutFrame): boolean {
    const writable = session.send(f);
    if (
      typeof f === 'string' ||
      f instanceof Uint8Array ||
      f.type === 'text' ||
      f.type === 'binary'
    ) {
      this.#messagesOut++;
      this.#bytesOut += byteLength(dataOf(f as DataFrame).data);
    }
    if (!writable && !this.#outBlocked) {
      // our writes wait for drain: a late pong is not silence
      this.#outBlocked = true;
      const hb = this.#heartbeat;
      hb?.pause();
      session.drained().then(() => {
        if (this.#session === session) this.#outBlocked = false;
        hb?.resume();
      });
    }
    return writable;
  }

  // ── running callbacks one at a time ────────────────────────────────────────

  /** Run a handler callback in turn; apply its Result (state, replies, stop). */
  #callback(fn: () => Awaitable<Result<S>> | undefined): Awaitable<Result<null>> {
    // the result is applied inside the turn: the next callback sees the new state
    return this.#turns.run(() => {
      const r = fn();
      if (isPromise<Result<S> | undefined>(r)) return r.then((res) => this.#apply(res));
      return this.#apply(r);
    });
  }

  #apply(r: Result<S> | undefined): Result<null> {
    if (r === undefined) return ok(null); // the callback is not defined
    if (typeof r !== 'object' || r === null || !('result' in r)) {
      throw new WebSocketError('WS_ERR_HANDLER', 'handler returned no result (use ok/reply/stop)');
    }
    this.#state = r.state;
    if (r.result === 'reply') {
      for (const f of r.frames) this.#sendOne(f, true);
    } else if (r.result === 'stop') {
      this.close(r.code ?? 1000, r.reason ?? '');
      return ok(null);
    }
    return r.hibernate ? ok(null, { hibernate: true }) : ok(null);
  }
}
