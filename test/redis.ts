// A real redis-server for tests (Debian's redis-server, installed by scripts/test-deps.mjs):
// on a free loopback port, persistence off, stopped after; it can be killed and restarted
// on the same port to cut every client off.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freeTcpPort } from './serve-process.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Why redis-server cannot run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  if (existsSync(REDIS_SERVER)) return undefined;
  return `${REDIS_SERVER} is missing: scripts/test-deps.mjs installs Debian's redis-server with apt-get (npm test runs it)`;
}

/**
 * A file's shared Redis, started once in `test.before` (`startRedis()` when redis-server
 * is there): each test asks for it, and fails saying what is missing when it is not.
 */
export function sharedRedis(test: {
  before(f: () => Promise<void>): void;
  after: { always(f: () => Promise<void> | undefined): void };
}) {
  let redis: TestRedis | undefined;
  test.before(async () => {
    if (!redisMissing()) redis = await startRedis();
  });
  test.after.always(() => redis?.stop());
  return (t: { fail(m: string): void }): TestRedis | undefined => {
    const missing = redisMissing();
    if (missing || !redis) t.fail(missing ?? 'redis-server did not start');
    return redis;
  };
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** SIGKILL: every client's connection drops at once. */
  kill(): Promise<void>;
  /** Start again on the same port (empty: nothing was persisted). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

function launch(port: number): Promise<ChildProcess> {
  const p = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`redis-server did not start: ${out}`));
    }, 10_000);
    p.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${out}`));
    });
  });
}

async function end(p: ChildProcess | null, signal: NodeJS.Signals): Promise<void> {
  if (p === null || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill(signal);
  await gone;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freeTcpPort();
  let proc: ChildProcess | null = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      await end(proc, 'SIGKILL');
      proc = null;
    },
    async start() {
      proc = await launch(port);
    },
    async stop() {
      await end(proc, 'SIGTERM');
      proc = null;
    },
  };
}
