// The request body reader shared by the three HTTP versions. Each version feeds it
// through a BodySource (a node:http IncomingMessage, an Http2Stream, an HTTP/3 request
// stream) and lets it pause and resume that source: the reader keeps at most about
// HIGH_WATER bytes that nobody has read, so a peer can send only as fast as the handler
// reads (TCP or h2/QUIC flow control does the rest).
//
// What the response side needs: `complete` (the whole body arrived) and `discard(limit)`,
// which reads and drops what is left, up to `limit` bytes, for a connection that is to
// be kept after a response that did not need the body.

import { WebSocketError } from '../ws/errors.js';
import type { BodyReader } from './handler.js';

/** Unread bytes above which the source is paused. */
export const BODY_HIGH_WATER = 64 * 1024;

/** What a body reader drives: start once, then pause/resume as the reader fills and empties. */
export interface BodySource {
  /** Start delivering through the callbacks (called once, on the first read or discard). */
  start(sink: BodySink): void;
  pause(): void;
  resume(): void;
}

export interface BodySink {
  data(chunk: Uint8Array): void;
  end(): void;
  /** The body will not complete (peer reset, connection lost). */
  error(err: Error): void;
}

export class Body implements BodyReader, BodySink {
  readonly length: number | undefined;
  readonly #source: BodySource | null;
  readonly #defaultLimit: number;
  #started = false;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #received = 0;
  #ended: boolean;
  #error: Error | null = null;
  #waiter: (() => void) | null = null;
  #consumer: 'read' | 'discard' | null = null;
  #discardLimit = 0;
  #onDiscardDone: ((ok: boolean) => void) | null = null;

  /** `source` null: an empty body, complete from the start. */
  constructor(source: BodySource | null, length: number | undefined, defaultLimit: number) {
    this.#source = source;
    this.length = source === null ? 0 : length;
    this.#ended = source === null || length === 0;
    this.#defaultLimit = defaultLimit;
  }

  get received(): number {
    return this.#received;
  }

  get complete(): boolean {
    return this.#ended;
  }

  /** Whether the handler started reading. */
  get touched(): boolean {
    return this.#consumer === 'read';
  }

  #start(): void {
    if (this.#started || this.#source === null) return;
    this.#started = true;
    if (!this.#ended) this.#source.start(this);
  }

  // ── BodySink ────────────────────────────────────────────────────────────

  data(chunk: Uint8Array): void {
    if (this.#ended || this.#error) return;
    this.#received += chunk.length;
    if (this.#consumer === 'discard') {
      if (this.#received > this.#discardLimit) this.#finishDiscard(false);
      return;
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > BODY_HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#source?.pause();
    }
    this.#wake();
  }

  end(): void {
    if (this.#ended || this.#error) return;
    this.#ended = true;
    if (this.#consumer === 'discard') this.#finishDiscard(true);
    this.#wake();
  }

  error(err: Error): void {
    if (this.#ended || this.#error) return;
    this.#error = err;
    if (this.#consumer === 'discard') this.#finishDiscard(false);
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  // ── BodyReader ──────────────────────────────────────────────────────────

  async read(): Promise<Uint8Array | null> {
    if (this.#consumer === 'discard') return null;
    this.#consumer = 'read';
    this.#start();
    for (;;) {
      const chunk = this.#queue.shift();
      if (chunk !== undefined) {
        this.#queued -= chunk.length;
        if (this.#paused && this.#queued <= BODY_HIGH_WATER / 2) {
          this.#paused = false;
          this.#source?.resume();
        }
        return chunk;
      }
      if (this.#error) {
        throw new WebSocketError(
          'HTTP_ERR_ABORTED',
          `request body aborted: ${this.#error.message}`,
          {
            cause: this.#error,
          },
        );
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  async buffer(limit = this.#defaultLimit): Promise<Buffer> {
    if (this.length !== undefined && this.length > limit) throw tooLarge(limit);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) break;
      size += chunk.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  }

  async text(limit?: number): Promise<string> {
    return (await this.buffer(limit)).toString('utf8');
  }

  async json(limit?: number): Promise<unknown> {
    return JSON.parse(await this.text(limit));
  }

  // ── for the response side ───────────────────────────────────────────────

  /**
   * Read and drop what is left of the body. Resolves true once it ended within `limit`
   * more bytes, false when it went past them or failed (the caller then closes).
   */
  discard(limit: number): Promise<boolean> {
    if (this.#ended) return Promise.resolve(true);
    if (this.#error) return Promise.resolve(false);
    this.#consumer = 'discard';
    this.#discardLimit = this.#received + limit;
    this.#queue = [];
    this.#queued = 0;
    const done = new Promise<boolean>((resolve) => {
      this.#onDiscardDone = resolve;
    });
    this.#wake();
    if (this.#received > this.#discardLimit) this.#finishDiscard(false);
    this.#start();
    if (this.#paused) {
      this.#paused = false;
      this.#source?.resume();
    }
    return done;
  }

  #finishDiscard(ok: boolean): void {
    const done = this.#onDiscardDone;
    this.#onDiscardDone = null;
    done?.(ok);
  }
}

function tooLarge(limit: number): WebSocketError {
  return new WebSocketError('HTTP_ERR_BODY_TOO_LARGE', `request body larger than ${limit} bytes`, {
    status: 413,
  });
}

/** The announced content-length of a request, when it is a plain byte count. */
export function contentLength(v: string | readonly string[] | undefined): number | undefined {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
