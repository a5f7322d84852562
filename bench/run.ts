// `npm run bench`: omniws against ws and against the raw limits, side by side in one
// run. Every server runs in its own child process (bench/echo-server.ts), every load
// generator in another (bench/loadgen.mjs, a neutral raw-socket client); kinds alternate
// within each case for R rounds and the tables show medians. Ratios are the median of
// the per-round ratios (each round measures the kinds back to back). The machine is
// shared and noisy: read ratios, not absolute numbers; nothing here is a test.
//
//   npm run bench [-- --quick] [-- --only echo,memory,codec,setup,h2,h3,fanout,scale,lab,webtransport] [-- --rounds N]
//                 [-- --seconds S] [-- --conns N (idle connections)]
//
// Prints markdown tables and writes bench/results/latest.md and latest.json (quick or
// --only runs write quick*.md / latest-<sections>.md instead, never over a full run),
// then a chart of each table beside them (bench/charts.ts: latest.echo.svg, …). On a
// terminal, a status line on stderr shows the section, the step under way and the time.

import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ensureCerts } from '../src/dev/certs.js';
import { fdLimits, withFds } from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench
const ROOT = join(HERE, '..', '..');
const LOADGEN = join(ROOT, 'bench', 'loadgen.mjs');
const SERVER = join(HERE, 'echo-server.js');
const RESULTS = join(ROOT, 'bench', 'results');

// ── options ──────────────────────────────────────────────────────────────────

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(`--${name}`);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = flag('quick');
const SECTIONS = [
  'echo',
  'memory',
  'codec',
  'setup',
  'h2',
  'h3',
  'fanout',
  'scale',
  'lab',
  'webtransport',
] as const;
type Section = (typeof SECTIONS)[number];
const only = opt('only')?.split(',') ?? [...SECTIONS];
for (const s of only) {
  if (!(SECTIONS as readonly string[]).includes(s)) {
    console.error(`unknown section ${s}; one of ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
}
const ROUNDS = Number(opt('rounds') ?? (QUICK ? 1 : 3));
const SECONDS = Number(opt('seconds') ?? (QUICK ? 1 : 3));
const IDLE_CONNS = Number(opt('conns') ?? (QUICK ? 2000 : 10000));
const ECHO_CONNS = 50;

// ── progress ─────────────────────────────────────────────────────────────────

/**
 * Progress on a terminal, as `omniws conformance` shows it (src/conformance/command.ts):
 * one line on stderr that rewrites itself, `0:42 [2/9] memory: ws +deflate: opening 10000
 * connections`, redrawn every second and kept below the lines that log() prints. Off a
 * terminal it writes nothing: stderr gets the same lines as before, stdout and the files
 * are not touched.
 */
function progress(out: NodeJS.WriteStream) {
  const tty = out.isTTY === true;
  const t0 = Date.now();
  let head = '';
  let step = '';
  let shown = false;
  let timer: NodeJS.Timeout | undefined;
  const clear = () => {
    if (shown) out.write('\r\x1b[K');
    shown = false;
  };
  const draw = () => {
    if (!tty || !head) return;
    const s = Math.floor((Date.now() - t0) / 1000);
    const line = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} ${head}${step ? `: ${step}` : ''}`;
    out.write(`\r\x1b[K${line.slice(0, (out.columns || 80) - 1)}`);
    shown = true;
  };
  return {
    section(name: string, i: number, n: number): void {
      head = `[${i}/${n}] ${name}`;
      step = '';
      draw();
      if (tty && !timer) {
        timer = setInterval(draw, 1000);
        timer.unref();
      }
    },
    step(what: string): void {
      step = what.trim();
      draw();
    },
    /** Anything else written to the terminal goes through here, above the status line. */
    print(write: () => void): void {
      clear();
      write();
      draw();
    },
    done(): void {
      clearInterval(timer);
      timer = undefined;
      head = '';
      clear();
    },
  };
}

const status = progress(process.stderr);

const log = (line: string): void => {
  status.print(() => process.stderr.write(`${line}\n`));
};

/** A child's stderr, line by line through log(); its last line is the step under way. */
function forward(stream: Readable): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) log(l);
    const last = lines.filter((l) => l.trim()).at(-1);
    if (last) status.step(last);
  });
  stream.on('end', () => {
    if (rest) log(rest);
  });
}

