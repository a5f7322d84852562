// When a client WebSocket reconnects, and how long it waits: a policy object kept
// apart from the connection callbacks (as WebsockexNova keeps its ErrorHandler
// apart from its ConnectionHandler). Pure: no timers, no sockets. `connectClient`
// asks `decide()` after every failed attempt or lost connection and does the waiting.
//
// Backoff is "full jitter" (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): delay = random() × min(maxDelay, initialDelay × factor^(attempt − 1)),
// so a crowd of clients cut off together does not come back together.

import { WebSocketError } from '../ws/errors.js';
import type { CloseKind } from '../ws/handler.js';

/** What ended an attempt or a connection, as the policy sees it. */
export interface RetryReason {
  /** 'handshake': the attempt never opened; 'open': an open connection ended. */
  readonly phase: 'handshake' | 'open';
  /** The close code: the peer's, or 1006 when no close frame was exchanged (always 1006 for 'handshake'). */
  readonly code: number;
  /** How the session ended ('open' phase only). */
  readonly kind?: CloseKind | undefined;
  /** The HTTP status of a refused handshake (WS_ERR_HANDSHAKE_STATUS). */
  readonly status?: number | undefined;
  readonly error?: Error | undefined;
}

/** The policy's answer after a failure: retry as attempt N after `delay` ms, or give up and why. */
export type RetryDecision =
  | { readonly retry: true; readonly attempt: number; readonly delay: number }
  | { readonly retry: false; readonly why: 'not-retryable' | 'max-attempts' };

/** Settings of a ReconnectPolicy: backoff delays and growth, jitter, and when to give up. */
export interface ReconnectOptions {
  /** Backoff cap of the first retry, in ms (default 1000). */
  initialDelay?: number;
  /** Largest backoff cap, in ms (default 30 000). */
  maxDelay?: number;
  /** Growth of the cap per consecutive failure (default 2). */
  factor?: number;
  /** 'full' (default): a uniform delay in [0, cap); 'none': exactly the cap. */
  jitter?: 'full' | 'none';
  /** Consecutive retries before giving up (default Infinity). */
  maxAttempts?: number;
  /**
   * A connection that stayed open this long (ms) resets the count of consecutive
   * failures (default 5000). Shorter ones do not: a server that accepts and drops
   * at once is retried with growing delays, not hammered.
   */
  stableAfter?: number;
  /** Which endings are worth a retry (default: `defaultShouldRetry`). */
  shouldRetry?: (reason: RetryReason) => boolean;
  /** Source of jitter in [0, 1) (default Math.random); inject one for deterministic tests. */
  random?: () => number;
  /** Clock in ms (default Date.now); the connection uses it to time `stableAfter`. */
  now?: () => number;
  /**
   * A refused handshake's `Retry-After` (a 503 while the server drains, a 429) is honoured:
   * the next attempt waits at least that long, but at most this many ms (default 300 000).
   */
  maxRetryAfter?: number;
}

// RFC 6455 §7.4.1: the peer says retrying the same thing cannot help.
const NEVER_CODES = new Set([
  1002, // protocol error
  1003, // unsupported data
  1007, // invalid payload data
  1008, // policy violation
  1009, // message too big
  1010, // mandatory extension missing
]);

// Our own errors that mean "this configuration will never work".
const CONFIG_ERRORS = new Set([
  'WS_ERR_INVALID_URL',
  'WS_ERR_INVALID_ARGUMENT',
  'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED',
  // a certificate that does not verify fails the same way every time
  'WS_ERR_CERTIFICATE',
]);

/**
 * The default retry rule. Never: close codes 1002, 1003, 1007, 1008, 1009, 1010; a
 * handshake answered with a 4xx status; a handshake the server answered wrongly (bad
 * Sec-WebSocket-Accept, an extension or subprotocol it was not offered); a bad URL or
 * option; a server without WebSockets over HTTP/2 / HTTP/3; a server certificate that does
 * not verify (WS_ERR_CERTIFICATE). Everything else retries:
 * network loss and 1006, a refused or timed-out connection, a 5xx, 1000, 1001, 1005,
 * 1011–1014 and application codes 3000–4999.
 */
