// Workers on one machine (node:cluster): the primary forks N workers that run the same
// program; each serve() in a worker listens on the ports every worker shares. TCP
// connections are handed out by the primary (cluster's round robin). The UDP socket of
// HTTP/3 is shared too, so the kernel hands a datagram to any worker: connection IDs
// name their worker (src/h3/quic-server.ts) and a datagram read by another worker is
// forwarded to its owner through the primary. Topics reach every worker through the
// primary as well (or through Redis, given `redis`).
//
// Node 20 has neither SO_REUSEPORT for dgram (22.12 / 23.1) nor a way to attach a
// reuseport BPF program that could steer datagrams by connection ID, hence the forwarding.

import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Host } from '../h3/quic.js';
import type { QuicRouter } from '../h3/quic-server.js';
import { WebSocketError } from '../ws/errors.js';
import type { AdapterHub, RemoteMessage, TopicsAdapter } from '../ws/topics.js';

const ENV_SLOT = 'OMNIWS_WORKER_SLOT';
const ENV_COUNT = 'OMNIWS_WORKERS';
const ENV_SECRET = 'OMNIWS_WORKERS_SECRET';

/** What a worker knows of its place in the group. */
export interface WorkerInfo {
  /** 0 … count - 1; a restarted worker keeps its slot. */
  readonly slot: number;
  readonly count: number;
  /** Shared by the group: connection-ID MACs and Retry tokens (src/h3/quic-server.ts). */
  readonly secret: Uint8Array;
}

/** What a worker's serve() tells the primary once it listens. */
export interface ListenReport {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly versions: readonly string[];
  /** Its topics hub's number among the group's cluster adapters (-1: another adapter). */
  readonly hub: number;
}

/** One publish as it crosses between workers. */
interface Published {
  topic: string;
  binary: boolean;
  compress: boolean;
  data: Uint8Array;
}

type Envelope =
  | { omniws: 'topic'; hub: number; items: Published[] }
  | { omniws: 'quic'; to: number; msg: Uint8Array; from: Host; local: Host }
  | { omniws: 'listening'; index: number; report: ListenReport }
  | { omniws: 'failed'; index: number; message: string }
  | { omniws: 'shutdown' };

/** The number of workers `workers` asks for ('auto': one per core). */
export function workerCount(workers: number | 'auto' | undefined): number {
  if (workers === undefined) return 1;
  if (workers === 'auto') return os.availableParallelism();
  if (!Number.isInteger(workers) || workers < 1 || workers > 255) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      `workers must be 'auto' or an integer from 1 to 255, not ${workers}`,
    );
  }
  return workers;
}

let info: WorkerInfo | null | undefined;

/** This process's place in a group of workers, or undefined outside one. */
export function workerInfo(): WorkerInfo | undefined {
  if (info === undefined) {
    const slot = process.env[ENV_SLOT];
    info =
      cluster.isWorker && slot !== undefined
        ? {
            slot: Number(slot),
            count: Number(process.env[ENV_COUNT]),
            secret: Buffer.from(process.env[ENV_SECRET] ?? '', 'hex'),
          }
        : null;
  }
  return info ?? undefined;
}

function send(m: Envelope): void {
  process.send?.(m);
}

function onEnvelope(fn: (m: Envelope) => void): void {
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && 'omniws' in m) fn(m as Envelope);
  });
}

const bytes = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

// ── in a worker ──────────────────────────────────────────────────────────────

let hubs = 0;

/** Topics across the workers of a group, through the primary. */
export class ClusterTopicsAdapter implements TopicsAdapter {
  /** The n-th hub of this program: the same n in every worker, which runs the same program. */
  readonly id = hubs++;
  #hub: AdapterHub | null = null;
  #closed = false;
  /** This turn's publishes: they cross to the primary in one message. */
  #batch: Published[] | null = null;