// ── helpers ──────────────────────────────────────────────────────────────────

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function rotate<T>(xs: readonly T[], by: number): T[] {
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

const int = (n: number): string =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
const fixed = (n: number, d = 1): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const ratio = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
const kib = (bytes: number): string =>
  Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(2)} KiB` : 'n/a';

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout?: () => void) {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new Error(`${what}: no answer within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ── child processes ──────────────────────────────────────────────────────────

interface Mem {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

class Server {
  private constructor(
    readonly kind: string,
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(kind: string, args: string[] = [], fds = 0): Promise<Server> {
    const { cmd, pre } = withFds(fds);
    const child = fork(SERVER, [kind, ...args], {
      execPath: cmd,
      execArgv: [...pre, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        child.on('message', (m: { ready?: number }) => {
          if (m.ready) resolve(m.ready);
        });
        child.once('exit', (code) => reject(new Error(`${kind} server exited (${code})`)));
      }),
      20_000,
      `${kind} server start`,
      () => child.kill('SIGKILL'),
    );
    return new Server(kind, child, port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** CPU time (user + system) the server has used so far, µs. */
  cpu(): Promise<number> {
    return withTimeout(
      new Promise((resolve) => {
        const on = (m: { cpu?: number }) => {
          if (m.cpu === undefined) return;
          this.child.removeListener('message', on);
          resolve(m.cpu);
        };
        this.child.on('message', on);
        this.child.send({ cmd: 'cpu' });
      }),
      10_000,
      `${this.kind} cpu report`,
    );
  }

  mem(): Promise<{ mem: Mem; conns: number }> {
    return withTimeout(
      new Promise((resolve) => {
        const on = (m: { mem?: Mem; conns?: number }) => {
          if (!m.mem) return;
          this.child.removeListener('message', on);
          resolve({ mem: m.mem, conns: m.conns ?? 0 });
        };
        this.child.on('message', on);
        this.child.send({ cmd: 'mem' });
      }),
      30_000,
      `${this.kind} memory report`,
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    await withTimeout(exited, 5000, `${this.kind} server stop`, () =>
      this.child.kill('SIGKILL'),
    ).catch(() => {});
  }
}

/** Run a node script to completion and parse the last JSON line it prints. */
async function runJson<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
    timeoutMs,
    script,
    () => child.kill('SIGKILL'),
  );
  const line = out.trim().split('\n').filter(Boolean).pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) {
    throw new Error(`${script} ${args.join(' ')} failed (${code}): ${err.trim() || out.trim()}`);
  }
  return JSON.parse(line) as T;
}

// ── report ───────────────────────────────────────────────────────────────────

const report: string[] = [];
const json: Record<string, unknown> = {};

function emit(md: string): void {
  report.push(md);
  status.print(() => console.log(`${md}\n`));
}

function machine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    rounds: ROUNDS,
    secondsPerMeasurement: SECONDS,
  };
}

// ── sections ─────────────────────────────────────────────────────────────────

interface EchoOut {
  msgsPerSec: number;
  MBps: number;
  seconds: number;
  errors: number;
  /** Server CPU time per echoed message, µs (added here, from the server's own count). */
  cpuUs: number;
}

const ECHO_CASES = [
  { label: '32 B', size: 32, window: 64 },
  { label: '1 KiB', size: 1024, window: 64 },
  { label: '64 KiB', size: 64 * 1024, window: 8 },
  { label: '1 MiB', size: 1024 * 1024, window: 2 },
];
const ECHO_KINDS = ['omniws', 'ws', 'raw'] as const;

