// `omniws lab`: a UDP relay that impairs what it carries, to see what QUIC (HTTP/3) does
// with loss, delay, jitter, reordering and a rate limit. Clients send to the relay; it
// forwards to the target from one socket per client (so the target sees each client
// apart, as behind a NAT) and back. Each direction is impaired alike. Deterministic for
// a given seed: the same run loses the same packets.
// Loopback and lab use: it forwards to one target only.

import dgram from 'node:dgram';
import { once } from 'node:events';
import { isIP } from 'node:net';

/** What the lab does to each datagram, each way: loss, delay, jitter, reordering, a bottleneck. */
export interface Impairment {
  /** Fraction of datagrams dropped, 0–1 (default 0). */
  loss?: number;
  /** One-way delay added to every datagram, ms (default 0). */
  delay?: number;
  /** Up to this much more delay, uniformly random, ms (default 0): reorders by itself. */
  jitter?: number;
  /** Fraction of datagrams held back one `reorderBy` longer than the rest (default 0). */
  reorder?: number;
  /** How much longer a reordered datagram waits, ms (default 5). */
  reorderBy?: number;
  /** Bottleneck rate in bytes per second (default: none); its queue holds 100 ms of it. */
  rate?: number;
}

/** Options of `startLab()`: where it listens, the target, the impairment and its seed. */
export interface LabOptions extends Impairment {
  /** Where the relay listens (default 127.0.0.1, any free port). */
  host?: string;
  port?: number;
  /** The server the datagrams go to. */
  target: { host: string; port: number };
  /** Seed of the random choices (default 1). */
  seed?: number;
}

/** What one direction of the lab did: datagrams forwarded, dropped (by loss or by a full queue), reordered. */
export interface LabCounters {
  forwarded: number;
  dropped: number;
  /** Dropped because the rate limit's queue was full. */
  queueDrops: number;
  reordered: number;
}

/** A running lab (`startLab()`): its port, its counters, a new impairment on the fly, close. */
export interface Lab {
  readonly port: number;
  readonly host: string;
  /** Datagrams per direction: client → server (`up`) and back (`down`). */
  readonly counters: { up: LabCounters; down: LabCounters };
  /** Change the impairment from now on. */
  set(impairment: Impairment): void;
  close(): Promise<void>;
}

function checkFraction(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) {
    throw new RangeError(`lab: ${name} is a fraction from 0 to 1, not ${v}`);
  }
}

function checkMs(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && Number.isFinite(v))) {
    throw new RangeError(`lab: ${name} is a duration in ms (0 or more), not ${v}`);
  }
}

function check(i: Impairment): void {
  checkFraction('loss', i.loss);
  checkFraction('reorder', i.reorder);
  checkMs('delay', i.delay);
  checkMs('jitter', i.jitter);
  checkMs('reorderBy', i.reorderBy);
  if (i.rate !== undefined && !(i.rate > 0)) {
    throw new RangeError(`lab: rate is bytes per second (more than 0), not ${i.rate}`);
  }
}

/** One direction: drop, delay, reorder, and a bottleneck with a 100 ms queue. */
class Link {
  readonly counters: LabCounters = { forwarded: 0, dropped: 0, queueDrops: 0, reordered: 0 };
  #free = 0; // when the bottleneck is free again (ms, performance.now())
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly impairment: () => Impairment,
    readonly random: () => number,
  ) {}

  pass(msg: Buffer, send: (m: Buffer) => void): void {
    const i = this.impairment();
    if ((i.loss ?? 0) > 0 && this.random() < i.loss!) {
      this.counters.dropped++;
      return;
    }
    const now = performance.now();
    let at = now;
    if (i.rate !== undefined) {
      // serialization at the bottleneck; a queue of more than 100 ms overflows
      const start = Math.max(now, this.#free);
      if (start - now > 100) {
        this.counters.queueDrops++;
        return;
      }
      this.#free = start + (msg.length / i.rate) * 1000;
      at = this.#free;
    }
    at += (i.delay ?? 0) + (i.jitter ?? 0) * this.random();
    if ((i.reorder ?? 0) > 0 && this.random() < i.reorder!) {
      at += i.reorderBy ?? 5;
      this.counters.reordered++;
    }
    this.counters.forwarded++;
    const wait = at - now;
    if (wait <= 0.5) {
      send(msg);
      return;
    }
    const t = setTimeout(() => {
      this.#timers.delete(t);
      send(msg);
    }, wait);
    this.#timers.add(t);
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/** A seeded PRNG (mulberry32): the same seed loses the same datagrams. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Start the UDP impairment relay in front of `opts.target` (`omniws lab` is this, on the command line). */
export async function startLab(opts: LabOptions): Promise<Lab> {
  let impairment: Impairment = { ...opts };
  check(impairment);
  const host = opts.host ?? '127.0.0.1';
  const family = isIP(host) === 6 ? 'udp6' : 'udp4';
  // one sequence per direction: what each loses depends on its own datagrams' order only
  const seed = opts.seed ?? 1;
  const up = new Link(() => impairment, prng(seed));
  const down = new Link(() => impairment, prng(seed ^ 0x9e3779b9));
  const front = dgram.createSocket(family);
  const clients = new Map<string, dgram.Socket>();
  const targetFamily = isIP(opts.target.host) === 6 ? 'udp6' : 'udp4';
  front.on('message', (msg, from) => {
    const key = `${from.address}|${from.port}`;
    let back = clients.get(key);
    if (back === undefined) {
      const sock = dgram.createSocket(targetFamily);
      back = sock;
      clients.set(key, sock);
      sock.on('message', (reply) =>
        down.pass(reply, (m) => front.send(m, from.port, from.address)),
      );
      sock.on('error', () => {});
      sock.bind(0);
    }
    const b = back;
    up.pass(msg, (m) => b.send(m, opts.target.port, opts.target.host));
  });
  front.on('error', () => {});
  front.bind(opts.port ?? 0, host);
  await once(front, 'listening');
  return {
    port: front.address().port,
    host,
    counters: { up: up.counters, down: down.counters },
    set(next) {
      check(next);
      impairment = { ...next };
    },
    async close() {
      up.stop();
      down.stop();
      for (const s of clients.values()) s.close();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
}
