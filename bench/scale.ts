// The `scale` section of `npm run bench` (issue #18), in one run:
//  1. `omniws serve` with 2 workers against 1, on the same machine: HTTP/1.1 echo
//     (bench/loadgen.mjs) and fan-out (../shared/bench/fanout.mjs), total server CPU
//     (the primary and its workers) per message.
//  2. Fan-out across processes through a real redis-server: 1 publisher, 10 000
//     subscribers spread over 2 processes, against the same 10 000 in one process, and
//     against Socket.IO 4 with @socket.io/redis-adapter (sharded) on the same Redis, each
//     driven by its own client (two generators, 5 000 connections each).
// The machine has two cores that the servers, Redis and the generators share: the
// figures say what this machine does, not what more cores would.
//
//   node dist/bench/scale.js [--rounds R] [--seconds S]

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  benchArgs,
  FANOUT,
  fixed,
  int,
  type Load,
  log,
  median,
  paths,
  ratio,
  runLoads,
  table,
} from './measure.js';
import { childrenOf, freePort, startChild, stopChild, withFds } from './procs.js';

const { root: ROOT, cli: CLI } = paths;
const LOADGEN = join(ROOT, 'bench', 'loadgen.mjs');
const SIO_ROOM = join(ROOT, 'bench', 'sio-room.mjs');
const SIO_FANOUT = join(ROOT, 'bench', 'sio-fanout.mjs');
const REDIS_SERVER = '/usr/bin/redis-server';

const { rounds: ROUNDS, seconds: SECONDS } = benchArgs();
const FDS = 24_000;
const node = withFds(FDS);

interface Server {
  child: ChildProcess;
  port: number;
  /** Every process that serves: the primary and its workers. */
  pids: () => number[];
}

async function omniws(extra: string[]): Promise<Server> {
  const port = await freePort();
  const child = await startChild(
    node.cmd,
    [...node.pre, CLI, 'serve', '--port', String(port), ...extra],
    extra.includes('--workers') ? /SIGUSR2/ : /listening ws:/,
    `omniws serve ${extra.join(' ')}`,
  );
  const workers = childrenOf(child.pid!);
  return { child, port, pids: () => [child.pid!, ...workers] };
}

// ── 1. workers ───────────────────────────────────────────────────────────────

interface Case {
  label: string;
  unit: string;
  load: (port: number) => Load;
}

const CASES: Case[] = [
  {
    label: 'HTTP/1.1 echo, 50 connections, 32 B',
    unit: 'msg',
    load: (port) => ({
      ...node,
      args: [
        ...node.pre,
        LOADGEN,
        ...['--url', `ws://127.0.0.1:${port}/echo`, '--conns', '50', '--size', '32'],
        ...['--window', '64', '--seconds', String(SECONDS)],
      ],
      field: 'msgsPerSec',
    }),
  },
  {
    label: 'fan-out, 1 000 subscribers, 1 publisher, window 8',
    unit: 'delivery',
    load: (port) => fanoutLoad(port, 1000, 1, 8),
  },
  {
    label: 'fan-out, 100-client chat room',
    unit: 'delivery',
    load: (port) => fanoutLoad(port, 100, 100, 1),
  },
];

function fanoutLoad(port: number, subs: number, pubs: number, window: number): Load {
  return {
    ...node,
    args: [
      ...node.pre,
      FANOUT,
      ...['--url', `ws://127.0.0.1:${port}/pubsub/room`, '--subs', String(subs)],
      ...['--pubs', String(pubs), '--size', '64', '--window', String(window)],
      ...['--seconds', String(SECONDS)],
    ],
  };
}

async function workersPart(out: string[], json: Record<string, unknown>): Promise<void> {
  log(`scale: 1 worker vs 2; ${ROUNDS} round(s) of ${SECONDS} s`);
  const one = await omniws([]);
  const two = await omniws(['--workers', '2']);
  try {
    const rows: string[][] = [];
    const results: unknown[] = [];
    for (const c of CASES) {
      const per: Record<string, { perSec: number; serverUs: number; loadCpu: number }[]> = {
        '1': [],
        '2': [],
      };
      const ratios: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 ? (['2', '1'] as const) : (['1', '2'] as const);
        for (const k of order) {
          const s = k === '1' ? one : two;
          const got = await runLoads(s.pids, [c.load(s.port)], SECONDS);
          per[k]!.push(got);
          log(
            `  ${c.label} round ${r + 1}, ${k} worker(s): ${int(got.perSec)}/s, ${fixed(got.serverUs)} µs/${c.unit}, generator ${fixed(got.loadCpu * 100, 0)}%`,
          );
        }
        ratios.push(per['2']!.at(-1)!.perSec / per['1']!.at(-1)!.perSec);
      }
      const cell = (k: string) => {
        const m = (f: 'perSec' | 'serverUs' | 'loadCpu') => median(per[k]!.map((x) => x[f]));
        return `${int(m('perSec'))} (${fixed(m('serverUs'))} µs, gen ${fixed(m('loadCpu') * 100, 0)}%)`;
      };
      rows.push([c.label, cell('1'), cell('2'), ratio(median(ratios))]);
      results.push({ case: c.label, runs: per, twoOverOne: ratios });
    }
    json.workers = results;
    out.push(
      `### Workers: 2 against 1 on this machine — per second, median of ${ROUNDS} × ${SECONDS} s\n\n` +
        '`omniws serve --port P` against `omniws serve --port P --workers 2`. Each cell: ' +
        'messages or deliveries per second (server CPU µs per message or delivery, summed ' +
        "over the primary and its workers; the generator's CPU as a share of one core). " +
        'The machine has 2 cores and the one-process generator takes most of one: two ' +
        'workers can only share the other.\n\n' +
        table(['case', '1 worker', '2 workers', '2 / 1'], rows),
    );
  } finally {
    await stopChild(one.child);
    await stopChild(two.child);
  }
}