export function defaultShouldRetry(reason: RetryReason): boolean {
  const err = reason.error;
  const code = err instanceof WebSocketError ? err.code : undefined;
  if (code !== undefined && CONFIG_ERRORS.has(code)) return false;
  if (reason.phase === 'handshake') {
    const status = reason.status ?? (err instanceof WebSocketError ? err.status : undefined);
    if (status !== undefined && status >= 400 && status <= 499) return false;
    // a WS_ERR_HANDSHAKE without a cause is a wrong answer, not a failed connection
    if (code === 'WS_ERR_HANDSHAKE' && err?.cause === undefined) return false;
    return true;
  }
  return !NEVER_CODES.has(reason.code);
}

function check(name: string, v: number, min: number): number {
  if (typeof v !== 'number' || Number.isNaN(v) || v < min) {
    throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', `${name} must be a number >= ${min}`);
  }
  return v;
}

/**
 * When a client reconnects and how long it waits: exponential backoff with full jitter (pure: no
 * timers).
 */
export class ReconnectPolicy {
  readonly initialDelay: number;
  readonly maxDelay: number;
  readonly factor: number;
  readonly jitter: 'full' | 'none';
  readonly maxAttempts: number;
  readonly stableAfter: number;
  readonly maxRetryAfter: number;
  readonly #shouldRetry: (reason: RetryReason) => boolean;
  readonly #random: () => number;
  readonly #now: () => number;

  constructor(opts: ReconnectOptions = {}) {
    this.initialDelay = check('initialDelay', opts.initialDelay ?? 1000, 0);
    this.maxDelay = check('maxDelay', opts.maxDelay ?? 30_000, 0);
    this.factor = check('factor', opts.factor ?? 2, 1);
    this.maxAttempts = check('maxAttempts', opts.maxAttempts ?? Number.POSITIVE_INFINITY, 0);
    this.stableAfter = check('stableAfter', opts.stableAfter ?? 5000, 0);
    this.maxRetryAfter = check('maxRetryAfter', opts.maxRetryAfter ?? 300_000, 0);
    const jitter = opts.jitter ?? 'full';
    if (jitter !== 'full' && jitter !== 'none') {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', "jitter must be 'full' or 'none'");
    }
    this.jitter = jitter;
    this.#shouldRetry = opts.shouldRetry ?? defaultShouldRetry;
    this.#random = opts.random ?? Math.random;
    this.#now = opts.now ?? Date.now;
  }

  /** The clock (ms). */
  now(): number {
    return this.#now();
  }

  shouldRetry(reason: RetryReason): boolean {
    return this.#shouldRetry(reason);
  }

  /** The backoff cap before retry number `attempt` (1-based): initialDelay × factor^(attempt − 1), at most maxDelay. */
  cap(attempt: number): number {
    const n = Math.max(1, attempt);
    return Math.min(this.maxDelay, this.initialDelay * this.factor ** (n - 1));
  }

  /** The delay before retry number `attempt`: the cap, jittered. */
  delay(attempt: number): number {
    const cap = this.cap(attempt);
    if (this.jitter === 'none') return cap;
    const r = Math.min(Math.max(this.#random(), 0), 1);
    return Math.floor(r * cap);
  }

  /**
   * Whether to retry after `reason`, `attempt` being the number of the retry that would
   * follow. The delay is the jittered backoff, or the server's `Retry-After` when that is
   * longer (up to `maxRetryAfter`).
   */
  decide(reason: RetryReason, attempt: number): RetryDecision {
    if (!this.shouldRetry(reason)) return { retry: false, why: 'not-retryable' };
    if (attempt > this.maxAttempts) return { retry: false, why: 'max-attempts' };
    const after = retryAfterOf(reason.error, this.#now());
    const delay = this.delay(attempt);
    return {
      retry: true,
      attempt,
      delay: after === undefined ? delay : Math.max(delay, Math.min(after, this.maxRetryAfter)),
    };
  }
}

/**
 * The wait a refused handshake's response asks for, in ms: RFC 9110 §10.2.3
 * `Retry-After = HTTP-date / delay-seconds`. Undefined when there is none or it does
 * not parse.
 */
export function retryAfterOf(error: Error | undefined, now: number): number | undefined {
  const raw = error instanceof WebSocketError ? error.response?.headers['retry-after'] : undefined;
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
