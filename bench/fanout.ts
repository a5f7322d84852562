// The `fanout` section of `npm run bench` (issue #17): topics against Bun's uWebSockets
// topics and against `ws` looping over its clients, in one run, with the neutral load
// generator ../shared/bench/fanout.mjs (raw sockets, HTTP/1.1). Each server runs in its
// own process and is measured the same way from outside: deliveries/s (the generator's
// count), the server's CPU time per delivery and the generator's CPU, both read from
// /proc over the generator's counting window. Then the same room over HTTP/2 and HTTP/3:
// 1 000 WebSockets over 10 connections, driven by bench/fanout-client.ts (our client).
//
//   node dist/bench/fanout.js [--rounds R] [--seconds S] [--no-bun] [--only h1|h23]
//
// Bun 1.4.4's Linux x64 binary comes from the npm package @oven/bun-linux-x64, fetched on
// first use into ~/.cache/omniws-bench (OMNIWS_BENCH_CACHE), never by `npm install`. Without
// it (no registry, another platform) the Bun columns say why they are empty.

import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ensureCerts } from '../src/dev/certs.js';
import {
  benchArgs,
  FANOUT,
  fixed,
  int,
  log,
  median,
  paths,
  ratio,
  runLoads,
  table,
} from './measure.js';
import { freePort, startChild, stopChild, withFds } from './procs.js';

const { here: HERE, root: ROOT, shared: SHARED, cli: CLI } = paths;
const BUN_ROOM = join(SHARED, 'bench', 'bun-room.ts');
const WS_ROOM = join(ROOT, 'bench', 'ws-room.mjs');
const CLIENT = join(HERE, 'fanout-client.js');
const BUN_VERSION = '1.4.4';

const args = benchArgs();
const ROUNDS = args.rounds;
const SECONDS = args.seconds;
const ONLY = args.opt('only');

interface Shape {
  label: string;
  subs: number;
  pubs: number;
  window: number;
}

const SHAPES: Shape[] = [
  { label: '1 000 subscribers, 1 publisher, window 8', subs: 1000, pubs: 1, window: 8 },
  { label: '10 000 subscribers, 1 publisher, window 8', subs: 10_000, pubs: 1, window: 8 },
  { label: '100-client chat room (all publish, window 1)', subs: 100, pubs: 100, window: 1 },
];

interface Run {
  deliveriesPerSec: number;
  /** Server CPU time per delivery over the counting window, µs. */
  serverUs: number;
  /** The load generator's CPU over the counting window, share of one core. */
  loadCpu: number;
  errors: number;
}

// ── helpers ──────────────────────────────────────────────────────────────────

/** Bun's binary: cached, or fetched from the npm registry now; a reason when there is none. */
function bunBinary(): { path?: string; why?: string } {
  if (args.flag('no-bun')) return { why: '--no-bun' };
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { why: `no @oven/bun-linux-x64 for ${process.platform}-${process.arch}` };
  }
  const cache = process.env.OMNIWS_BENCH_CACHE ?? join(os.homedir(), '.cache', 'omniws-bench');
  const dir = join(cache, `bun-${BUN_VERSION}`);
  const bin = join(dir, 'package', 'bin', 'bun');
  if (existsSync(bin)) return { path: bin };
  mkdirSync(dir, { recursive: true });
  log(`fanout: fetching @oven/bun-linux-x64@${BUN_VERSION} into ${dir}`);
  const pack = spawnSync(
    'npm',
    ['pack', `@oven/bun-linux-x64@${BUN_VERSION}`, '--pack-destination', dir, '--silent'],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const tgz = pack.stdout?.trim().split('\n').pop();
  if (pack.status !== 0 || !tgz) {
    return { why: `npm pack @oven/bun-linux-x64 failed: ${pack.stderr?.trim().slice(0, 200)}` };
  }
  const untar = spawnSync('tar', ['xzf', join(dir, tgz), '-C', dir], { encoding: 'utf8' });
  rmSync(join(dir, tgz), { force: true });
  if (untar.status !== 0 || !existsSync(bin)) return { why: `tar failed: ${untar.stderr}` };
  return { path: bin };
}

/** One generator against one server, measured over the generator's counting window. */
async function measure(
  server: ChildProcess,
  cmd: string,
  args: string[],
  seconds: number,
): Promise<Run> {
  const r = await runLoads(() => (server.pid ? [server.pid] : []), [{ cmd, args }], seconds);
  return { deliveriesPerSec: r.perSec, serverUs: r.serverUs, loadCpu: r.loadCpu, errors: r.errors };
}

// ── servers ──────────────────────────────────────────────────────────────────

const FDS = 24_000;

interface Kind {
  name: string;
  child: ChildProcess;
  port: number;
}