// ── 2. across processes through Redis ────────────────────────────────────────

async function redisServer(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = await startChild(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    /Ready to accept connections/,
    'redis-server',
  );
  return { child, url: `redis://127.0.0.1:${port}` };
}

async function sioRoom(url: string): Promise<Server> {
  const port = await freePort();
  const child = await startChild(
    node.cmd,
    [...node.pre, SIO_ROOM, String(port), url],
    /listening/,
    'socket.io room',
  );
  return { child, port, pids: () => [child.pid!] };
}

const HALF = 5000;

function halves(kind: string, ports: readonly number[]): Load[] {
  return ports.map((port, i) => {
    const pubs = i === 0 ? '1' : '0';
    if (kind === 'sio') {
      return {
        ...node,
        args: [
          ...node.pre,
          SIO_FANOUT,
          ...['--url', `http://127.0.0.1:${port}`, '--subs', String(HALF), '--pubs', pubs],
          ...['--size', '64', '--window', '8', '--seconds', String(SECONDS)],
        ],
      };
    }
    return {
      ...node,
      args: [
        ...node.pre,
        FANOUT,
        ...['--url', `ws://127.0.0.1:${port}/pubsub/room`, '--subs', String(HALF), '--pubs', pubs],
        ...['--size', '64', '--window', '8', '--seconds', String(SECONDS)],
      ],
    };
  });
}

async function redisPart(out: string[], json: Record<string, unknown>): Promise<void> {
  if (!existsSync(REDIS_SERVER)) {
    out.push(`### Across processes through Redis\n\nNot measured: ${REDIS_SERVER} is missing.`);
    return;
  }
  log(`scale: 10 000 subscribers over 2 processes through Redis; ${ROUNDS} round(s)`);
  const redis = await redisServer();
  const servers: Server[] = [];
  try {
    const inProcess = await omniws([]);
    const viaRedis = [await omniws(['--redis', redis.url]), await omniws(['--redis', redis.url])];
    const sio = [await sioRoom(redis.url), await sioRoom(redis.url)];
    servers.push(inProcess, ...viaRedis, ...sio);
    const kinds = {
      'omniws, one process': {
        ports: [inProcess.port, inProcess.port],
        servers: [inProcess],
        kind: 'ws',
      },
      'omniws, 2 processes + Redis': {
        ports: viaRedis.map((s) => s.port),
        servers: viaRedis,
        kind: 'ws',
      },
      'Socket.IO 4 + redis-adapter, 2 processes': {
        ports: sio.map((s) => s.port),
        servers: sio,
        kind: 'sio',
      },
    };
    const names = Object.keys(kinds) as (keyof typeof kinds)[];
    const per: Record<string, { perSec: number; serverUs: number; loadCpu: number }[]> = {};
    for (const n of names) per[n] = [];
    const vsOne: number[] = [];
    const vsSio: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
      for (const n of order) {
        const k = kinds[n];
        const pids = () => [...k.servers.flatMap((s) => s.pids()), redis.child.pid!];
        const got = await runLoads(pids, halves(k.kind, k.ports), SECONDS);
        per[n]!.push(got);
        log(
          `  ${n} round ${r + 1}: ${int(got.perSec)}/s, ${fixed(got.serverUs)} µs/delivery (servers + Redis), generators ${fixed(got.loadCpu * 100, 0)}%`,
        );
      }
      const last = (n: string) => per[n]!.at(-1)!.perSec;
      vsOne.push(last(names[1]!) / last(names[0]!));
      vsSio.push(last(names[1]!) / last(names[2]!));
    }
    const rows = names.map((n) => {
      const m = (f: 'perSec' | 'serverUs' | 'loadCpu') => median(per[n]!.map((x) => x[f]));
      return [n, int(m('perSec')), fixed(m('serverUs')), `${fixed(m('loadCpu') * 100, 0)}%`];
    });
    json.redis = { runs: per, redisOverOneProcess: vsOne, omniwsOverSocketIo: vsSio };
    out.push(
      `### Across processes through Redis — 1 publisher, 10 000 subscribers, median of ${ROUNDS} × ${SECONDS} s\n\n` +
        'Two generators of 5 000 connections each (one with the publisher, window 8, 64 B ' +
        'binary); for two processes, one generator per process. omniws: `omniws serve ' +
        '--redis`, `/pubsub/room`, load from ../shared/bench/fanout.mjs. Socket.IO 4.8 with ' +
        '@socket.io/redis-adapter 8.3 (sharded pub/sub): bench/sio-room.mjs, load from ' +
        'bench/sio-fanout.mjs (socket.io-client). Server CPU counts the servers and ' +
        'redis-server.\n\n' +
        table(['', 'deliveries/s', 'server CPU µs/delivery', 'generators CPU'], rows) +
        `\n\nomniws through Redis / in one process: ${ratio(median(vsOne))}; omniws / Socket.IO, ` +
        `both through Redis: ${ratio(median(vsSio))}.`,
    );
  } finally {
    for (const s of servers) await stopChild(s.child);
    await stopChild(redis.child);
  }
}

async function main(): Promise<void> {
  if (!existsSync(FANOUT)) {
    console.log(`Not measured: ${FANOUT} is missing (set OMNIWS_SHARED to the shared folder).`);
    return;
  }
  const out: string[] = [];
  const json: Record<string, unknown> = {};
  await workersPart(out, json);
  await redisPart(out, json);
  console.log(out.join('\n\n'));
  console.log(`\n<!-- json ${JSON.stringify(json)} -->`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
