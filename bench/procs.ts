// Child processes for the benchmarks: file-descriptor limits, CPU time read from
// /proc (so that servers we did not write, such as Bun, are measured the same way as
// ours), free ports, and a child that is ready once it prints a line.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** The soft fd limit a child starts with, and the hard one (sh -c 'ulimit -n'). */
export function fdLimits(): { soft: number; hard: number } {
  const q = (o: string) =>
    Number(spawnSync('sh', ['-c', `ulimit ${o}`], { encoding: 'utf8' }).stdout.trim());
  const soft = q('-n');
  const hardRaw = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const hard = hardRaw === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hardRaw);
  return { soft: Number.isFinite(soft) ? soft : 1024, hard };
}

/** Command prefix that starts `exe` with `need` file descriptors (or the hard limit, if lower). */
export function withFds(need: number, exe = process.execPath): { cmd: string; pre: string[] } {
  const { soft, hard } = fdLimits();
  if (soft >= need) return { cmd: exe, pre: [] };
  const n = Math.min(need, hard);
  return { cmd: 'sh', pre: ['-c', `ulimit -n ${n} && exec "$0" "$@"`, exe] };
}

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

/** CPU time (user + system) process `pid` has used so far, µs; NaN when unreadable. */
export function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name (which may hold spaces) in parentheses
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_US;
  } catch {
    return Number.NaN;
  }
}

/** The processes whose parent is `pid` now (the workers of a cluster's primary). */
export function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) kids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return kids;
}

/** A free TCP port on 127.0.0.1 (also free for UDP, most likely: asked again by the server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A child process that is ready once a line of its standard output matches `ready`. */
export async function startChild(
  cmd: string,
  args: string[],
  ready: RegExp,
  what: string,
  timeoutMs = 30_000,
): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: not ready within ${timeoutMs} ms: ${err.trim() || out.trim()}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      if (!ready.test(out)) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}): ${err.trim() || out.trim()}`));
    });
  });
  return child;
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
