// Topics (issue #17): subscribers of HTTP/1.1, HTTP/2 and HTTP/3 on one topic, against
// real peers (`ws`, node's own http2 client, our HTTP/3 client): every message once, in
// order; slow subscribers dropped or closed by policy within their byte bound; unsubscribe,
// close and re-subscribe during a burst; a publish nobody hears costs nothing that grows.

import { once } from 'node:events';
import test from 'ava';
import WebSocket from 'ws';
import { Agent } from '../../src/client/agent.js';
import { connect } from '../../src/client/connect.js';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { type CloseReason, type Message, ok } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { type TopicDrop, Topics } from '../../src/ws/topics.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { FrameReader, rawConnect, rawSession } from '../h2/helpers.js';
import { delay, listeningClient, rawClient, until, wsClient } from '../helpers.js';
import { gc, used } from '../memory.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('topics');
});
test.after.always(() => removeCerts(certs));

/** A route whose sessions subscribe to `topic` on open and publish what they receive to it. */
function roomRoute(topics: Topics, topic = 'room', extra: Partial<WebSocketRoute<null>> = {}) {
  const sessions: Session<null>[] = [];
  const route: WebSocketRoute<null> = {
    state: null,
    ...extra,
    handler: {
      init: (_req, s, session) => {
        session.subscribe(topic);
        sessions.push(session as Session<null>);
        return ok(s);
      },
      handleIn: (m, s) => {
        topics.publish(topic, m);
        return ok(s);
      },
    },
  };
  return { route, sessions };
}

/** Our client (h1, h2 or h3) recording what it receives. */
const member = (url: string, http: 1 | 2 | 3, agent?: Agent) =>
  listeningClient(url, http, { agent, ca: certs.ca });

const label = (m: { type: string; data: string | Uint8Array }) =>
  m.type === 'text' ? `t:${m.data}` : `b:${Buffer.from(m.data as Uint8Array).toString()}`;

test('h1 (ws), h2 (node:http2) and h3 subscribers of one topic get every message once, in order', async (t) => {
  const topics = new Topics();
  const { route } = roomRoute(topics);
  const server = await serve({
    tls: { cert: certs.cert, key: certs.key },
    routes: { '/room': route },
    topics,
  });
  const agent = new Agent({ idleTimeout: 50 });
  t.teardown(async () => {
    agent.close();
    await server.close();
  });
  t.is(server.topics, topics);
  const url = `wss://localhost:${server.port}/room`;
  const h1 = await wsClient(url, undefined, { ca: certs.ca });
  const h2session = await rawSession(`https://localhost:${server.port}`, { ca: certs.ca });
  const h2 = await rawConnect(h2session, '/room');
  t.is(h2.status, 200);
  const h3 = await member(url, 3, agent);
  t.is(h3.session.http, '3');
  await until(() => server.subscriberCount('room') === 3);

  const N = 600;
  const expected: string[] = [];
  for (let i = 0; i < N; i++) {
    const text = i % 3 !== 2;
    const data = `m${i}`;
    expected.push(text ? `t:${data}` : `b:${data}`);
    t.is(server.publish('room', text ? data : Buffer.from(data)), 3);
    // some bursts span event-loop turns, others fill one
    if (i % 97 === 0) await new Promise((r) => setImmediate(r));
  }
  await until(
    () => h1.messages.length >= N && h2.reader.frames.length >= N && h3.got.length >= N,
    10_000,
    'every member received every message',
  );
  await delay(50);
  t.deepEqual(
    h1.messages.map((m) => (m.binary ? `b:${m.data}` : `t:${m.data}`)),
    expected,
  );
  // node's own HTTP/2 client reads the server's frames off the stream: unmasked, whole
  t.true(h2.reader.frames.every((f) => f.fin && !f.masked));
  t.deepEqual(
    h2.reader.frames.map((f) => `${f.opcode === 1 ? 't' : 'b'}:${f.payload}`),
    expected,
  );
  t.deepEqual(h3.got.map(label), expected);
  t.like(topics.stats(), { topics: 1, subscriptions: 3, published: N, delivered: 3 * N });

  h1.ws.close(1000);
  h3.session.close(1000);
  h2.stream.close();
  await until(() => server.subscriberCount('room') === 0, 5000, 'everyone unsubscribed on close');
  t.deepEqual(topics.topicNames(), []);
  h2session.close();
});

