// `omniws serve --workers 2` (issue #18): two processes behind the same TCP and UDP ports.
// HTTP/1.1, HTTP/2 and HTTP/3 clients spread over both and share the /pubsub rooms; 50
// HTTP/3 connections all succeed and echo; an HTTP/3 client whose source port changes
// keeps its WebSocket (its datagrams reach whichever worker reads them, which hands them
// to the owner); one worker stopped gracefully leaves the other's connections alone; with
// --redis the rooms also span a second omniws serve.

import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Agent } from '../../src/client/agent.js';
import { connect } from '../../src/client/connect.js';
import { type Message, ok } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { relay } from '../h3/helpers.js';
import { delay, until } from '../helpers.js';
import { redisMissing, startRedis } from '../redis.js';
import { freeTcpPort, killProcess, spawnServe } from '../serve-process.js';

interface Cluster {
  proc: ChildProcess;
  plain: number;
  tls: number;
  ca: Buffer;
  output: () => string;
}

async function startCluster(t: { teardown(f: () => Promise<void>): void }): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-workers-'));
  const plain = await freeTcpPort();
  const tls = await freeTcpPort();
  let out = '';
  const proc = await spawnServe(
    ['--port', String(plain), '--tls-port', String(tls), '--certs', dir, '--workers', '2'],
    'SIGUSR2 restarts them',
    (chunk) => {
      out += chunk;
    },
  );
  t.teardown(async () => {
    // the workers leave with their primary
    await killProcess(proc);
    await rm(dir, { recursive: true, force: true });
  });
  return { proc, plain, tls, ca: await readFile(join(dir, 'ca.pem')), output: () => out };
}

interface Member {
  session: Session<null>;
  got: Message[];
  /** The worker that serves it (announced first). */
  worker: number;
  http: string;
}

/** A WebSocket to `path?announce`, which first learns which worker serves it. */
async function member(url: string, http: 1 | 2 | 3, ca: Buffer, agent?: Agent): Promise<Member> {
  const got: Message[] = [];
  let announce!: (info: { worker: number; http: string }) => void;
  const announced = new Promise<{ worker: number; http: string }>((r) => {
    announce = r;
  });
  let first = true;
  const session = await connect(`${url}?announce`, {
    http,
    tls: { ca },
    ...(agent && { agent }),
    state: null,
    handler: {
      handleIn: (m, s) => {
        if (first) {
          first = false;
          announce(JSON.parse(String(m.data)));
        } else got.push(m);
        return ok(s);
      },
    },
  });
  const info = await announced;
  return { session, got, worker: info.worker, http: info.http };
}

test.serial(
  '--workers 2: h1, h2 and h3 spread over both workers and share the rooms',
  async (t) => {
    t.timeout(120_000);
    const c = await startCluster(t);
    const agents: Agent[] = [];
    t.teardown(() => {
      for (const a of agents) a.close();
    });
    const room = (port: number, secure: boolean) =>
      `${secure ? 'wss://localhost' : 'ws://127.0.0.1'}:${port}/pubsub/lobby`;
    const members: Member[] = [];
    for (let i = 0; i < 4; i++) members.push(await member(room(c.plain, false), 1, c.ca));
    for (let i = 0; i < 4; i++) {
      const agent = new Agent({ idleTimeout: 100 });
      agents.push(agent);
      members.push(await member(room(c.tls, true), 2, c.ca, agent));
    }
    for (let i = 0; i < 50; i++) {
      const agent = new Agent({ idleTimeout: 100 });
      agents.push(agent);
      members.push(await member(room(c.tls, true), 3, c.ca, agent));
    }
    for (const http of ['1.1', '2', '3']) {
      const workers = new Set(members.filter((m) => m.http === http).map((m) => m.worker));
      t.deepEqual([...workers].sort(), [0, 1], `HTTP/${http} connections on both workers`);
    }
    t.is(members.filter((m) => m.http === '3').length, 50, '50 HTTP/3 connections');

    // every member hears every other, across workers: each sends one message
    for (const [i, m] of members.entries()) m.session.send(`from ${i}`);
    const n = members.length;
    await until(() => members.every((m) => m.got.length === n), 30_000, 'every message everywhere');
    for (const m of members) {
      t.deepEqual(
        m.got.map((x) => String(x.data)).sort(),
        members.map((_, i) => `from ${i}`).sort(),
      );
    }
    await Promise.all(
      members.map((m) => {
        m.session.close(1000);
        return m.session.closed;
      }),
    );
  },
);

test.serial(
  '--workers 2: an HTTP/3 client whose source port changes keeps its WebSocket',
  async (t) => {
    t.timeout(60_000);
    const c = await startCluster(t);
    // several clients, each behind its own relay: some are owned by the worker that does not
    // read their datagrams after the port changes
    for (let k = 0; k < 6; k++) {
      const r = await relay(c.tls);
      t.teardown(() => r.close());
      const agent = new Agent({ idleTimeout: 50 });
      t.teardown(() => agent.close());
      const m = await member(`wss://localhost:${r.port}/echo`, 3, c.ca, agent);
      m.session.send('before');
      await until(() => m.got.length === 1, 5000, 'the echo before');
      await r.rebind();
      for (let i = 0; i < 10; i++) m.session.send(`after ${i}`);
      await until(
        () => m.got.length === 11,
        10_000,
        `the echoes after the rebinding (worker ${m.worker})`,
      );
      t.deepEqual(
        m.got.map((x) => String(x.data)),
        ['before', ...Array.from({ length: 10 }, (_, i) => `after ${i}`)],
      );
      m.session.close(1000);
      t.like(await m.session.closed, { code: 1000, wasClean: true });
    }
  },
);