async function echoRun(
  server: Server,
  size: number,
  window: number,
  binary: boolean,
  s: number,
): Promise<EchoOut> {
  const args = ['--url', server.url, '--conns', String(ECHO_CONNS), '--size', String(size)];
  args.push('--window', String(window), '--seconds', String(s));
  if (binary) args.push('--binary');
  const cpu0 = await server.cpu();
  const out = await runJson<EchoOut>(LOADGEN, args, (s + 60) * 1000);
  const cpu1 = await server.cpu();
  // includes the connection setup and teardown around the timed window: small, and alike for all
  out.cpuUs = (cpu1 - cpu0) / Math.max(1, out.msgsPerSec * out.seconds);
  return out;
}

async function echo(): Promise<void> {
  log(
    `echo: ${ECHO_KINDS.join(', ')}; ${ECHO_CONNS} connections, ${ROUNDS} round(s) of ${SECONDS} s`,
  );
  const servers = new Map<string, Server>();
  try {
    status.step('starting the servers');
    for (const k of ECHO_KINDS) servers.set(k, await Server.start(k));
    // JIT warm-up, not reported
    status.step('warming up');
    for (const k of ECHO_KINDS) {
      await echoRun(servers.get(k)!, 1024, 16, false, 1);
      await echoRun(servers.get(k)!, 64 * 1024, 4, true, 0.5);
    }
    const rows: string[][] = [];
    const results: unknown[] = [];
    for (const binary of [false, true]) {
      for (const c of ECHO_CASES) {
        const per: Record<string, EchoOut[]> = { omniws: [], ws: [], raw: [] };
        const vsWs: number[] = [];
        const vsRaw: number[] = [];
        const cpuVsWs: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const got: Record<string, number> = {};
          for (const k of rotate(ECHO_KINDS, r)) {
            status.step(`${binary ? 'binary' : 'text'} ${c.label}, round ${r + 1}/${ROUNDS}, ${k}`);
            const out = await echoRun(servers.get(k)!, c.size, c.window, binary, SECONDS);
            per[k]!.push(out);
            got[k] = out.msgsPerSec;
            log(
              `  ${binary ? 'binary' : 'text'} ${c.label} round ${r + 1} ${k}: ${int(out.msgsPerSec)} msg/s ${fixed(out.MBps)} MB/s${out.errors ? ` (${out.errors} errors)` : ''}`,
            );
          }
          vsWs.push(got.omniws! / got.ws!);
          vsRaw.push(got.omniws! / got.raw!);
          cpuVsWs.push(per.ws!.at(-1)!.cpuUs / per.omniws!.at(-1)!.cpuUs);
        }
        const med = (k: string, f: keyof EchoOut) => median(per[k]!.map((o) => o[f]));
        const cell = (k: string) => `${int(med(k, 'msgsPerSec'))} (${fixed(med(k, 'MBps'))} MB/s)`;
        rows.push([
          `${binary ? 'binary' : 'text'} ${c.label}`,
          cell('omniws'),
          cell('ws'),
          cell('raw'),
          ratio(median(vsWs)),
          ratio(median(vsRaw)),
          `${fixed(med('omniws', 'cpuUs'), 2)} / ${fixed(med('ws', 'cpuUs'), 2)} (${ratio(median(cpuVsWs))})`,
        ]);
        results.push({
          type: binary ? 'binary' : 'text',
          size: c.size,
          window: c.window,
          runs: per,
          omniwsVsWs: vsWs,
          omniwsVsRaw: vsRaw,
          wsCpuOverOmniwsCpu: cpuVsWs,
        });
        summary.echo[`${binary ? 'binary' : 'text'} ${c.label}`] = median(vsWs);
      }
    }
    json.echo = results;
    emit(
      `### HTTP/1.1 echo — ${ECHO_CONNS} connections, messages/s (MB/s), median of ${ROUNDS}\n\n` +
        `Window per connection: 64 messages (32 B, 1 KiB), 8 (64 KiB), 2 (1 MiB). ` +
        'Ratios are medians of the per-round ratios; MB/s ratios equal msg/s ratios. ' +
        'The last column is server CPU time per echoed message, omniws / ws in µs, and how ' +
        'many times less omniws used (steadier than throughput on a shared machine). ' +
        `ws: perMessageDeflate off, \`ws.send(data, { binary })\` on 'message'; ` +
        'omniws: `handleIn: (m, s) => reply(s, m.data)`; raw: a TCP echo after a hand-written 101.\n\n' +
        table(
          [
            'message',
            'omniws',
            'ws',
            'raw TCP echo',
            'omniws / ws',
            'omniws / raw',
            'CPU µs/msg omniws / ws',
          ],
          rows,
        ),
    );
  } finally {
    for (const s of servers.values()) await s.stop();
  }
}

