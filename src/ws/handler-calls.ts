// The handler calls of one session, strictly in order: init, then each message,
// control frame and posted info in arrival order, then terminate exactly once. A call
// that returns a Promise is awaited before the next one runs; arrivals queue meanwhile,
// and past `maxQueued` (or `maxQueuedBytes`) the transport stops reading until the
// queue is down to half. Each Result is applied here (state, replies, stop, hibernate);
// what closing and ending mean is the session's, asked through CallsHost.

import { WebSocketError } from './errors.js';
import {
  type CloseReason,
  type Control,
  type Handler,
  isPromise,
  type Message,
  type Result,
  type SessionApi,
  type UpgradeRequest,
} from './handler.js';
import type { SessionOptions } from './session-options.js';

export enum Task {
  Init,
  In,
  Control,
  Info,
  Terminate,
}

/** What the handler calls ask of their session. */
export interface CallsHost {
  transportClosed(): boolean;
  /** Stop / start reading from the transport (inbound backpressure). */
  pauseReading(): void;
  resumeReading(): void;
  /** Whether the session may still send (a reply to a closing session is dropped). */
  canSend(): boolean;
  /** The handler returned `stop`. */
  stop(code: number, reason: string): void;
  /** The handler asked to hibernate; false while an encode is pending (ask again later). */
  hibernate(): boolean;
  handlerFailed(err: unknown): void;
  extensionFailed(err: unknown): void;
  /** Whether a message decoded asynchronously is still to be delivered. */
  acceptsDecoded(): boolean;
  /** The session ends: its final reason, once nothing else will run. */
  end(): CloseReason;
  /** terminate has returned (or settled). */
  ended(final: CloseReason): void;
}

/** `n`: bytes of a queued message (0 for anything else). */
type Queued = { t: Task; v: unknown; n: number };

const DEFAULT_MAX_QUEUED = 64;
const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
/** The queue of every session that never queued: an idle session owns no array. */
const NO_QUEUE: Queued[] = Object.freeze([]) as unknown as Queued[];

function queuedSize(t: Task, v: unknown): number {
  if (t !== Task.In || isPromise(v)) return 0;
  return (v as Message).data.length;
}

/**
 * The session's events object extends this (one object per session for its transport's,
 * its outgoing side's and its handler's callbacks: an idle connection pays for one).
 */
export abstract class HandlerCalls<S> implements CallsHost {
  readonly #handler: Handler<S>;
  #state: S;
  #queue: Queued[] = NO_QUEUE;
  #queuedBytes = 0;
  #busy = false;
  #paused = false;
  // hibernation asked for while a compressed reply was still being encoded
  #hibernateWanted = false;

  constructor(handler: Handler<S>, state: S) {
    this.#handler = handler;
    this.#state = state;
  }

  /** The session, as the handler sees it. */
  abstract api(): SessionApi;
  abstract options(): SessionOptions;
  /** The session has ended (terminate was called). */
  abstract terminated(): boolean;
  abstract transportClosed(): boolean;
  abstract pauseReading(): void;
  abstract resumeReading(): void;
  abstract canSend(): boolean;
  abstract stop(code: number, reason: string): void;
  abstract hibernate(): boolean;
  abstract handlerFailed(err: unknown): void;
  abstract extensionFailed(err: unknown): void;
  abstract acceptsDecoded(): boolean;
  abstract end(): CloseReason;
  abstract ended(final: CloseReason): void;

  /** Call the handler for `v` now, or queue it behind a busy handler. */
  enqueue(t: Task, v: unknown): void {
    if (this.terminated()) return;
    if (this.#busy || this.#queue.length > 0) {
      const n = queuedSize(t, v);
      if (this.#queue === NO_QUEUE) this.#queue = [];
      this.#queue.push({ t, v, n });
      this.#queuedBytes += n;
      const max = this.options().maxQueued ?? DEFAULT_MAX_QUEUED;
      const maxBytes = this.options().maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
      if (
        !this.#paused &&
        (this.#queue.length > max || this.#queuedBytes > maxBytes) &&
        !this.transportClosed()
      ) {
        this.#paused = true;
        this.pauseReading();
      }
      return;
    }
    this.#run(t, v);
  }

  /** Hibernate now if a handler asked while an encode was pending. */
  hibernateIfWanted(): void {
    if (this.#hibernateWanted) this.#hibernateWanted = !this.hibernate();
  }

  #drain(): void {
    while (!this.#busy && this.#queue.length > 0 && !this.terminated()) {
      const q = this.#queue.shift()!;
      this.#queuedBytes -= q.n;
      this.#run(q.t, q.v);
    }
    if (
      this.#paused &&
      this.#queue.length <= (this.options().maxQueued ?? DEFAULT_MAX_QUEUED) >> 1 &&
      this.#queuedBytes <= (this.options().maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES) / 2
    ) {
      this.#paused = false;
      if (!this.transportClosed()) this.resumeReading();
    }
  }

  #run(t: Task, v: unknown): void {
    const h = this.#handler;
    let r: Result<S> | Promise<Result<S>> | undefined;
    try {
      switch (t) {
        case Task.Init:
          if (!h.init) return;
          r = h.init(v as UpgradeRequest, this.#state, this.api());
          break;
        case Task.In:
          if (isPromise<Message | null>(v)) {
            this.#awaitMessage(v);
            return;
          }
          r = h.handleIn(v as Message, this.#state, this.api());
          break;
        case Task.Control:
          r = h.handleControl!(v as Control, this.#state, this.api());
          break;
        case Task.Info:
          if (!h.handleInfo) return;
          r = h.handleInfo(v, this.#state, this.api());
          break;
        case Task.Terminate:
          this.#terminate();
          return;
      }
    } catch (err) {
      this.handlerFailed(err);
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
          this.handlerFailed(err);
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
        if (msg && this.acceptsDecoded()) this.#run(Task.In, msg);
        this.#drain();
      },
      (err) => {
        this.#busy = false;
        this.extensionFailed(err);
        this.#drain();
      },
    );
  }

  #apply(r: Result<S> | undefined): void {
    if (typeof r !== 'object' || r === null || !('result' in r)) {
      this.handlerFailed(
        new WebSocketError('WS_ERR_HANDLER', 'handler returned no result (use ok/reply/stop)'),
      );
      return;
    }
    this.#state = r.state;
    try {
      if (r.result === 'reply') {
        if (this.canSend()) this.api().send(r.frames);
      } else if (r.result === 'stop') {
        this.stop(r.code ?? 1000, r.reason ?? '');
      }
    } catch (err) {
      this.handlerFailed(err);
      return;
    }
    if (r.result !== 'stop' && r.hibernate) this.#hibernateWanted = !this.hibernate();
    else this.#hibernateWanted = false;
  }

  #terminate(): void {
    if (this.terminated()) return;
    this.#queue = NO_QUEUE;
    this.#queuedBytes = 0;
    const final = this.end();
    const done = () => this.ended(final);
    if (!this.#handler.terminate) {
      done();
      return;
    }
    try {
      const r = this.#handler.terminate(final, this.#state);
      if (isPromise(r)) {
        r.then(done, (err) => {
          this.options().onError?.(err as Error);
          done();
        });
        return;
      }
    } catch (err) {
      this.options().onError?.(err as Error);
    }
    done();
  }
}