test.serial(
  '--workers 2: a worker stopped gracefully closes its own WebSockets (1001), the other carries on',
  async (t) => {
    t.timeout(60_000);
    const c = await startCluster(t);
    const members: Member[] = [];
    while (new Set(members.map((m) => m.worker)).size < 2) {
      members.push(await member(`ws://127.0.0.1:${c.plain}/echo`, 1, c.ca));
    }
    const pids = /pids (\d+), (\d+)/.exec(c.output())!;
    const target = members[0]!.worker;
    const stayed = members.filter((m) => m.worker !== target);
    const stopped = members.filter((m) => m.worker === target);
    process.kill(Number(pids[1 + target]), 'SIGTERM');
    for (const m of stopped) t.like(await m.session.closed, { code: 1001 });
    // the other worker's connections echo on, through the restart
    for (let i = 0; i < 20; i++) {
      for (const m of stayed) m.session.send(`still ${i}`);
      await delay(25);
    }
    await until(
      () => stayed.every((m) => m.got.length === 20),
      5000,
      'the echoes on the other worker',
    );
    // and the slot serves again: new connections reach both workers
    const later: Member[] = [];
    const deadline = Date.now() + 15_000;
    while (new Set(later.map((m) => m.worker)).size < 2 && Date.now() < deadline) {
      try {
        later.push(await member(`ws://127.0.0.1:${c.plain}/echo`, 1, c.ca));
      } catch {
        await delay(100);
      }
    }
    t.deepEqual([...new Set(later.map((m) => m.worker))].sort(), [0, 1]);
    for (const m of [...stayed, ...later]) m.session.close(1000);
  },
);

test.serial(
  '--workers 2 --redis: the rooms span both workers and a second omniws serve on another port',
  async (t) => {
    t.timeout(90_000);
    const missing = redisMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const dir = await mkdtemp(join(tmpdir(), 'omniws-workers-redis-'));
    const [p1, p2] = [await freeTcpPort(), await freeTcpPort()];
    const clustered = await spawnServe(
      ['--tls-port', String(p1), '--certs', dir, '--workers', '2', '--redis', redis.url],
      'SIGUSR2 restarts them',
    );
    const second = await spawnServe(
      ['--port', String(p2), '--redis', redis.url],
      'listening ws://',
    );
    t.teardown(async () => {
      await killProcess(clustered);
      await killProcess(second);
      await rm(dir, { recursive: true, force: true });
    });
    const ca = await readFile(join(dir, 'ca.pem'));
    const agents: Agent[] = [];
    t.teardown(() => {
      for (const a of agents) a.close();
    });
    const members: Member[] = [];
    // h1, h2 and h3 members of the clustered server until both workers have some
    for (let i = 0; i < 24 || new Set(members.map((m) => m.worker)).size < 2; i++) {
      if (i > 100) break;
      const agent = new Agent({ idleTimeout: 100 });
      agents.push(agent);
      const http = ((i % 3) + 1) as 1 | 2 | 3;
      members.push(await member(`wss://localhost:${p1}/pubsub/hall`, http, ca, agent));
    }
    t.deepEqual([...new Set(members.map((m) => m.worker))].sort(), [0, 1]);
    // and members of the second server (one process: no worker field)
    for (let i = 0; i < 4; i++)
      members.push(await member(`ws://127.0.0.1:${p2}/pubsub/hall`, 1, ca));
    // every process's subscription is in place once a publish from each reaches everyone
    const warm = async () => {
      for (let round = 0; round < 100; round++) {
        for (const m of members) m.got.length = 0;
        members[0]!.session.send('warm');
        members.at(-1)!.session.send('warm');
        await delay(100);
        if (members.every((m) => m.got.filter((x) => String(x.data) === 'warm').length === 2))
          return;
      }
      throw new Error('the subscriptions did not come up');
    };
    await warm();
    for (const m of members) m.got.length = 0;
    for (const [i, m] of members.entries()) m.session.send(`from ${i}`);
    const n = members.length;
    await until(() => members.every((m) => m.got.length >= n), 30_000, 'every message everywhere');
    await delay(200);
    for (const m of members) {
      t.deepEqual(
        m.got.map((x) => String(x.data)).sort(),
        members.map((_, i) => `from ${i}`).sort(),
      );
    }
    for (const m of members) m.session.close(1000);
  },
);

test.serial(
  '--workers 2: SIGUSR2 restarts the workers in turn (restartAll): each closes with 1001, new ones serve',
  async (t) => {
    t.timeout(60_000);
    const c = await startCluster(t);
    const before = /pids (\d+), (\d+)/.exec(c.output())!;
    const members: Member[] = [];
    while (new Set(members.map((m) => m.worker)).size < 2) {
      members.push(await member(`ws://127.0.0.1:${c.plain}/echo`, 1, c.ca));
    }
    c.proc.kill('SIGUSR2');
    await until(
      () => /workers restarted \(pids (\d+), (\d+)\)/.test(c.output()),
      30_000,
      'the restart',
    );
    const after = /workers restarted \(pids (\d+), (\d+)\)/.exec(c.output())!;
    t.not(after[1], before[1]);
    t.not(after[2], before[2]);
    for (const m of members) t.like(await m.session.closed, { code: 1001 });
    const later: Member[] = [];
    while (new Set(later.map((m) => m.worker)).size < 2 && later.length < 40) {
      later.push(await member(`ws://127.0.0.1:${c.plain}/echo`, 1, c.ca));
    }
    t.deepEqual([...new Set(later.map((m) => m.worker))].sort(), [0, 1]);
    for (const m of later) m.session.close(1000);
  },
);
