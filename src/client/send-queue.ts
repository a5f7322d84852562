// Outgoing data frames of a client connection: the shapes prepareFrame receives and
// returns, and the bounded queue where they wait while no session is open ('reject'
// throws WS_ERR_QUEUE_FULL when full, 'drop-oldest' makes room and counts the loss).

import { WebSocketError } from '../ws/errors.js';

/** An outgoing data frame, as prepareFrame receives and returns it. */
export type DataFrame =
  | string
  | Uint8Array
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array };

/**
 * How many messages a client connection keeps while no session is open, and what it does when full.
 */
export interface QueueOptions {
  /** Data frames kept while no session is open (default 1024; 0: none). */
  max?: number;
  /** When full: 'reject' (default) throws WS_ERR_QUEUE_FULL from send; 'drop-oldest' makes room. */
  whenFull?: 'reject' | 'drop-oldest';
}

const DEFAULT_QUEUE = 1024;

export function dataOf(f: DataFrame): { binary: boolean; data: string | Uint8Array } {
  if (typeof f === 'string') return { binary: false, data: f };
  if (f instanceof Uint8Array) return { binary: true, data: f };
  return { binary: f.type === 'binary', data: f.data };
}

export function byteLength(d: string | Uint8Array): number {
  return typeof d === 'string' ? Buffer.byteLength(d, 'utf8') : d.byteLength;
}

export class SendQueue {
  readonly #max: number;
  readonly #whenFull: 'reject' | 'drop-oldest';
  #frames: DataFrame[] = [];
  #dropped = 0;

  /** Throws WS_ERR_INVALID_ARGUMENT for options it cannot follow. */
  constructor(opts: QueueOptions | undefined) {
    this.#max = opts?.max ?? DEFAULT_QUEUE;
    this.#whenFull = opts?.whenFull ?? 'reject';
    if (!(this.#max >= 0) || (this.#whenFull !== 'reject' && this.#whenFull !== 'drop-oldest')) {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'invalid queue options');
    }
  }

  get length(): number {
    return this.#frames.length;
  }

  /** Frames dropped by 'drop-oldest', or left in the queue by clear(). */
  get dropped(): number {
    return this.#dropped;
  }

  push(f: DataFrame): void {
    if (this.#frames.length >= this.#max) {
      if (this.#whenFull === 'reject') {
        throw new WebSocketError(
          'WS_ERR_QUEUE_FULL',
          `no open connection and ${this.#max} frames already queued`,
        );
      }
      this.#dropped++;
      if (this.#max === 0) return;
      this.#frames.shift();
    }
    this.#frames.push(f);
  }

  shift(): DataFrame | undefined {
    return this.#frames.shift();
  }

  /** The connection ended for good: what still waits counts as dropped. */
  clear(): void {
    this.#dropped += this.#frames.length;
    this.#frames = [];
  }
}