const MEM_KINDS = ['omniws', 'omniws-hibernate', 'ws', 'http-raw'] as const;
const IDLE_MESSAGE = 2048;

async function memory(): Promise<void> {
  const { hard } = fdLimits();
  let conns = IDLE_CONNS;
  if (hard < conns + 200) {
    conns = Math.max(100, Math.floor(hard) - 200);
    log(`memory: the hard fd limit is ${hard}; using ${conns} connections`);
  }
  const fds = conns + 200;
  log(`memory: ${conns} idle connections per server`);
  const rows: string[][] = [];
  const results: unknown[] = [];
  let floor: { heap: number } | undefined;
  for (const deflate of [false, true]) {
    const per: Record<string, { rss: number; heap: number; external: number; conns: number }> = {};
    for (const kind of MEM_KINDS) {
      // the floor does not negotiate extensions: measured once
      if (deflate && kind === 'http-raw') continue;
      status.step(`${kind}${deflate ? ' +deflate' : ''}: opening ${conns} connections`);
      const server = await Server.start(kind, deflate ? ['--deflate'] : [], fds);
      try {
        const before = await server.mem();
        const { cmd, pre } = withFds(fds);
        const args = ['--mode', 'idle', '--url', server.url, '--conns', String(conns)];
        args.push('--size', String(IDLE_MESSAGE));
        if (deflate) args.push('--deflate');
        const lg = spawn(cmd, [...pre, LOADGEN, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        const opened = await withTimeout(
          new Promise<{ upgraded: number; echoed: number }>((resolve, reject) => {
            lg.stdout.on('data', (d) => {
              out += d;
              const line = out.split('\n').find((l) => l.startsWith('{'));
              if (line) resolve(JSON.parse(line));
            });
            lg.once('exit', (c) => reject(new Error(`idle load generator exited (${c})`)));
          }),
          180_000,
          'idle connections',
          () => lg.kill('SIGKILL'),
        );
        await new Promise((r) => setTimeout(r, 1000));
        const after = await server.mem();
        lg.stdin.end();
        await withTimeout(
          new Promise((r) => lg.once('exit', r)),
          10_000,
          'idle load generator exit',
          () => lg.kill('SIGKILL'),
        ).catch(() => {});
        const n = after.conns;
        per[kind] = {
          rss: (after.mem.rss - before.mem.rss) / n,
          heap: (after.mem.heapUsed - before.mem.heapUsed) / n,
          external: (after.mem.external - before.mem.external) / n,
          conns: n,
        };
        log(
          `  ${kind}${deflate ? ' +deflate' : ''}: ${n} open (${opened.echoed} echoed), ` +
            `RSS ${kib(per[kind].rss)}/conn, heap ${kib(per[kind].heap)}/conn`,
        );
      } finally {
        await server.stop();
      }
    }
    if (per['http-raw']) floor = per['http-raw'];
    const ws = per.ws!;
    for (const kind of MEM_KINDS) {
      const p = per[kind];
      if (!p) continue;
      const vs = kind.startsWith('omniws');
      rows.push([
        kind === 'http-raw' ? 'node:http upgrade + raw echo (floor)' : kind,
        kind === 'http-raw' ? '' : deflate ? 'on' : 'off',
        String(p.conns),
        kib(p.rss),
        kib(p.heap),
        floor && kind !== 'http-raw' ? kib(p.heap - floor.heap) : '',
        kib(p.external),
        vs ? ratio(p.rss / ws.rss) : '',
        vs ? ratio(p.heap / ws.heap) : '',
      ]);
    }
    results.push({ deflate, perConnection: per });
    for (const kind of MEM_KINDS) {
      const p = per[kind];
      if (p && kind.startsWith('omniws')) {
        summary.memory[`${kind}${deflate ? ' +deflate' : ''}`] = {
          rssVsWs: p.rss / ws.rss,
          heap: p.heap,
        };
      }
    }
  }
  json.memory = { conns, message: IDLE_MESSAGE, results };
  emit(
    `### Idle memory — ${conns} connections, per connection (one process per row)\n\n` +
      `Each connection upgrades, exchanges one ${IDLE_MESSAGE / 1024} KiB text message ` +
      '(sent compressed when deflate is on; context takeover, so both zlib contexts stay), ' +
      'then stays idle. Deltas of RSS and of the JS heap after two full GCs, divided by ' +
      'the open connections. omniws-hibernate answers with `{ hibernate: true }`. The floor ' +
      'is a node:http server that answers the upgrade by hand and echoes raw bytes: what ' +
      'the socket and node:http keep per connection before any WebSocket code.\n\n' +
      table(
        [
          'server',
          'deflate',
          'conns',
          'RSS / conn',
          'JS heap / conn',
          'heap over floor',
          'external / conn',
          'RSS vs ws',
          'heap vs ws',
        ],
        rows,
      ),
  );
}

async function codec(): Promise<void> {
  const script = join(HERE, 'codec.js');
  const impls = ['omniws', 'ws'];
  const per: Record<string, number[]> = { omniws: [], ws: [] };
  const ratios: number[] = [];
  log(`codec: 16 KiB text frames, ${ROUNDS} round(s)`);
  const s = Math.min(SECONDS, 2);
  for (let r = 0; r < ROUNDS; r++) {
    const got: Record<string, number> = {};
    for (const impl of rotate(impls, r)) {
      status.step(`round ${r + 1}/${ROUNDS}, ${impl}`);
      const out = await runJson<{ MBps: number }>(
        script,
        [impl, '--seconds', String(s)],
        (s + 30) * 1000,
      );
      per[impl]!.push(out.MBps);
      got[impl] = out.MBps;
      log(`  round ${r + 1} ${impl}: ${fixed(out.MBps)} MB/s`);
    }
    ratios.push(got.omniws! / got.ws!);
  }
  json.codec = { per, ratios };
  emit(
    `### Codec — decode + unmask + UTF-8 validate, 16 KiB masked text frames in 64 KiB chunks, MB/s, median of ${ROUNDS}\n\n` +
      table(
        ['decoder', 'MB/s', 'vs ws'],
        [
          ['omniws Protocol', fixed(median(per.omniws!)), ratio(median(ratios))],
          ['ws Receiver (no bufferutil)', fixed(median(per.ws!)), ''],
        ],
      ),
  );
}

async function setup(certs: string | undefined): Promise<void> {
  const kinds = ['omniws', 'ws', 'raw'];
  const per: Record<string, number[]> = { omniws: [], ws: [], raw: [] };
  const cpu: Record<string, number[]> = { omniws: [], ws: [], raw: [] };
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  log(`setup: handshakes/s, 16 concurrent loops, ${ROUNDS} round(s)`);
  const servers = new Map<string, Server>();
  const rows: string[][] = [];
  try {
    for (const k of kinds) servers.set(k, await Server.start(k));
    for (const k of kinds) {
      const args = ['--mode', 'setup', '--url', servers.get(k)!.url, '--seconds', '0.5'];
      await runJson(LOADGEN, args, 30_000);
    }
    for (let r = 0; r < ROUNDS; r++) {
      const got: Record<string, number> = {};
      const gotCpu: Record<string, number> = {};
      for (const k of rotate(kinds, r)) {
        status.step(`h1, round ${r + 1}/${ROUNDS}, ${k}`);
        const server = servers.get(k)!;
        const args = ['--mode', 'setup', '--url', server.url, '--conns', '16'];
        args.push('--seconds', String(SECONDS));
        const cpu0 = await server.cpu();
        const out = await runJson<{ perSec: number; seconds: number }>(
          LOADGEN,
          args,
          (SECONDS + 30) * 1000,
        );
        const us = ((await server.cpu()) - cpu0) / Math.max(1, out.perSec * out.seconds);
        per[k]!.push(out.perSec);
        cpu[k]!.push(us);
        got[k] = out.perSec;
        gotCpu[k] = us;
        log(`  h1 round ${r + 1} ${k}: ${int(out.perSec)}/s, ${fixed(us)} µs CPU each`);
      }
      ratios.push(got.omniws! / got.ws!);
      cpuRatios.push(gotCpu.ws! / gotCpu.omniws!);
    }
  } finally {
    for (const s of servers.values()) await s.stop();
  }
  const us = (k: string) => fixed(median(cpu[k]!));
  rows.push(
    [
      'h1 omniws (raw client)',
      int(median(per.omniws!)),
      us('omniws'),
      `${ratio(median(ratios))} rate, ${ratio(median(cpuRatios))} CPU efficiency`,
    ],
    ['h1 ws (raw client)', int(median(per.ws!)), us('ws'), ''],
    ['h1 raw 101 (the limit)', int(median(per.raw!)), us('raw'), ''],
  );
  const result: Record<string, unknown> = { h1: { per, cpu, ratios, cpuRatios } };
  if (certs) {
    const server = await Server.start('omniws-tls', ['--certs', certs]);
    const h2per: Record<string, number[]> = { '1': [], '2': [] };
    const h2ratios: number[] = [];
    try {
      const url = `wss://localhost:${server.port}/`;
      const script = join(HERE, 'h2-setup.js');
      const run = (http: string, s: number) =>
        runJson<{ perSec: number }>(
          script,
          ['--url', url, '--ca', join(certs, 'ca.pem'), '--http', http, '--seconds', String(s)],
          (s + 30) * 1000,
        );
      await run('2', 0.5);
      await run('1', 0.5);
      for (let r = 0; r < ROUNDS; r++) {
        const got: Record<string, number> = {};
        for (const http of rotate(['2', '1'], r)) {
          status.step(`TLS, round ${r + 1}/${ROUNDS}, h${http}`);
          const out = await run(http, SECONDS);
          h2per[http]!.push(out.perSec);
          got[http] = out.perSec;
          log(`  tls round ${r + 1} h${http}: ${int(out.perSec)}/s`);
        }
        h2ratios.push(got['2']! / got['1']!);
      }
    } finally {
      await server.stop();
    }
    rows.push(
      [
        'h2 omniws, streams on one session (omniws client, TLS)',
        int(median(h2per['2']!)),
        '',
        `${ratio(median(h2ratios))} of h1 over TLS`,
      ],
      ['h1 omniws, one TLS connection each (omniws client)', int(median(h2per['1']!)), '', ''],
    );
    result.h2 = { per: h2per, ratios: h2ratios };
  }
  json.setup = result;
  emit(
    `### Connection setup — WebSocket handshakes per second, 16 concurrent loops, median of ${ROUNDS}\n\n` +
      'h1 with the raw client: connect, upgrade, reset. With the omniws client: connect, ' +
      'upgrade, close handshake. CPU: server CPU time per handshake (accept, parse, 101, ' +
      'session, close).\n\n' +
      table(['server', 'handshakes/s', 'server CPU µs each', 'omniws vs ws'], rows),
  );
}

/**
 * Another engineer's bench script (bench/h2.ts, bench/h3.ts), run as is. Its table is
 * kept as printed; in each row the rightmost ratio (0.84) or percentage (54%) is parsed.
 */
async function external(section: 'h2' | 'h3'): Promise<void> {
  const script = join(HERE, `${section}.js`);
  if (!existsSync(script)) {
    log(`${section}: bench/${section}.ts does not exist yet; skipped`);
    emit(`### ${section}\n\nNot measured: bench/${section}.ts does not exist yet.`);
    json[section] = null;
    return;
  }
  log(`${section}: running bench/${section}.ts`);
  const child = spawn(process.execPath, [script, '--seconds', String(Math.min(SECONDS, 2))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  forward(child.stderr);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    // its table grows a row per case: the last line printed is the latest step
    const last = out
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('| -'))
      .at(-1);
    if (last) status.step(last.replace(/[|\s]+/g, ' '));
  });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', resolve)),
    240_000,
    `bench/${section}.ts`,
    () => child.kill('SIGKILL'),
  ).catch((err: Error) => {
    out += `\n${err.message}`;
    return -1;
  });
  const ratios: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const cells = line.includes('|')
      ? line
          .split('|')
          .map((c) => c.trim())
          .filter(Boolean)
      : line.split(/\s{2,}/).map((c) => c.trim());
    // the rightmost cell that is a ratio or a percentage (columns after it, such as h3's
    // datagrams per echo, are kept in the table but are not the ratio)
    const found = cells
      .slice(1)
      .reverse()
      .map((c) => /^(\d+(?:\.\d+)?)(%?)$/.exec(c))
      .find((x) => x !== null);
    const m = found ?? null;
    if (!m || cells.length < 3) continue;
    ratios[cells[0]!] = Number(m[1]) / (m[2] ? 100 : 1);
  }
  summary[section] = ratios;
  json[section] = { exit: code, output: out, ratios };
  const body = out.trim();
  emit(
    `### ${section} (bench/${section}.ts${code === 0 ? '' : `, exit ${code}`})\n\n` +
      // a markdown table is kept as a table (after a blank line), anything else verbatim
      (body.includes('| -') ? body.replace(/\n\|/, '\n\n|') : `\`\`\`\n${body}\n\`\`\``),
  );
}

