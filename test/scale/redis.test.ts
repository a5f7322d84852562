// Topics across processes through a real redis-server (issue #18): three `omniws serve`
// processes on one Redis deliver every message once everywhere, in order; a Redis
// restart mid-stream loses what was published meanwhile (at most once), counts exactly
// that, and the subscriptions come back by themselves.

import type { ChildProcess } from 'node:child_process';
import test from 'ava';
import type { RedisTopicsAdapter } from '../../src/scale/redis.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok } from '../../src/ws/handler.js';
import { delay, until, type WsPeer, wsClient } from '../helpers.js';
import { sharedRedis } from '../redis.js';
import { freeTcpPort, killProcess, spawnServe } from '../serve-process.js';

const needRedis = sharedRedis(test);

/** Send `warm` until every peer has heard one: every process's subscription is in place. */
async function warmUp(publisher: WsPeer, peers: WsPeer[]): Promise<void> {
  const heard = () => peers.every((p) => p.messages.some((m) => `${m.data}` === 'warm'));
  const deadline = Date.now() + 10_000;
  while (!heard()) {
    if (Date.now() > deadline) throw new Error('the subscriptions did not come up');
    publisher.ws.send('warm');
    await delay(50);
  }
  await delay(100);
}

test.serial(
  'three omniws serve processes on one Redis: every message once everywhere, in order',
  async (t) => {
    t.timeout(90_000);
    const r = needRedis(t);
    if (!r) return;
    const procs: ChildProcess[] = [];
    t.teardown(async () => {
      for (const p of procs) await killProcess(p);
    });
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freeTcpPort();
      ports.push(port);
      procs.push(await spawnServe(['--port', String(port), '--redis', r.url], 'listening ws://'));
    }
    const peers: WsPeer[] = [];
    for (const port of ports) {
      for (let j = 0; j < 4; j++) peers.push(await wsClient(`ws://127.0.0.1:${port}/pubsub/news`));
    }
    // a member of another room on every process hears none of it
    const others = await Promise.all(
      ports.map((p) => wsClient(`ws://127.0.0.1:${p}/pubsub/other`)),
    );
    const publisher = await wsClient(`ws://127.0.0.1:${ports[0]}/pubsub/news`);
    await warmUp(publisher, peers);

    const N = 300;
    for (let i = 0; i < N; i++) publisher.ws.send(i % 2 ? `m${i}` : Buffer.from(`m${i}`));
    const seqOf = (p: WsPeer) =>
      p.messages
        .filter((m) => `${m.data}` !== 'warm')
        .map((m) => `${m.binary ? 'b' : 't'}:${m.data}`);
    await until(() => [...peers, publisher].every((p) => seqOf(p).length >= N), 30_000);
    await delay(300);
    const expected = Array.from({ length: N }, (_, i) => `${i % 2 ? 't' : 'b'}:m${i}`);
    for (const [i, p] of [...peers, publisher].entries()) {
      t.deepEqual(seqOf(p), expected, `member ${i} (process ${Math.floor(i / 4)})`);
    }
    t.true(others.every((o) => o.messages.length === 0));
    for (const p of [...peers, publisher, ...others]) p.ws.close();
  },
);

test.serial(
  'a Redis restart mid-stream: the loss is what was published meanwhile, counted; subscriptions come back',
  async (t) => {
    t.timeout(60_000);
    const r = needRedis(t);
    if (!r) return;
    const room: WebSocketRoute<null> = {
      state: null,
      handler: {
        init: (_req, s, session) => {
          session.subscribe('room');
          return ok(s);
        },
        handleIn: (_m, s) => ok(s),
      },
    };
    const errors: Error[] = [];
    const redisOpts = { url: r.url, onError: (e: Error) => errors.push(e) };
    const a = await serve({ routes: { '/room': room }, redis: redisOpts });
    const b = await serve({ routes: { '/room': room }, redis: redisOpts });
    t.teardown(() => Promise.all([a.close(), b.close()]));
    const adapterOf = (s: typeof a) => s.topics.adapter as RedisTopicsAdapter;
    const sub = await wsClient(`${b.url}/room`);
    // the subscription of b is in place once a's publishes arrive
    for (let i = 0; sub.messages.length === 0; i++) {
      if (i > 200) throw new Error('no subscription');
      a.publish('room', 'warm');
      await delay(20);
    }
    await delay(100);
    sub.messages.length = 0;

    let sent = 0;
    const publishing = setInterval(() => {
      a.publish('room', `${sent++}`);
    }, 2);
    await delay(500);
    await r.kill();
    const killed = sent;
    await delay(500);
    await r.start();
    const atRestart = sent;
    // published long enough after the restart for both connections to come back
    const seqs = () => sub.messages.map((m) => Number(`${m.data}`));
    await until(
      () => seqs().some((n) => n > atRestart + 200),
      20_000,
      'messages after the restart',
    );
    clearInterval(publishing);
    const last = sent - 1;
    await until(() => seqs().at(-1) === last, 5000, 'the last message');
    await delay(100);

    const got = seqs();
    t.is(got[0], 0, 'the first message arrived');
    t.true(
      got.every((n, i) => i === 0 || n > got[i - 1]!),
      'in order, no duplicate',
    );
    const missed = sent - got.length;
    t.true(missed > 0, 'messages published while Redis was down were lost');
    t.false(
      got.some((n) => n >= killed && n < atRestart),
      'nothing published while Redis was down arrived (at most once: nothing comes late)',
    );
    // the receiving process counted exactly the gap; the publishing one its failed publishes
    t.is(adapterOf(b).stats().lost, missed, `missed ${missed}`);
    t.true(adapterOf(a).stats().publishFailed > 0);
    t.true(adapterOf(a).stats().reconnects > 0);
    t.true(adapterOf(b).stats().reconnects > 0);
    t.true(errors.length > 0, 'the cut was reported to onError');
    sub.ws.close();
  },
);

test.serial('serve({ redis }) to nowhere fails clearly', async (t) => {
  if (!needRedis(t)) return;
  const port = await freeTcpPort();
  const err = await t.throwsAsync<WebSocketError>(
    serve({
      routes: {},
      redis: { url: `redis://user:secret@127.0.0.1:${port}`, connectTimeout: 500 },
    }),
  );
  t.is(err?.code, 'WS_ERR_INVALID_ARGUMENT');
  t.regex(
    err?.message ?? '',
    /cannot connect to Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:\d+: .*ECONNREFUSED/,
  );
});
