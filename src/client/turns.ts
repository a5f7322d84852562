// The client handler's callbacks, one at a time: a callback that returns a Promise
// holds the next ones back until it settles, and meanwhile the heartbeat is paused
// (the handler's time is not the peer's silence). Callbacks that no one awaits
// report their errors to onError (or as a process warning) instead of throwing.

import { type Awaitable, isPromise } from '../ws/handler.js';
import type { Heartbeat } from './heartbeat.js';

export class Turns {
  readonly #heartbeat: () => Heartbeat | null;
  readonly #opts: { readonly onError?: ((err: Error) => void) | undefined };
  #busy = false;
  /** The heartbeat paused while a callback is pending. */
  #busyPaused: Heartbeat | null = null;
  #waiting: (() => void)[] = [];

  /** `heartbeat`: the connection's current heartbeat; `opts.onError` gets what `report` is given. */
  constructor(
    heartbeat: () => Heartbeat | null,
    opts: { readonly onError?: ((err: Error) => void) | undefined },
  ) {
    this.#heartbeat = heartbeat;
    this.#opts = opts;
  }

  /** A heartbeat started during a pending callback stays paused until that callback settles. */
  holdIfBusy(hb: Heartbeat): void {
    if (!this.#busy) return;
    hb.pause();
    this.#busyPaused = hb;
  }

  /** Run `fn` in turn: now when nothing is pending, else after everything before it. */
  run<T>(fn: () => Awaitable<T>): Awaitable<T> {
    if (!this.#busy && this.#waiting.length === 0) return this.#runNow(fn);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.push(() => {
        let r: Awaitable<T>;
        try {
          r = this.#runNow(fn);
        } catch (err) {
          reject(err);
          return;
        }
        if (isPromise<T>(r)) r.then(resolve, reject);
        else resolve(r);
      });
    });
  }

  /** A callback outside any session: errors are reported, then `then` runs regardless. */
  detached<T>(fn: () => Awaitable<T>, then?: () => void): void {
    let r: Awaitable<T>;
    try {
      r = fn();
    } catch (err) {
      this.report(err);
      then?.();
      return;
    }
    if (isPromise<T>(r)) {
      r.then(
        () => then?.(),
        (err) => {
          this.report(err);
          then?.();
        },
      );
    } else {
      then?.();
    }
  }

  report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.#opts.onError) this.#opts.onError(e);
    else process.emitWarning(e);
  }

  #runNow<T>(fn: () => Awaitable<T>): Awaitable<T> {
    const r = fn();
    if (!isPromise<T>(r)) return r;
    this.#busy = true;
    // the handler holds delivery back: its time is not the peer's silence
    this.#busyPaused = this.#heartbeat();
    this.#busyPaused?.pause();
    const settle = () => {
      this.#busy = false;
      this.#busyPaused?.resume();
      this.#busyPaused = null;
      while (!this.#busy && this.#waiting.length > 0) this.#waiting.shift()!();
    };
    return r.then(
      (v) => {
        settle();
        return v;
      },
      (err) => {
        settle();
        throw err;
      },
    );
  }
}