/**
 * A section script of its own (bench/fanout.ts: issue #17; bench/scale.ts: issue #18),
 * in its own process. Its markdown is kept as printed; its JSON (in a trailing comment)
 * goes to latest.json.
 */
async function script(name: 'fanout' | 'scale' | 'lab' | 'webtransport'): Promise<void> {
  log(`${name}: running bench/${name}.ts`);
  const child = spawn(
    process.execPath,
    [join(HERE, `${name}.js`), '--rounds', String(ROUNDS), '--seconds', String(SECONDS)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  forward(child.stderr);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('close', resolve)),
    900_000,
    `bench/${name}.ts`,
    () => child.kill('SIGKILL'),
  );
  const m = /<!-- json (.*) -->/.exec(out);
  json[name] = m ? JSON.parse(m[1]!) : { exit: code, output: out };
  const body = out.replace(/<!-- json .* -->/, '').trim();
  emit(code === 0 ? body : `### ${name}\n\nFailed in this run (exit ${code}):\n\n${body}`);
  if (code !== 0) process.exitCode = 1;
}

// ── targets (issue #7) ───────────────────────────────────────────────────────

const summary: {
  echo: Record<string, number>;
  memory: Record<string, { rssVsWs: number; heap: number }>;
  h2?: Record<string, number>;
  h3?: Record<string, number>;
} = { echo: {}, memory: {} };