test('a mixed room of 1 000 (h1, h2, h3) with a publisher at full speed loses and reorders nothing', async (t) => {
  t.timeout(120_000);
  // two servers on one hub: plain HTTP/1.1, and TLS for HTTP/2 and HTTP/3
  const topics = new Topics();
  const { route } = roomRoute(topics);
  const plain = await listen({ routes: { '/room': route }, topics });
  const secure = await serve({
    tls: { cert: certs.cert, key: certs.key },
    http: [2, 3],
    routes: { '/room': route },
    topics,
  });
  const agents = Array.from({ length: 6 }, () => new Agent({ idleTimeout: 50 }));
  t.teardown(async () => {
    for (const a of agents) a.close();
    await Promise.all([plain.close(), secure.close()]);
  });
  const counts = { h1: 400, h2: 300, h3: 300 };
  const members: { got: Message[]; session: Session<null> }[] = [];
  for (let i = 0; i < counts.h1; i += 50) {
    const batch = Array.from({ length: 50 }, () => member(`${plain.url}/room`, 1));
    members.push(...(await Promise.all(batch)));
  }
  for (const [http, n] of [
    [2, counts.h2],
    [3, counts.h3],
  ] as const) {
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) =>
        member(`wss://localhost:${secure.port}/room`, http, agents[(http - 2) * 3 + (j % 3)]),
      );
      members.push(...(await Promise.all(batch)));
    }
  }
  t.is(topics.subscriberCount('room'), 1000);
  t.is(new Set(members.map((m) => m.session.http)).size, 3);

  // a `ws` client publishes 300 messages at once, as fast as it can write them; the room
  // relays each to all 1 000 members and back to the publisher
  const publisher = await wsClient(`${plain.url}/room`);
  const N = 300;
  for (let i = 0; i < N; i++) publisher.ws.send(i % 2 ? `seq ${i}` : Buffer.from(`seq ${i}`));
  await until(
    () => publisher.messages.length >= N && members.every((m) => m.got.length >= N),
    60_000,
    'all 1 000 members received all 300 messages',
  );
  await delay(100);
  const expected = Array.from({ length: N }, (_, i) => (i % 2 ? `t:seq ${i}` : `b:seq ${i}`));
  let wrong = 0;
  for (const m of members) if (m.got.map(label).join('\n') !== expected.join('\n')) wrong++;
  t.is(wrong, 0, 'members whose sequence differs');
  t.deepEqual(
    publisher.messages.map((m) => (m.binary ? `b:${m.data}` : `t:${m.data}`)),
    expected,
  );
  t.is(topics.stats().dropped, 0);
  publisher.ws.close(1000);
  await Promise.all(
    members.map((m) => {
      m.session.close(1000);
      return m.session.closed;
    }),
  );
  await until(() => topics.subscriberCount('room') === 0);
});

/**
 * A room where /room keeps `maxBuffered` with `policy` (a raw reader that pauses joins there)
 * and /fast the default bound (a `ws` reader that keeps up and counts).
 */
