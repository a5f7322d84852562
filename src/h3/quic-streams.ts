// The streams of one QUIC connection, for its driver (quic-driver.ts): each stream's
// send queue and which of its directions are done; the queues pushed into quiche as
// far as flow control allows (small chunks coalesced into one call); a peer's
// STOP_SENDING found out; streams we ended tracked until quiche has them acknowledged;
// ended streams remembered so that late bytes for them are discarded.
//
// The driver calls in from its own flush and processing passes; StreamEvents reports
// back what the connection's handler must hear (a stopped stream, a drained one).

import { type QuicheConnection, type StreamKind, shutdownStream } from './quic.js';

export interface StreamState {
  queue: Uint8Array[];
  queued: number;
  finQueued: boolean;
  finSent: boolean;
  readPaused: boolean;
  readDone: boolean;
  writeDone: boolean;
}

/** What the driver learns from the stream table. */
export interface StreamEvents {
  /** Whether the connection ended for the application (then nothing more is pushed). */
  closed(): boolean;
  /** Our sending side is gone (STOP_SENDING's code, or null when quiche forgot the stream). */
  stopped(stream: number, code: number | null): void;
  /** Everything queued on the stream has been handed to quiche. */
  drained(stream: number): void;
}

export const EMPTY = new Uint8Array(0);
const RETIRED_MAX = 4096;
/** Leading queued chunks smaller than this together are copied into one for streamSend. */
const COALESCE_MAX = 16 * 1024;

/** `StreamReset(268)` / `StreamStopped(268)` → 268, as quiche's errors read in JS. */
export function streamErrorCode(
  err: unknown,
  kind: 'StreamReset' | 'StreamStopped',
): number | null {
  const m = /^(\w+)\((\d{1,16})\)/.exec(err instanceof Error ? err.message : '');
  return m && m[1] === kind ? Number(m[2]) : null;
}

/** Merge the leading chunks of `queue` that fit in COALESCE_MAX bytes into one. */
function coalesce(queue: Uint8Array[]): void {
  let n = 0;
  let total = 0;
  while (n < queue.length && total + queue[n]!.length <= COALESCE_MAX) {
    total += queue[n]!.length;
    n++;
  }
  if (n < 2) return;
  const merged = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = 0; i < n; i++) {
    merged.set(queue[i]!, off);
    off += queue[i]!.length;
  }
  queue.splice(0, n, merged);
}

export class StreamTable {
  readonly #conn: QuicheConnection;
  readonly #server: boolean;
  readonly #events: StreamEvents;
  readonly #streams = new Map<number, StreamState>();
  readonly #retired = new Set<number>();
  /** Streams with queued bytes (or a FIN) that quiche has not taken yet. */
  readonly #pending = new Set<number>();
  /** Streams we opened that quiche does not know yet (no send so far). */
  readonly #unborn = new Set<number>();
  /** Streams we sent a FIN on that quiche may still retransmit (see allAcked). */
  readonly #inFlight = new Set<number>();

  constructor(conn: QuicheConnection, role: 'client' | 'server', events: StreamEvents) {
    this.#conn = conn;
    this.#server = role === 'server';
    this.#events = events;
  }

  get(id: number): StreamState | undefined {
    return this.#streams.get(id);
  }