function targets(): void {
  const rows: string[][] = [];
  const check = (what: string, got: number | undefined, ok: (x: number) => boolean, f: string) => {
    if (got === undefined || !Number.isFinite(got)) return;
    rows.push([what, f, ok(got) ? 'met' : '**not met**']);
  };
  for (const type of ['text', 'binary']) {
    const e = (l: string) => summary.echo[`${type} ${l}`];
    check(`${type} 32 B echo ≥ 3× ws msg/s`, e('32 B'), (x) => x >= 3, ratio(e('32 B')!));
    check(`${type} 64 KiB echo ≥ 1.5× ws MB/s`, e('64 KiB'), (x) => x >= 1.5, ratio(e('64 KiB')!));
    check(`${type} 1 MiB echo ≥ 1.2× ws MB/s`, e('1 MiB'), (x) => x >= 1.2, ratio(e('1 MiB')!));
  }
  for (const [k, v] of Object.entries(summary.memory)) {
    check(`${k}: idle RSS ≤ 0.5× ws`, v.rssVsWs, (x) => x <= 0.5, ratio(v.rssVsWs));
    if (k.includes('hibernate')) {
      check(`${k}: JS heap ≤ 2 KiB/conn`, v.heap, (x) => x <= 2048, kib(v.heap));
    }
  }
  for (const [k, v] of Object.entries(summary.h2 ?? {})) {
    check(`h2 echo ≥ 0.5× h1 (${k})`, v, (x) => x >= 0.5, ratio(v));
  }
  for (const [k, v] of Object.entries(summary.h3 ?? {})) {
    check(`h3 echo ≥ 0.7× raw QUIC (${k})`, v, (x) => x >= 0.7, ratio(v));
  }
  if (rows.length === 0) return;
  json.targets = rows;
  emit(`### Targets of issue #7 (this run)\n\n${table(['target', 'measured', ''], rows)}`);
}

