// Running load generators against servers we start as child processes, measured from
// outside: each generator's own count (the last JSON line it prints), and the CPU time
// of the servers and of the generators from /proc over the generators' counting window.
// Tables and medians for the reports. Used by bench/fanout.ts and bench/scale.ts.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuOf } from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/bench

/** Where the section scripts find what they run. */
export const paths = {
  /** The compiled bench scripts (dist/bench). */
  here: HERE,
  /** The checkout. */
  root: join(HERE, '..', '..'),
  /** ../shared beside the checkout (OMNIWS_SHARED to put it elsewhere). */
  shared: process.env.OMNIWS_SHARED ?? join(HERE, '..', '..', '..', 'shared'),
  /** The `omniws` command. */
  cli: join(HERE, '..', '..', 'bin', 'omniws.js'),
};
/** The neutral fan-out load generator of ../shared/bench. */
export const FANOUT = join(paths.shared, 'bench', 'fanout.mjs');

/** A section script's flags: `--rounds R`, `--seconds S` (3 and 3), and any other by name. */
export function benchArgs(argv = process.argv.slice(2)) {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    opt,
    flag: (name: string) => argv.includes(`--${name}`),
    rounds: Number(opt('rounds') ?? 3),
    seconds: Number(opt('seconds') ?? 3),
  };
}

/** Progress, on standard error (standard output is the report). */
export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export const int = (n: number): string =>
  Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a';
export const fixed = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
export const ratio = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}×` : 'n/a');
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** One load generator: a command whose last line of output is its JSON result. */
export interface Load {
  cmd: string;
  args: string[];
  /** The field of its result to add up (default deliveriesPerSec). */
  field?: string;
}

export interface Run {
  /** The generators' counts added up, per second. */
  perSec: number;
  /** Server CPU time (every server process) per counted unit over the window, µs. */
  serverUs: number;
  /** The generators' CPU over the window, in cores (1 = one core busy). */
  loadCpu: number;
  errors: number;
}

/**
 * Run `loads` at once, sampling the CPU of `servers()` and of the generators every 50 ms.
 * Each generator counts for its last `seconds` before it prints; the window measured
 * spans all of those windows.
 */
export async function runLoads(
  servers: () => readonly number[],
  loads: readonly Load[],
  seconds: number,
): Promise<Run> {
  const started = loads.map((l) => {
    const child = spawn(l.cmd, l.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = { child, out: '', err: '', printedAt: 0, field: l.field ?? 'deliveriesPerSec' };
    child.stdout!.on('data', (d) => {
      if (r.printedAt === 0) r.printedAt = performance.now();
      r.out += d;
    });
    child.stderr!.on('data', (d) => {
      r.err += d;
    });
    return r;
  });
  const samples: { t: number; server: number; load: number }[] = [];
  const sample = () => {
    const server = servers().reduce((a, pid) => a + cpuOf(pid), 0);
    const load = started.reduce((a, r) => a + cpuOf(r.child.pid), 0);
    samples.push({ t: performance.now(), server, load });
  };
  const timer = setInterval(sample, 50);
  const codes = await Promise.all(
    started.map(
      (r) =>
        new Promise<number | null>((resolve) => {
          const kill = setTimeout(() => r.child.kill('SIGKILL'), (seconds + 180) * 1000);
          r.child.once('close', (c) => {
            clearTimeout(kill);
            resolve(c);
          });
        }),
    ),
  );
  clearInterval(timer);
  let perSec = 0;
  let errors = 0;
  for (const [i, r] of started.entries()) {
    const line = r.out.trim().split('\n').pop() ?? '';
    if (codes[i] !== 0 || !line.startsWith('{')) {
      throw new Error(`load generator failed (${codes[i]}): ${r.err.trim() || r.out.trim()}`);
    }
    const j = JSON.parse(line) as Record<string, number>;
    perSec += j[r.field] ?? 0;
    errors += j.errors ?? 0;
  }
  // the generators' windows, from the first start to the last end (they start together,
  // but one that takes longer to connect its clients counts later)
  const to = Math.max(...started.map((r) => r.printedAt));
  const from = Math.min(...started.map((r) => r.printedAt)) - seconds * 1000;
  const inside = samples.filter(
    (s) => s.t >= from && s.t <= to && Number.isFinite(s.server) && Number.isFinite(s.load),
  );
  let serverUs = Number.NaN;
  let loadCpu = Number.NaN;
  if (inside.length >= 2) {
    const a = inside[0]!;
    const b = inside.at(-1)!;
    const ms = b.t - a.t;
    serverUs = (b.server - a.server) / Math.max(1, (perSec * ms) / 1000);
    loadCpu = (b.load - a.load) / (ms * 1000);
  }
  return { perSec, serverUs, loadCpu, errors };
}