  /** Start tracking a stream; `uniLocal`: one of our unidirectional streams. */
  create(id: number, uniLocal: boolean): StreamState {
    const peerUni = (id & 2) !== 0 && (id & 1) !== (this.#server ? 1 : 0);
    const s: StreamState = {
      queue: [],
      queued: 0,
      finQueued: false,
      finSent: false,
      readPaused: false,
      // our uni streams have no receiving side, the peer's no sending side
      readDone: uniLocal,
      writeDone: peerUni,
    };
    this.#streams.set(id, s);
    return s;
  }

  /** A stream we opened: quiche learns of it at its first send. */
  createOurs(id: number, kind: StreamKind): void {
    this.create(id, kind === 'uni');
    this.#unborn.add(id);
  }

  /** Stream IDs of `kind` handed out that quiche does not count yet. */
  countUnborn(kind: StreamKind): number {
    let unborn = 0;
    for (const id of this.#unborn) if (((id & 2) === 0) === (kind === 'bidi')) unborn++;
    return unborn;
  }

  /** Whether the stream ended and was forgotten (bytes for it are to be discarded). */
  isRetired(id: number): boolean {
    return this.#retired.has(id);
  }

  /** Whether some stream has bytes (or a FIN) quiche has not taken yet. */
  hasPending(): boolean {
    return this.#pending.size > 0;
  }

  clearPending(): void {
    this.#pending.clear();
  }

  clear(): void {
    this.#streams.clear();
    this.#pending.clear();
  }

  /** Queue bytes, then a FIN if `fin`; true when the stream now waits for a push. */
  enqueue(
    id: number,
    s: StreamState,
    data: Uint8Array | readonly Uint8Array[],
    fin: boolean,
  ): boolean {
    if (data instanceof Uint8Array) {
      if (data.length > 0) {
        s.queue.push(data);
        s.queued += data.length;
      }
    } else {
      for (const d of data) {
        if (d.length === 0) continue;
        s.queue.push(d);
        s.queued += d.length;
      }
    }
    if (fin) s.finQueued = true;
    if (s.queue.length > 0 || fin) {
      this.#pending.add(id);
      return true;
    }
    return false;
  }

  /** RESET_STREAM: drop what is queued and abandon our sending side with `code`. */
  reset(id: number, s: StreamState, code: number): void {
    this.#dropQueue(id, s);
    s.writeDone = true;
    try {
      shutdownStream(this.#conn, id, 'write', code);
      // the RESET_STREAM is as much in flight as a FIN: a closeWhenFlushed must not
      // overtake it (quiche sends nothing but CONNECTION_CLOSE once closed)
      this.#finished(id);
    } catch {
      // already finished or reset
    }
    this.retire(id, s);
  }

  /** Forget a stream once both its directions are done. */
  retire(id: number, s: StreamState): void {
    if (!s.readDone || !s.writeDone) return;
    if (this.#streams.get(id) !== s) return;
    this.#streams.delete(id);
    this.#pending.delete(id);
    this.#retired.add(id);
    if (this.#retired.size > RETIRED_MAX) {
      const oldest = this.#retired.values().next().value;
      if (oldest !== undefined) this.#retired.delete(oldest);
    }
  }

  /**
   * A peer's STOP_SENDING shows as StreamStopped on a capacity query, and only until
   * quiche forgets the stream (once its automatic RESET_STREAM is acknowledged): so every
   * stream we still send on is asked after each batch, while the code is still there.
   * quiche's writable() does not reliably list stopped streams.
   */
  checkStopped(): void {
    for (const [id, s] of this.#streams) {
      if (s.writeDone || this.#unborn.has(id)) continue;
      try {
        this.#conn.streamCapacity(id);
      } catch (err) {
        // StreamStopped(code); or InvalidStreamState: quiche forgot a stream we never
        // finished, which only a STOP_SENDING does (once all we sent was acknowledged)
        this.#stopped(id, s, err);
      }
    }
  }

  /**
   * Whether every stream we ended has been acknowledged in full: quiche forgets a stream
   * (InvalidStreamState) only once both sides are complete and all it sent is acknowledged.
   */
  allAcked(): boolean {
    for (const id of this.#inFlight) {
      try {
        this.#conn.streamCapacity(id);
      } catch {
        this.#inFlight.delete(id); // forgotten (all acknowledged), or stopped by the peer
      }
    }
    return this.#inFlight.size === 0;
  }

  /** Hand queued bytes to quiche as far as its flow control and congestion window allow. */
  push(): void {
    for (const id of this.#pending) {
      if (this.#events.closed()) return;
      const s = this.#streams.get(id);
      if (!s || s.writeDone) {
        this.#pending.delete(id);
        continue;
      }
      const had = s.queued > 0;
      const blocked = this.#pushQueue(id, s) || this.#pushFin(id, s);
      if (blocked && !s.writeDone) continue;
      this.#pending.delete(id);
      if (had && s.queued === 0) this.#events.drained(id);
      if (s.writeDone) this.retire(id, s);
    }
  }

  /** Push the stream's queue (and a FIN with its last chunk); true when quiche took not all. */
  #pushQueue(id: number, s: StreamState): boolean {
    while (s.queue.length > 0) {
      // many small pieces (frame headers, small messages): one call into quiche, not one each
      if (s.queue.length > 1 && s.queue[0]!.length < COALESCE_MAX) coalesce(s.queue);
      const chunk = s.queue[0]!;
      const last = s.queue.length === 1 && s.finQueued;
      let n: number | null;
      try {
        n = this.#conn.streamSend(id, chunk, last);
      } catch (err) {
        this.#stopped(id, s, err);
        return true;
      }
      if (n !== null) this.#unborn.delete(id);
      if (n === null) {
        // quiche answers Done, not StreamStopped, when the peer sent STOP_SENDING: ask
        if (this.#wasStopped(id, s)) return true;
        n = 0;
      }
      s.queued -= n;
      if (n < chunk.length) {
        s.queue[0] = chunk.subarray(n);
        return true;
      }
      s.queue.shift();
      if (last) {
        s.finSent = true;
        s.writeDone = true;
        this.#finished(id);
      }
    }
    return false;
  }

  /** A FIN queued after the bytes were all taken; true when quiche did not take it. */
  #pushFin(id: number, s: StreamState): boolean {
    if (!s.finQueued || s.finSent) return false;
    try {
      if (this.#conn.streamSend(id, EMPTY, true) !== null) {
        this.#unborn.delete(id);
        s.finSent = true;
        s.writeDone = true;
        this.#finished(id);
        return false;
      }
      this.#wasStopped(id, s);
      return true;
    } catch (err) {
      this.#stopped(id, s, err);
      return true;
    }
  }

  #stopped(id: number, s: StreamState, err: unknown): void {
    this.#dropQueue(id, s);
    s.writeDone = true;
    const code = streamErrorCode(err, 'StreamStopped');
    if (code !== null) {
      try {
        // quiche has queued the RESET_STREAM; this settles its stream state
        shutdownStream(this.#conn, id, 'write', code);
      } catch {
        // already shut
      }
    }
    this.#events.stopped(id, code);
    this.retire(id, s);
  }

  /** A FIN went to quiche: the stream's bytes are in flight until quiche forgets it. */
  #finished(id: number): void {
    this.#inFlight.add(id);
    if (this.#inFlight.size > 64) this.allAcked();
  }

  /** Whether the stream's sending side is gone (then reported as stopped). */
  #wasStopped(id: number, s: StreamState): boolean {
    try {
      this.#conn.streamCapacity(id);
      return false;
    } catch (err) {
      this.#stopped(id, s, err);
      return true;
    }
  }

  #dropQueue(id: number, s: StreamState): void {
    this.#unborn.delete(id);
    s.queue = [];
    s.queued = 0;
    this.#pending.delete(id);
  }
}