  attach(hub: AdapterHub): void {
    this.#hub = hub;
    onEnvelope((m) => {
      if (m.omniws !== 'topic' || m.hub !== this.id || this.#closed) return;
      for (const p of m.items) {
        this.#hub?.deliver(p.topic, {
          binary: p.binary,
          compress: p.compress,
          data: bytes(p.data),
        });
      }
    });
  }

  subscribe(): void {}
  unsubscribe(): void {}

  publish(topic: string, m: RemoteMessage): void {
    if (this.#closed) return;
    const p = { topic, binary: m.binary, compress: m.compress, data: m.data };
    if (this.#batch !== null) {
      this.#batch.push(p);
      return;
    }
    this.#batch = [p];
    setImmediate(() => {
      const items = this.#batch!;
      this.#batch = null;
      send({ omniws: 'topic', hub: this.id, items });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** HTTP/3's datagram routing among the workers of a group. */
export function clusterQuicRouter(w: WorkerInfo): QuicRouter {
  return {
    slot: w.slot,
    count: w.count,
    secret: w.secret,
    forward(slot, msg, from, local) {
      send({ omniws: 'quic', to: slot, msg, from, local });
    },
    onForwarded(deliver) {
      onEnvelope((m) => {
        if (m.omniws === 'quic') deliver(bytes(m.msg), m.from, m.local);
      });
    },
  };
}

/** Tell the primary that this worker's `index`-th serve() listens (or failed to). */
export function reportListening(index: number, report: ListenReport | Error): void {
  if (report instanceof Error) send({ omniws: 'failed', index, message: report.message });
  else send({ omniws: 'listening', index, report });
}

/** Run `stop` when the primary asks this worker to shut down, then exit. */
export function onShutdown(stop: () => Promise<void>): void {
  onEnvelope((m) => {
    if (m.omniws !== 'shutdown') return;
    stop().finally(() => process.exit(0));
  });
}

// ── in the primary ───────────────────────────────────────────────────────────

interface Slot {
  worker: Worker | null;
  /** Reports of this worker's serve() calls, by index. */
  reports: Map<number, ListenReport>;
}

/**
 * The workers of this program, forked once by the primary's first serve({ workers });
 * each later serve() call of the program finds its listeners by index.
 */
export class WorkerGroup {
  static #current: WorkerGroup | null = null;
  readonly count: number;
  readonly #secret = randomBytes(32).toString('hex');
  readonly #slots: Slot[];
  readonly #waiters = new Set<() => void>();
  #failure: Error | null = null;
  #closing = false;
  #closed: Promise<void> | null = null;

  private constructor(count: number) {
    this.count = count;
    this.#slots = Array.from({ length: count }, () => ({ worker: null, reports: new Map() }));
    cluster.setupPrimary({ serialization: 'advanced' });
    for (let i = 0; i < count; i++) this.#fork(i);
  }

  /** The group of this process, forked on first use. */
  static of(count: number): WorkerGroup {
    const g = WorkerGroup.#current;
    if (g !== null && g.count !== count) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `workers: this program already runs ${g.count} workers, not ${count}`,
      );
    }
    WorkerGroup.#current = g ?? new WorkerGroup(count);
    return WorkerGroup.#current;
  }

  /** Process ids of the workers now (in slot order; 0 for a slot being restarted). */
  get pids(): number[] {
    return this.#slots.map((s) => s.worker?.process.pid ?? 0);
  }

  #fork(slot: number): void {
    const s = this.#slots[slot]!;
    s.reports.clear();
    const worker = cluster.fork({
      [ENV_SLOT]: String(slot),
      [ENV_COUNT]: String(this.count),
      [ENV_SECRET]: this.#secret,
    });
    s.worker = worker;
    worker.on('message', (m: Envelope) => this.#relay(slot, m));
    worker.on('exit', (code, signal) => {
      if (s.worker !== worker) return;
      s.worker = null;
      if (this.#closing) return;
      if (s.reports.size === 0) {
        // died before it listened: a program or port error, not worth a loop of forks
        this.#fail(new Error(`worker ${slot} exited (${signal ?? code}) before it listened`));
        return;
      }
      this.#fork(slot); // a crash: its connections are gone, the slot serves again
    });
  }

  #relay(from: number, m: Envelope): void {
    if (typeof m !== 'object' || m === null || !('omniws' in m)) return;
    switch (m.omniws) {
      case 'topic':
        for (const [i, s] of this.#slots.entries()) if (i !== from) s.worker?.send(m);
        return;
      case 'quic': {
        // the owner is being restarted: the next worker up takes the datagram
        let to = m.to;
        for (let k = 0; k < this.count && !this.#slots[to]?.worker?.isConnected(); k++) {
          to = (to + 1) % this.count;
        }
        this.#slots[to]?.worker?.send(m);
        return;
      }
      case 'listening':
        this.#slots[from]!.reports.set(m.index, m.report);
        for (const w of this.#waiters) w();
        return;
      case 'failed':
        this.#fail(new Error(`worker ${from}: ${m.message}`));
        return;
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const w of this.#waiters) w();
  }

  /** What each worker's `index`-th serve() reported, once all of them listen. */
  listening(index: number, timeoutMs = 30_000): Promise<ListenReport[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new WebSocketError(
            'WS_ERR_INVALID_STATE',
            `workers did not listen within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (this.#failure) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          reject(this.#failure);
          return;
        }
        const reports = this.#slots.map((s) => s.reports.get(index));
        if (reports.some((r) => r === undefined)) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(reports as ListenReport[]);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Publish from the primary: to every worker's hub number `hub`. */
  publish(hub: number, topic: string, m: RemoteMessage): void {
    const item = { topic, binary: m.binary, compress: m.compress, data: m.data };
    const e: Envelope = { omniws: 'topic', hub, items: [item] };
    for (const s of this.#slots) s.worker?.send(e);
  }

  /**
   * Restart one worker gracefully: it closes its WebSockets with 1001 and exits; a new
   * one takes its slot. The other workers and their connections carry on.
   */
  async restart(slot: number): Promise<void> {
    const s = this.#slots[slot];
    if (!s?.worker)
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', `no worker in slot ${slot}`);
    const old = s.worker;
    const indices = [...s.reports.keys()];
    const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
    s.worker = null; // its exit is expected: no automatic fork
    old.send({ omniws: 'shutdown' } satisfies Envelope);
    await exited;
    this.#fork(slot);
    await Promise.all(indices.map((i) => this.listening(i)));
  }

  /** Restart the workers one after the other (a rolling restart: new code, same ports). */
  async restartAll(): Promise<void> {
    for (let slot = 0; slot < this.count; slot++) await this.restart(slot);
  }

  /** Shut every worker down gracefully (1001 to their WebSockets) and wait for them. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      const exits = this.#slots.flatMap((s) => {
        const w = s.worker;
        if (!w) return [];
        const gone = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        if (w.isConnected()) w.send({ omniws: 'shutdown' } satisfies Envelope);
        else w.kill();
        return [gone];
      });
      await Promise.all(exits);
      if (WorkerGroup.#current === this) WorkerGroup.#current = null;
    })();
    return this.#closed;
  }
}