async function slowRoom(policy: 'drop' | 'close') {
  const drops: TopicDrop[] = [];
  const topics = new Topics({ onDrop: (d) => drops.push(d) });
  const maxBuffered = 256 * 1024;
  const ends: CloseReason[] = [];
  const { route, sessions } = roomRoute(topics, 'room', {
    maxBuffered,
    onSlowConsumer: policy,
    closeTimeout: 500,
  });
  route.handler.terminate = (reason) => {
    ends.push(reason);
  };
  // the reader that keeps up joins through a route with the default bound
  const fast = roomRoute(topics);
  const server = await listen({ routes: { '/room': route, '/fast': fast.route }, topics });
  const slow = await rawClient(server.port, '/room');
  // a `ws` client that reads everything and keeps only the count
  const ws = new WebSocket(`${server.url}/fast`, { perMessageDeflate: false });
  const healthy = { ws, received: 0 };
  ws.on('message', () => {
    healthy.received++;
  });
  await once(ws, 'open');
  await until(() => sessions.length === 1 && fast.sessions.length === 1);
  // the raw client stops reading: the kernel's buffers fill, then the server's
  slow.socket.pause();
  return { topics, server, slow, healthy, slowSession: sessions[0]!, drops, ends, maxBuffered };
}

const SIZE = 64 * 1024;
const payload = (i: number) => {
  const b = Buffer.alloc(SIZE, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
};

/** Publish `n` messages, 8 per turn, each batch once the healthy reader has the last one. */
async function publishPaced(
  topics: Topics,
  healthy: { received: number },
  n: number,
  each?: () => void,
) {
  for (let i = 0; i < n; i += 8) {
    for (let j = i; j < Math.min(n, i + 8); j++) topics.publish('room', payload(j));
    await until(() => healthy.received >= Math.min(n, i + 8), 10_000, `message ${i}`);
    each?.();
  }
}

test.serial(
  "a subscriber that stops reading, policy 'drop': dropped and counted within maxBuffered, the others get all",
  async (t) => {
    t.timeout(90_000);
    const r = await slowRoom('drop');
    t.teardown(() => r.server.close());
    const N = 800; // 50 MiB for each subscriber
    let peak = 0;
    await gc();
    const before = used();
    await publishPaced(r.topics, r.healthy, N, () => {
      peak = Math.max(peak, r.slowSession.bufferedAmount);
    });
    t.is(r.healthy.received, N, 'the reading subscriber received every message');
    t.true(r.drops.length > 0, 'messages were dropped for the slow one');
    t.is(r.topics.stats().dropped, r.drops.length);
    t.true(r.drops.every((d) => d.topic === 'room' && d.bytes === SIZE));
    t.true(r.drops.every((d) => d.session === r.slowSession));
    // the bound: queued and buffered bytes stay below maxBuffered plus one message (the
    // check admits a message while below it), measured on the server's side
    t.true(peak <= r.maxBuffered + SIZE + 14, `peak buffered ${peak}`);
    // 50 MiB were published while the subscriber did not read: the process keeps what its
    // bound allows (measured after a collection), not the backlog
    await gc();
    const held = used() - before;
    t.true(held < r.maxBuffered + SIZE + 2 * 1024 * 1024, `memory grew by ${held}`);
    t.is(r.slowSession.readyState, 'open');

    // the slow reader resumes: what it gets is in order, without what was dropped
    const frames = new FrameReader();
    r.slow.socket.on('data', (d: Buffer) => frames.push(d));
    for (const d of r.slow.received) frames.push(d);
    r.slow.socket.resume();
    await until(() => frames.frames.length >= N - r.drops.length, 20_000, 'the rest arrives');
    const seqs = frames.frames.map((f) => f.payload.readUInt32BE(0));
    t.is(seqs.length, N - r.drops.length);
    t.true(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
      'strictly increasing',
    );
    t.true(
      frames.frames.every(
        (f, i) => f.payload.length === SIZE && f.payload[5] === (seqs[i]! & 0xff),
      ),
    );
    r.healthy.ws.close(1000);
    r.slow.socket.destroy();
  },
);

test("a subscriber that stops reading, policy 'close': closed with 1008, the others get all", async (t) => {
  t.timeout(60_000);
  const r = await slowRoom('close');
  t.teardown(() => r.server.close());
  const N = 400;
  await publishPaced(r.topics, r.healthy, N);
  t.is(r.healthy.received, N);
  await until(() => r.ends.length === 1, 10_000, 'the slow session ended');
  t.is(r.ends[0]!.code, 1008);
  t.is((r.ends[0]!.error as WebSocketError).code, 'WS_ERR_SLOW_CONSUMER');
  t.is(r.topics.subscriberCount('room'), 1);
  t.is(r.drops.length, 0);
  r.healthy.ws.close(1000);
  r.slow.socket.destroy();
});

test('unsubscribe, re-subscribe and close during a burst: exactly what was published while subscribed', async (t) => {
  const topics = new Topics();
  const { route, sessions } = roomRoute(topics);
  const server = await listen({ routes: { '/room': route }, topics });
  t.teardown(() => server.close());
  const a = await wsClient(`${server.url}/room`);
  const b = await wsClient(`${server.url}/room`);
  const c = await wsClient(`${server.url}/room`);
  await until(() => sessions.length === 3);
  const [sa, , sc] = sessions;
  const N = 1000;
  for (let i = 0; i < N; i++) {
    if (i === 300) t.true(sa!.unsubscribe('room'));
    if (i === 300) t.false(sa!.unsubscribe('room'), 'not subscribed any more');
    if (i === 600) t.true(sa!.subscribe('room'));
    if (i === 600) t.false(sa!.subscribe('room'), 'subscribed already');
    if (i === 500) sc!.close(1000, 'bye');
    topics.publish('room', `${i}`);
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  const range = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, k) => `${from + k}`);
  await until(() => a.messages.length >= 700 && b.messages.length >= N);
  await delay(50);
  t.deepEqual(
    a.messages.map((m) => `${m.data}`),
    [...range(0, 300), ...range(600, N)],
  );
  t.deepEqual(
    b.messages.map((m) => `${m.data}`),
    range(0, N),
  );
  // the closing member got what was queued before its close frame, then nothing
  const closed = await c.closed;
  t.is(closed.code, 1000);
  t.deepEqual(
    c.messages.map((m) => `${m.data}`),
    range(0, 500),
  );
  t.is(topics.subscriberCount('room'), 2);
  t.deepEqual([...sa!.topics], ['room']);
  a.ws.close();
  b.ws.close();
  await until(() => topics.subscriberCount('room') === 0);
  t.deepEqual(topics.topicNames(), []);
  t.is(topics.stats().subscriptions, 0);
});

