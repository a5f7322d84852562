// History and recovery through Redis Streams (issue #18): a process dies mid-stream, its
// clients (connectClient with `resume`) reconnect to another process and get exactly what
// they missed, in order; a client that comes back after the history was trimmed past its
// position, or lost with Redis, is told so, never left with a silent gap.

import type { ChildProcess } from 'node:child_process';
import test from 'ava';
import { type ClientConnection, connectClient } from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import type { RecoveryInfo } from '../../src/client/resume.js';
import { ok } from '../../src/ws/handler.js';
import { delay, until, wsClient } from '../helpers.js';
import { sharedRedis } from '../redis.js';
import { freeTcpPort, killProcess, spawnServe } from '../serve-process.js';

const needRedis = sharedRedis(test);

async function process_(port: number, url: string, history: number): Promise<ChildProcess> {
  return spawnServe(
    ['--port', String(port), '--redis', url, '--history', String(history)],
    'listening ws://',
  );
}

interface Resuming {
  conn: ClientConnection<null>;
  got: string[];
  recoveries: RecoveryInfo[];
}

/** connectClient with `resume`, to `ports[0]` first and to `ports[1]` once that fails. */
function resuming(ports: readonly number[], topic: string): Resuming {
  const got: string[] = [];
  const recoveries: RecoveryInfo[] = [];
  const conn = connectClient<null>(`ws://127.0.0.1:${ports[0]}/pubsub/${topic}`, {
    resume: true,
    policy: new ReconnectPolicy({ initialDelay: 20, maxDelay: 100, jitter: 'none' }),
    state: null,
    handler: {
      // the first attempt goes to the first process; after a failure, to the other one
      connectionInfo: (a) => (a.failures > 0 || a.attempt > 1 ? { port: ports[1]! } : undefined),
      handleIn: (m, s) => {
        got.push(String(m.data));
        return ok(s);
      },
      handleRecovery: (r, s) => {
        recoveries.push(r);
        return ok(s);
      },
    },
  });
  return { conn, got, recoveries };
}

test.serial(
  'a process dies mid-stream: its clients reconnect to another and recover the gap from history',
  async (t) => {
    t.timeout(90_000);
    const redis = needRedis(t);
    if (!redis) return;
    const ports = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
    const [a, b, c] = await Promise.all(ports.map((p) => process_(p, redis!.url, 10_000)));
    t.teardown(async () => {
      for (const p of [a, b, c]) await killProcess(p!);
    });
    // three subscribers on process b; when b dies they go to c
    const subs = [0, 1, 2].map(() => resuming([ports[1]!, ports[2]!], 'feed'));
    await Promise.all(subs.map((s) => s.conn.opened));
    const publisher = await wsClient(`ws://127.0.0.1:${ports[0]}/pubsub/feed`);
    // the subscription of b is in place once b's members hear a's publishes
    for (let i = 0; !subs.every((s) => s.got.includes('warm')); i++) {
      if (i > 200) throw new Error('no subscription on b');
      publisher.ws.send('warm');
      await delay(20);
    }
    const N = 400;
    for (let i = 0; i < N; i++) {
      publisher.ws.send(`${i}`);
      if (i === 100) await killProcess(b!); // mid-stream
      await delay(3);
    }
    await until(
      () => subs.every((s) => s.got.includes(`${N - 1}`)),
      30_000,
      'every subscriber reached the last message',
    );
    await delay(200);
    const expected = Array.from({ length: N }, (_, i) => `${i}`);
    for (const [k, s] of subs.entries()) {
      const seq = s.got.filter((x) => x !== 'warm');
      t.deepEqual(seq, expected, `subscriber ${k}: every message once, in order`);
      t.true(s.conn.status().connects >= 2, 'it reconnected');
      t.is(s.recoveries.length, 1);
      t.like(s.recoveries[0], { topic: 'feed', recovered: true });
      t.true(s.recoveries[0]!.count > 0, `replayed ${s.recoveries[0]!.count}`);
    }
    for (const s of subs) s.conn.close();
    publisher.ws.close();
  },
);

test.serial(
  'a client back after its position was trimmed, or after Redis lost the history, is told: never a silent gap',
  async (t) => {
    t.timeout(90_000);
    const redis = needRedis(t);
    if (!redis) return;
    const [pa, pb] = [await freeTcpPort(), await freeTcpPort()];
    let a = await process_(pa, redis.url, 10);
    const b = await process_(pb, redis.url, 10);
    t.teardown(async () => {
      await killProcess(a);
      await killProcess(b);
    });
    // the client always comes back to a (restarted on the same port)
    const sub = resuming([pa, pa], 'short');
    await sub.conn.opened;
    const publisher = await wsClient(`ws://127.0.0.1:${pb}/pubsub/short`);
    for (let i = 0; !sub.got.includes('warm'); i++) {
      if (i > 200) throw new Error('no subscription');
      publisher.ws.send('warm');
      await delay(20);
    }
    t.truthy(sub.conn.position, 'positions arrive');
    await killProcess(a);
    // far more than the history keeps (about 10; MAXLEN ~ trims whole nodes of 100)
    for (let i = 0; i < 1000; i++) publisher.ws.send(`away ${i}`);
    await delay(300);
    a = await process_(pa, redis.url, 10);
    await until(() => sub.recoveries.length === 1, 20_000, 'the recovery outcome');
    t.like(sub.recoveries[0], { topic: 'short', recovered: false, count: 0 });
    // live again
    publisher.ws.send('after');
    await until(() => sub.got.includes('after'), 10_000);
    t.false(
      sub.got.some((x) => x.startsWith('away')),
      'nothing replayed past a trimmed history',
    );

    // Redis restarts empty: the history is gone with it
    await killProcess(a);
    await redis.kill();
    await redis.start();
    a = await process_(pa, redis.url, 10);
    await until(() => sub.recoveries.length === 2, 20_000, 'the second recovery outcome');
    t.like(sub.recoveries[1], { topic: 'short', recovered: false });
    sub.conn.close();
    publisher.ws.close();
  },
);
