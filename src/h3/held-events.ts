// The events of a QUIC stream that arrive before its consumer attaches (a request stream
// before the application answers, a WebTransport stream before the handler takes it):
// kept in order and replayed on attach. Reading from QUIC pauses while more than 64 KiB
// of data waits, so a peer cannot make us hold more; the consumer's own pause() and
// resume() go through here too, so that neither reason to pause lifts the other.

/** What of a QUIC connection pausing needs. */
export interface Pausable {
  pauseStream(stream: number): void;
  resumeStream(stream: number): void;
}

/** Data kept for an absent consumer above which reading from QUIC pauses. */
export const HELD_PAUSE_BYTES = 64 * 1024;

export class HeldEvents<P> {
  readonly #quic: Pausable;
  readonly #id: number;
  #list: P[] = [];
  #bytes = 0;
  /** Paused because too much waits for the consumer. */
  #full = false;
  /** Paused because the consumer asked. */
  #userPaused = false;

  constructor(quic: Pausable, id: number) {
    this.#quic = quic;
    this.#id = id;
  }

  /** Keep `p` (carrying `bytes` of data) until `release`. */
  hold(p: P, bytes = 0): void {
    this.#list.push(p);
    if (bytes === 0) return;
    this.#bytes += bytes;
    if (this.#bytes > HELD_PAUSE_BYTES && !this.#full) {
      this.#full = true;
      this.#quic.pauseStream(this.#id);
    }
  }

  /** Hand every kept event to `deliver`, in order; reading resumes unless the consumer paused it. */
  release(deliver: (p: P) => void, closed: boolean): void {
    const list = this.#list;
    this.#list = [];
    this.#bytes = 0;
    for (const p of list) deliver(p);
    if (this.#full) {
      this.#full = false;
      if (!this.#userPaused && !closed) this.#quic.resumeStream(this.#id);
    }
  }

  /** Forget what is kept (the reading side was stopped). */
  clear(): void {
    this.#list = [];
    this.#bytes = 0;
  }

  pause(): void {
    this.#userPaused = true;
    this.#quic.pauseStream(this.#id);
  }

  resume(): void {
    this.#userPaused = false;
    if (!this.#full) this.#quic.resumeStream(this.#id);
  }
}