// ── main ─────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const m = machine();
  json.machine = m;
  const deadline = setTimeout(
    () => {
      console.error('bench: over 30 minutes; giving up');
      process.exit(1);
    },
    30 * 60 * 1000,
  );
  deadline.unref();
  emit(
    '## omniws benchmarks\n\n' +
      `${m.cpu} (${m.cores} cores), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, ${m.date}\n\n` +
      `Command: \`${m.command}\` — ${ROUNDS} round(s), ${SECONDS} s per measurement, loopback.`,
  );
  const want = (s: Section) => only.includes(s);
  let certs: string | undefined;
  let tmp: string | undefined;
  try {
    if (want('setup') && existsSync(join(HERE, 'h2-setup.js'))) {
      status.section('certificates', 0, only.length);
      tmp = mkdtempSync(join(os.tmpdir(), 'omniws-bench-'));
      certs = (await ensureCerts(tmp)).dir;
    }
    // a section that fails (a server that does not start, another engineer's code in
    // flux) is reported and the run goes on
    const sections: [Section, () => Promise<void>][] = [
      ['echo', echo],
      ['memory', memory],
      ['codec', codec],
      ['setup', () => setup(certs)],
      ['h2', () => external('h2')],
      ['h3', () => external('h3')],
      ['fanout', () => script('fanout')],
      ['scale', () => script('scale')],
      ['lab', () => script('lab')],
      ['webtransport', () => script('webtransport')],
    ];
    const wanted = sections.filter(([name]) => want(name));
    for (const [i, [name, run]] of wanted.entries()) {
      status.section(name, i + 1, wanted.length);
      try {
        await run();
      } catch (err) {
        const msg = (err as Error).message.split('\n').slice(0, 3).join(' ');
        log(`${name}: failed: ${msg}`);
        process.exitCode = 1;
        emit(`### ${name}\n\nFailed in this run: ${msg}`);
      }
    }
    targets();
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    status.done();
  }
  // a full run is `latest`; quick and partial runs do not overwrite it
  const name = `${QUICK ? 'quick' : 'latest'}${opt('only') ? `-${only.join('+')}` : ''}`;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.md`), `${report.join('\n\n')}\n`);
  const jsonPath = join(RESULTS, `${name}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  // in the project's own format, so that `biome ci` (npm test) accepts the committed file
  spawnSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', jsonPath], {
    stdio: 'ignore',
  });
  log(`wrote bench/results/${name}.md and ${name}.json`);
  // loaded here, after the measurements: Vega is large and none of them needs it
  const { renderResultCharts } = await import('./charts.js');
  try {
    const svgs = await renderResultCharts(jsonPath);
    log(`wrote ${svgs.map((p) => `bench/results/${basename(p)}`).join(', ') || 'no chart'}`);
  } catch (err) {
    log(`charts: failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