test.serial('a publish to a topic nobody subscribed to costs nothing that grows', async (t) => {
  const topics = new Topics();
  const data = Buffer.alloc(1024, 1);
  for (let i = 0; i < 10_000; i++) topics.publish('nobody', data); // warm-up
  await gc();
  const before = used();
  let queued = 0;
  for (let i = 0; i < 1_000_000; i++) queued += topics.publish(`nobody-${i % 1000}`, data);
  await gc();
  t.is(queued, 0);
  const grew = used() - before;
  t.true(grew < 256 * 1024, `grew by ${grew} bytes`);
  t.deepEqual(topics.stats(), {
    topics: 0,
    subscriptions: 0,
    published: 0,
    delivered: 0,
    dropped: 0,
  });
});

test('session.publish reaches the others; sends and published messages keep their order', async (t) => {
  const topics = new Topics();
  const route: WebSocketRoute<null> = {
    state: null,
    handler: {
      init: (_req, s, session) => {
        session.subscribe('t');
        return ok(s);
      },
      handleIn: (m, s, session) => {
        // to the others only, then a direct send between two publishes to everyone
        t.is(session.publish('t', `others:${m.data}`), 1);
        topics.publish('t', 'all-1');
        session.send('direct');
        topics.publish('t', 'all-2');
        return ok(s);
      },
    },
  };
  const server = await listen({ routes: { '/': route }, topics });
  t.teardown(() => server.close());
  const a = await wsClient(`${server.url}/`);
  const b = await wsClient(`${server.url}/`);
  await until(() => topics.subscriberCount('t') === 2);
  a.ws.send('x');
  await until(() => a.messages.length >= 3 && b.messages.length >= 3);
  await delay(30);
  t.deepEqual(
    a.messages.map((m) => `${m.data}`),
    ['all-1', 'direct', 'all-2'],
  );
  t.deepEqual(
    b.messages.map((m) => `${m.data}`),
    ['others:x', 'all-1', 'all-2'],
  );
  a.ws.close();
  b.ws.close();
});

