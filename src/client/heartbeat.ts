// Heartbeat of one client connection: a ping every `interval` ms; when nothing comes
// back within `timeout` ms of *active* time, the connection is declared lost. The
// owner reports signs of life (any message or control frame), pongs (which give the
// latency when they answer our ping) and pauses: while the connection is paused by
// backpressure (a busy handler holds delivery back; our own writes wait for drain)
// the clock of silence stands still, so a slow consumer is never taken for a dead peer.
//
// The owner must call `stop()` when the connection ends. Timers are unref'd.

import { WebSocketError } from '../ws/errors.js';

/**
 * How often a client connection pings, and how long a silence after a ping means the connection is
 * lost.
 */
export interface HeartbeatOptions {
  /** Ping every this many ms (default 30 000). */
  interval?: number;
  /** Declare the connection lost after this many ms without a sign of life after a ping (default 10 000). */
  timeout?: number;
  /** The ping payload for ping number `seq` (at most 125 bytes); default: seq as 4 bytes. */
  payload?: (seq: number) => Uint8Array | string;
}

/**
 * The heartbeat options a connection was given (true: the defaults; false or none: off).
 * Throws WS_ERR_INVALID_ARGUMENT for an interval or timeout that is not > 0.
 */
export function heartbeatOptions(
  hb: HeartbeatOptions | boolean | undefined,
): HeartbeatOptions | null {
  const opts = hb === true ? {} : hb ? hb : null;
  if (opts) {
    for (const k of ['interval', 'timeout'] as const) {
      const v = opts[k];
      if (v !== undefined && !(typeof v === 'number' && v > 0)) {
        throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', `heartbeat.${k} must be > 0`);
      }
    }
  }
  return opts;
}

export interface HeartbeatHooks {
  ping(payload: Uint8Array): void;
  lost(): void;
  now?: () => number;
}

function toBytes(p: Uint8Array | string): Uint8Array {
  return typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Heartbeat {
  readonly interval: number;
  readonly timeout: number;
  readonly #payload: ((seq: number) => Uint8Array | string) | undefined;
  readonly #hooks: HeartbeatHooks;
  readonly #now: () => number;
  #seq = 0;
  #outstanding: { payload: Uint8Array; sentAt: number } | null = null;
  // the last sign of life (or ping sent) and the paused total at that moment
  #anchorAt = 0;
  #anchorPaused = 0;
  #pausedTotal = 0;
  #pausedSince: number | null = null;
  #depth = 0;
  #checkOnResume = false;
  #tick: NodeJS.Timeout | null = null;
  #deadline: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(opts: HeartbeatOptions, hooks: HeartbeatHooks) {
    this.interval = opts.interval ?? 30_000;
    this.timeout = opts.timeout ?? 10_000;
    this.#payload = opts.payload;
    this.#hooks = hooks;
    this.#now = hooks.now ?? Date.now;
  }

  start(): void {
    this.#alive();
    this.#tick = setInterval(() => this.#onTick(), this.interval);
    this.#tick.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick) clearInterval(this.#tick);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#tick = null;
    this.#deadline = null;
  }

  /** Whether a ping is waiting for its pong. */
  get waiting(): boolean {
    return this.#outstanding !== null;
  }

  /** Anything arrived from the peer. */
  alive(): void {
    this.#alive();
  }

  /** A pong arrived: returns the round trip in ms when it answers our outstanding ping. */
  pong(payload: Uint8Array): number | undefined {
    this.#alive();
    const o = this.#outstanding;
    if (!o || !sameBytes(o.payload, payload)) return undefined;
    this.#outstanding = null;
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = null;
    return this.#now() - o.sentAt;
  }

  /** A source of backpressure began (calls nest). */
  pause(): void {
    if (this.#depth++ === 0) this.#pausedSince = this.#now();
  }

  /** A source of backpressure ended. */
  resume(): void {
    if (this.#depth === 0) return;
    if (--this.#depth > 0) return;
    if (this.#pausedSince !== null) this.#pausedTotal += this.#now() - this.#pausedSince;
    this.#pausedSince = null;
    if (this.#checkOnResume) {
      this.#checkOnResume = false;
      this.#check();
    }
  }

  get paused(): boolean {
    return this.#depth > 0;
  }

  #pausedNow(): number {
    return this.#pausedTotal + (this.#pausedSince === null ? 0 : this.#now() - this.#pausedSince);
  }

  #alive(): void {
    this.#anchorAt = this.#now();
    this.#anchorPaused = this.#pausedNow();
  }

  /** Active (unpaused) ms since the last sign of life or ping. */
  #silence(): number {
    return this.#now() - this.#anchorAt - (this.#pausedNow() - this.#anchorPaused);
  }

  #onTick(): void {
    if (this.#stopped || this.#outstanding) return;
    const seq = ++this.#seq;
    const payload = this.#payload ? toBytes(this.#payload(seq)) : Buffer.alloc(4);
    if (!this.#payload) (payload as Buffer).writeUInt32BE(seq >>> 0, 0);
    const now = this.#now();
    this.#outstanding = { payload, sentAt: now };
    this.#alive();
    this.#arm(this.timeout);
    this.#hooks.ping(payload);
  }

  #arm(ms: number): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.#check(), Math.max(1, ms));
    this.#deadline.unref();
  }

  #check(): void {
    this.#deadline = null;
    if (this.#stopped || !this.#outstanding) return;
    if (this.#depth > 0) {
      // paused: silence is not counted; look again when the pause ends
      this.#checkOnResume = true;
      return;
    }
    const silence = this.#silence();
    if (silence >= this.timeout) {
      this.stop();
      this.#hooks.lost();
      return;
    }
    this.#arm(this.timeout - silence);
  }
}