async function startKind(name: string, bun: string | undefined): Promise<Kind> {
  const port = await freePort();
  const node = withFds(FDS);
  let child: ChildProcess;
  if (name === 'omniws') {
    child = await startChild(
      node.cmd,
      [...node.pre, CLI, 'serve', '--port', String(port)],
      /listening ws:/,
      'omniws serve',
    );
  } else if (name === 'ws') {
    child = await startChild(node.cmd, [...node.pre, WS_ROOM, String(port)], /listening/, 'ws');
  } else {
    const b = withFds(FDS, bun!);
    child = await startChild(b.cmd, [...b.pre, BUN_ROOM, String(port)], /listening/, 'bun');
  }
  return { name, child, port };
}

// ── HTTP/1.1: omniws, Bun, ws with fanout.mjs ────────────────────────────────

async function h1Section(out: string[], json: Record<string, unknown>): Promise<void> {
  const bun = bunBinary();
  const names = ['omniws', ...(bun.path ? ['bun'] : []), 'ws'];
  log(`fanout: ${names.join(', ')}; ${ROUNDS} round(s) of ${SECONDS} s per shape`);
  const kinds = new Map<string, Kind>();
  try {
    for (const n of names) kinds.set(n, await startKind(n, bun.path));
    const gen = withFds(FDS);
    const run = (k: Kind, s: Shape, seconds: number) =>
      measure(
        k.child,
        gen.cmd,
        [
          ...gen.pre,
          FANOUT,
          ...['--url', `ws://127.0.0.1:${k.port}/pubsub/room`, '--subs', String(s.subs)],
          ...['--pubs', String(s.pubs), '--size', '64', '--window', String(s.window)],
          ...['--seconds', String(seconds)],
        ],
        seconds,
      );
    // JIT warm-up, not reported
    for (const k of kinds.values()) await run(k, SHAPES[0]!, 1);
    const rows: string[][] = [];
    const results: unknown[] = [];
    const targets: string[][] = [];
    for (const s of SHAPES) {
      const per: Record<string, Run[]> = Object.fromEntries(names.map((n) => [n, []]));
      const vsBun: number[] = [];
      const cpuVsBun: number[] = [];
      const vsWs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
        for (const n of order) {
          const got = await run(kinds.get(n)!, s, SECONDS);
          per[n]!.push(got);
          log(
            `  ${s.label} round ${r + 1} ${n}: ${int(got.deliveriesPerSec)}/s, server ${fixed(got.serverUs)} µs/delivery, generator ${fixed(got.loadCpu * 100, 0)}%${got.errors ? ` (${got.errors} errors)` : ''}`,
          );
        }
        const last = (n: string) => per[n]!.at(-1)!;
        if (bun.path) {
          vsBun.push(last('omniws').deliveriesPerSec / last('bun').deliveriesPerSec);
          cpuVsBun.push(last('omniws').serverUs / last('bun').serverUs);
        }
        vsWs.push(last('omniws').deliveriesPerSec / last('ws').deliveriesPerSec);
      }
      const med = (n: string, f: keyof Run) => median(per[n]!.map((x) => x[f]));
      const cell = (n: string) =>
        per[n]
          ? `${int(med(n, 'deliveriesPerSec'))} (${fixed(med(n, 'serverUs'))} µs, gen ${fixed(med(n, 'loadCpu') * 100, 0)}%)`
          : `n/a (${bun.why})`;
      rows.push([
        s.label,
        cell('omniws'),
        cell('bun'),
        cell('ws'),
        ratio(median(vsBun)),
        ratio(median(cpuVsBun)),
        ratio(median(vsWs)),
      ]);
      if (bun.path) {
        const d = median(vsBun);
        const c = median(cpuVsBun);
        targets.push([
          `${s.label}: deliveries/s ≥ 0.9× Bun`,
          ratio(d),
          d >= 0.9 ? 'met' : '**not met**',
        ]);
        targets.push([
          `${s.label}: server CPU/delivery ≤ 1.5× Bun`,
          ratio(c),
          c <= 1.5 ? 'met' : '**not met**',
        ]);
      }
      const w = median(vsWs);
      targets.push([
        `${s.label}: deliveries/s ≥ 10× ws`,
        ratio(w),
        w >= 10 ? 'met' : '**not met**',
      ]);
      results.push({
        shape: s,
        runs: per,
        omniwsVsBun: vsBun,
        omniwsCpuOverBun: cpuVsBun,
        omniwsVsWs: vsWs,
      });
    }
    json.h1 = results;
    json.targets = targets;
    out.push(
      `### Fan-out over HTTP/1.1 — deliveries/s, median of ${ROUNDS} × ${SECONDS} s\n\n` +
        'Load: ../shared/bench/fanout.mjs (raw sockets, 64 B binary messages; every message ' +
        'goes to every member of the room, the sender included). Each cell: deliveries/s ' +
        '(server CPU µs per delivery, load generator CPU as a share of one core), both read ' +
        'from /proc over the counting window. omniws: `omniws serve`, `/pubsub/room`; Bun ' +
        `${BUN_VERSION}: ../shared/bench/bun-room.ts (uWebSockets topics); ws: bench/ws-room.mjs ` +
        '(a loop over `wss.clients`). Ratios are medians of per-round ratios. The generator ' +
        'is one process on one core: where it runs near 100%, deliveries/s is its ceiling ' +
        'and server CPU per delivery ranks the servers.\n\n' +
        table(
          [
            'shape',
            'omniws',
            `Bun ${BUN_VERSION}`,
            'ws',
            'omniws / Bun',
            'CPU/delivery omniws / Bun',
            'omniws / ws',
          ],
          rows,
        ) +
        `\n\n#### Targets of issue #17 (this run)\n\n${table(['target', 'measured', ''], targets)}`,
    );
  } finally {
    for (const k of kinds.values()) await stopChild(k.child);
  }
}