test('hibernating subscribers receive what is published and carry on', async (t) => {
  const topics = new Topics();
  const route: WebSocketRoute<number> = {
    state: 0,
    handler: {
      init: (_req, n, session) => {
        session.subscribe('h');
        return ok(n, { hibernate: true });
      },
      handleIn: (_m, n) => ok(n + 1, { hibernate: true }),
    },
  };
  const server = await listen({ routes: { '/': route }, topics });
  t.teardown(() => server.close());
  const peers = await Promise.all([1, 2, 3].map(() => wsClient(`${server.url}/`)));
  await until(() => topics.subscriberCount('h') === 3);
  for (let i = 0; i < 50; i++) {
    topics.publish('h', `n${i}`);
    if (i % 10 === 0) await delay(5);
  }
  await until(() => peers.every((p) => p.messages.length === 50));
  for (const p of peers) {
    t.deepEqual(
      p.messages.map((m) => `${m.data}`),
      Array.from({ length: 50 }, (_, i) => `n${i}`),
    );
  }
  // the sessions still read and close normally after the deliveries
  for (const p of peers) p.ws.send('still here');
  for (const p of peers) p.ws.close(1000);
  for (const p of peers) t.is((await p.closed).code, 1000);
});

test('topics refuse bad names, client sessions and closed sessions, with clear errors', async (t) => {
  const topics = new Topics();
  const { route, sessions } = roomRoute(topics);
  const server = await listen({ routes: { '/room': route }, topics });
  t.teardown(() => server.close());
  const peer = await wsClient(`${server.url}/room`);
  await until(() => sessions.length === 1);
  const s = sessions[0]!;
  for (const bad of ['', 'x'.repeat(1025), 42 as unknown as string]) {
    const err = t.throws<WebSocketError>(() => s.subscribe(bad));
    t.is(err?.code, 'WS_ERR_INVALID_ARGUMENT');
  }
  t.is(t.throws<WebSocketError>(() => s.publish('', 'x'))?.code, 'WS_ERR_INVALID_ARGUMENT');
  const client = await connect(`${server.url}/room`, {
    state: null,
    handler: { handleIn: (_m, st) => ok(st) },
  });
  const err = t.throws<WebSocketError>(() => client.subscribe('room'));
  t.is(err?.code, 'WS_ERR_INVALID_STATE');
  t.regex(err?.message ?? '', /client/);
  client.close();
  peer.ws.close(1000);
  await s.closed;
  t.is(t.throws<WebSocketError>(() => s.subscribe('late'))?.code, 'WS_ERR_INVALID_STATE');
  t.deepEqual([...s.topics], []);
  t.is(topics.subscriberCount('room'), 1, 'the client, which joined /room too');
  await client.closed;
  await until(() => topics.subscriberCount('room') === 0);
});

test('a raw HTTP/2 stream that never reads does not hold the others back', async (t) => {
  const topics = new Topics();
  const { route } = roomRoute(topics, 'room', { maxBuffered: 64 * 1024, onSlowConsumer: 'drop' });
  const server = await serve({ http: [2], routes: { '/room': route }, topics });
  t.teardown(() => server.close());
  const session = await rawSession(server.url.replace(/^ws/, 'http'));
  const stuck = await rawConnect(session, '/room');
  stuck.stream.pause();
  const reader = await member(`${server.url}/room`, 2, new Agent());
  await until(() => topics.subscriberCount('room') === 2);
  for (let i = 0; i < 200; i += 4) {
    for (let j = i; j < i + 4; j++) topics.publish('room', payload(j).subarray(0, 8 * 1024));
    await until(() => reader.got.length >= i + 4);
  }
  t.is(reader.got.length, 200);
  t.true(topics.stats().dropped > 0);
  reader.session.close();
  session.destroy();
  await once(session, 'close');
});