// ── HTTP/2 and HTTP/3: 1 000 WebSockets over 10 connections ─────────────────

async function h23Section(out: string[], json: Record<string, unknown>): Promise<void> {
  const tmp = mkdtempSync(join(os.tmpdir(), 'omniws-fanout-'));
  let server: ChildProcess | undefined;
  try {
    const certs = await ensureCerts(tmp);
    const port = await freePort();
    const node = withFds(FDS);
    server = await startChild(
      node.cmd,
      [
        ...node.pre,
        CLI,
        'serve',
        '--tls-port',
        String(port),
        '--cert',
        certs.cert,
        '--key',
        certs.key,
      ],
      /also over HTTP\/3/,
      'omniws serve --tls-port',
    );
    const cases = [
      { label: 'HTTP/1.1: 1 000 TCP connections', http: 1, conns: 1000 },
      { label: 'HTTP/2: 1 000 WebSockets over 10 connections', http: 2, conns: 10 },
      { label: 'HTTP/3: 1 000 WebSockets over 10 connections', http: 3, conns: 10 },
    ];
    const rows: string[][] = [];
    const results: unknown[] = [];
    for (const c of cases) {
      const runs: Run[] = [];
      for (let r = 0; r < Math.max(1, ROUNDS - 1); r++) {
        const got = await measure(
          server,
          node.cmd,
          [
            ...node.pre,
            CLIENT,
            ...['--url', `wss://localhost:${port}/pubsub/room`, '--http', String(c.http)],
            ...['--subs', '1000', '--conns', String(c.conns), '--pubs', '1', '--size', '64'],
            ...['--window', '8', '--seconds', String(SECONDS), '--ca', certs.ca],
          ],
          SECONDS,
        );
        runs.push(got);
        log(
          `  ${c.label} round ${r + 1}: ${int(got.deliveriesPerSec)}/s, server ${fixed(got.serverUs)} µs/delivery, generator ${fixed(got.loadCpu * 100, 0)}%`,
        );
      }
      const med = (f: keyof Run) => median(runs.map((x) => x[f]));
      rows.push([
        c.label,
        int(med('deliveriesPerSec')),
        fixed(med('serverUs')),
        `${fixed(med('loadCpu') * 100, 0)}%`,
      ]);
      results.push({ ...c, runs });
    }
    json.h23 = results;
    out.push(
      '### Fan-out over HTTP/1.1, HTTP/2 and HTTP/3 — one room of 1 000 WebSockets, 1 publisher, window 8\n\n' +
        '`omniws serve --tls-port`, `/pubsub/room`, TLS; load: bench/fanout-client.ts (our own ' +
        'client, one process; HTTP/2 and HTTP/3 carry 100 WebSockets per connection). The client ' +
        'is heavier than fanout.mjs, so the rows compare the versions with each other, not with ' +
        `the table above. Median of ${Math.max(1, ROUNDS - 1)} × ${SECONDS} s.\n\n` +
        table(['carried by', 'deliveries/s', 'server CPU µs/delivery', 'generator CPU'], rows),
    );
  } finally {
    if (server) await stopChild(server);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!existsSync(FANOUT)) {
    console.log(`Not measured: ${FANOUT} is missing (set OMNIWS_SHARED to the shared folder).`);
    return;
  }
  const out: string[] = [];
  const json: Record<string, unknown> = {};
  if (ONLY !== 'h23') await h1Section(out, json);
  if (ONLY !== 'h1') await h23Section(out, json);
  console.log(out.join('\n\n'));
  console.log(`\n<!-- json ${JSON.stringify(json)} -->`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
