// connectClient over HTTP/1.1, HTTP/2 and (once connect() can) HTTP/3: reconnection
// with growing delays after every way a server can drop a connection, the queue while
// reconnecting, prepareFrame on every outgoing frame, per-attempt connection info,
// retry rules, and the heartbeat (latency; a silent peer; a busy handler is no silence).

import test from 'ava';
import {
  type ClientConnection,
  type ClientHandler,
  connectClient,
} from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import type { DisconnectReason, TimeoutInfo } from '../../src/client/types.js';
import type { RequestInfo, WebSocketRoute } from '../../src/server/handler.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import {
  type CloseReason,
  type Control,
  type Handler,
  type Message,
  ok,
  reply,
  stop,
} from '../../src/ws/handler.js';
import {
  cleanup,
  deadPort,
  delay,
  dropNames,
  silentServer,
  startServer,
  type TestServer,
  until,
  type Version,
  versionName,
  versions,
} from './servers.js';

test.after.always(cleanup);

/** What the server side saw. */
interface Seen {
  requests: RequestInfo[];
  messages: Message[];
  pings: string[];
}

function text(m: Message): string {
  return m.type === 'text' ? m.data : `<${m.data.toString('hex')}>`;
}

function serverOptions(seen: Seen): ServerOptions {
  const handler: Handler<null> = {
    handleIn(m, s) {
      seen.messages.push(m);
      if (m.type === 'text' && m.data.startsWith('stop ')) {
        return stop(s, Number(m.data.slice(5)), 'server says stop');
      }
      return reply(s, m.type === 'text' ? m.data : m.data);
    },
    handleControl(c, s) {
      if (c.type === 'ping') seen.pings.push(c.data.toString());
      return ok(s);
    },
  };
  const route: WebSocketRoute = { handler, state: null };
  return {
    route(req) {
      if (req.pathname === '/forbidden') return { status: 403 };
      if (req.pathname === '/policy') {
        seen.requests.push(req);
        return {
          handler: { handleIn: (_m, s) => ok(s), init: (_r, s) => stop(s, 1008, 'go away') },
          state: null,
        };
      }
      seen.requests.push(req);
      return route;
    },
  };
}

async function server(t: { teardown(f: () => Promise<void>): void }, v: Version) {
  const seen: Seen = { requests: [], messages: [], pings: [] };
  const s = await startServer(v, serverOptions(seen));
  t.teardown(() => s.close());
  return { s, seen };
}

/** A client handler that records everything; messages and disconnects can be awaited. */
class Client {
  readonly messages: Message[] = [];
  readonly controls: Control[] = [];
  readonly connects: { http: string; reconnected: boolean; at: number }[] = [];
  readonly disconnects: (DisconnectReason & { at: number })[] = [];
  readonly attempts: { attempt: number; at: number }[] = [];
  readonly timeouts: TimeoutInfo[] = [];
  readonly latencies: (number | undefined)[] = [];
  terminated: CloseReason[] = [];
  handler: ClientHandler<number>;

  constructor(extra: Partial<ClientHandler<number>> = {}) {
    this.handler = {
      connectionInfo: (a) => {
        this.attempts.push({ attempt: a.attempt, at: Date.now() });
        return undefined;
      },
      handleConnect: (info, s) => {
        this.connects.push({
          http: info.request.http,
          reconnected: info.reconnected,
          at: Date.now(),
        });
        return ok(s);
      },
      handleIn: (m, s) => {
        this.messages.push(m);
        return ok(s + 1);
      },
      handleControl: (c, s) => {
        this.controls.push(c);
        return ok(s);
      },
      handlePong: (p, s) => {
        this.latencies.push(p.latency);
        return ok(s);
      },
      handleTimeout: (ti, s) => {
        this.timeouts.push(ti);
        return ok(s);
      },
      handleDisconnect: (r, s) => {
        this.disconnects.push({ ...r, at: Date.now() });
        return ok(s);
      },
      terminate: (r) => {
        this.terminated.push(r);
      },
      ...extra,
    };
  }

  texts(): string[] {
    return this.messages.map(text);
  }
}

function open(
  t: { teardown(f: () => void): void },
  srv: TestServer,
  path: string,
  c: Client,
  opts: Partial<Parameters<typeof connectClient<number>>[1]> = {},
): ClientConnection<number> {
  const conn = connectClient(`${srv.url}${path}`, {
    ...srv.client,
    handler: c.handler,
    state: 0,
    closeTimeout: 500,
    ...opts,
  });
  t.teardown(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  });
  return conn;
}

/** Deterministic growth: random() just below 1 makes every delay (almost) its cap. */
const growing = () =>
  new ReconnectPolicy({ initialDelay: 20, factor: 2, random: () => 0.999, stableAfter: 60_000 });

for (const v of versions()) {
  const name = versionName(v);

  test(`${name}: opens, echoes, reports its status, closes for good`, async (t) => {
    const { s } = await server(t, v);
    const c = new Client();
    const conn = open(t, s, '/echo', c);
    t.is(conn.status().state, 'connecting');
    await conn.opened;
    t.is(conn.status().state, 'open');
    conn.send('hello');
    conn.send(new Uint8Array([1, 2, 3]));
    await until(() => c.messages.length === 2, 5000, 'echoes');
    t.deepEqual(c.texts(), ['hello', '<010203>']);
    const st = conn.status();
    t.is(st.http as string | undefined, v === 1 ? '1.1' : String(v));
    t.is(st.bytesOut, 8);
    t.is(st.bytesIn, 8);
    t.is(st.messagesOut, 2);
    t.is(st.messagesIn, 2);
    t.is(st.attempts, 0);
    t.is(st.connects, 1);
    t.deepEqual(
      c.connects.map((x) => [x.http, x.reconnected]),
      [[st.http, false]],
    );
    conn.close(1000, 'done');
    const r = await conn.closed;
    t.is(r.kind, 'normal');
    t.is(r.code, 1000);
    t.is(conn.status().state, 'closed');
    t.is(c.terminated.length, 1);
    t.is(c.disconnects.length, 1);
    t.is(c.disconnects[0]!.retry, null);
    t.is(c.disconnects[0]!.why, 'closed');
    const e = t.throws(() => conn.send('late'));
    t.is((e as WebSocketError).code, 'WS_ERR_INVALID_STATE');
  });

  for (const drop of dropNames(v)) {
    test(`${name}: server drops (${drop}) → reconnects with growing delays and resumes`, async (t) => {
      const { s } = await server(t, v);
      const c = new Client();
      const conn = open(t, s, '/echo', c, { policy: growing() });
      await conn.opened;
      for (let i = 1; i <= 3; i++) {
        await until(() => c.connects.length === i, 5000, `connection ${i}`);
        s.drops[drop]!();
        await until(() => c.disconnects.length === i, 5000, `disconnect ${i}`);
      }
      await until(() => c.connects.length === 4, 5000, 'the fourth connection');
      conn.send('after');
      await until(() => c.texts().includes('after'), 5000, 'echo after reconnecting');
      const delays = c.disconnects.map((d) => d.retry?.delay);
      t.deepEqual(delays, [19, 39, 79]);
      for (const [i, d] of c.disconnects.entries()) {
        t.is(d.code, 1006, `disconnect ${i}: 1006`);
        t.is(d.phase, 'open');
        t.false(d.wasClean);
        // the next attempt waited (at least) the delay the policy chose
        const next = c.attempts[i + 1]!;
        t.true(next.at - d.at >= d.retry!.delay - 2, `attempt ${i + 2} after its delay`);
      }
      t.deepEqual(
        c.connects.map((x) => x.reconnected),
        [false, true, true, true],
      );
      const st = conn.status();
      t.is(st.state, 'open');
      t.is(st.connects, 4);
      t.is(st.attempts, 3);
      t.is(st.lastDisconnect?.retry?.delay, 79);
    });
  }

  test(`${name}: frames sent while reconnecting wait in the queue and follow handleConnect`, async (t) => {
    const { s, seen } = await server(t, v);
    let n = 0;
    const c = new Client({
      handleConnect: (_i, st) => reply(st, `hello ${++n}`),
      handleDisconnect: (r, st, conn) => {
        if (r.retry) {
          conn.send('q1');
          conn.send('q2');
        }
        return ok(st);
      },
    });
    const conn = open(t, s, '/echo', c, { policy: growing() });
    await conn.opened;
    await until(() => seen.messages.length === 1, 5000, 'hello 1');
    s.drops[Object.keys(s.drops)[0]!]!();
    await until(() => seen.messages.length === 4, 5000, 'hello 2 and the queue');
    t.deepEqual(seen.messages.map(text), ['hello 1', 'hello 2', 'q1', 'q2']);
    t.is(conn.status().queued, 0);
  });

  test(`${name}: prepareFrame transforms every outgoing data frame`, async (t) => {
    const { s, seen } = await server(t, v);
    const c = new Client({
      prepareFrame: (data, type) =>
        type === 'text'
          ? JSON.stringify({ v: 1, data })
          : Buffer.concat([Buffer.from([0xee]), data as Uint8Array]),
      handleConnect: (_i, st) => reply(st, 'from handleConnect'),
      handleIn: (m, st) =>
        m.type === 'text' && m.data.includes('"from send"') ? reply(st, 'from handleIn') : ok(st),
      handleInfo: (_i, st) => reply(st, [{ type: 'binary', data: new Uint8Array([7]) }]),
    });
    const conn = open(t, s, '/echo', c);
    conn.send('queued before open');
    await conn.opened;
    conn.send('from send');
    conn.send({ type: 'binary', data: new Uint8Array([1]) });
    conn.post('info');
    await until(() => seen.messages.length === 6, 5000, 'six frames');
    const got = seen.messages.map(text).sort();
    t.deepEqual(
      got,
      [
        '<ee01>',
        '<ee07>',
        '{"v":1,"data":"from handleConnect"}',
        '{"v":1,"data":"from handleIn"}',
        '{"v":1,"data":"from send"}',
        '{"v":1,"data":"queued before open"}',
      ].sort(),
    );
    // handleConnect's reply goes first, then what was queued
    t.deepEqual(seen.messages.slice(0, 2).map(text), [
      '{"v":1,"data":"from handleConnect"}',
      '{"v":1,"data":"queued before open"}',
    ]);
  });

  test(`${name}: heartbeat pings with custom payloads and measures latency`, async (t) => {
    const { s, seen } = await server(t, v);
    const c = new Client();
    const conn = open(t, s, '/echo', c, {
      heartbeat: { interval: 30, timeout: 1000, payload: (seq) => `hb-${seq}` },
    });
    await conn.opened;
    await until(() => c.latencies.length >= 2, 5000, 'two pongs');
    t.deepEqual(seen.pings.slice(0, 2), ['hb-1', 'hb-2']);
    for (const l of c.latencies.slice(0, 2)) {
      t.is(typeof l, 'number');
      t.true(l! >= 0 && l! < 1000);
    }
    t.is(typeof conn.status().latency, 'number');
    // pongs went to handlePong, not to handleControl
    t.false(c.controls.some((x) => x.type === 'pong'));
  });

  test(`${name}: a server that closes with 1008 is not retried`, async (t) => {
    const { s, seen } = await server(t, v);
    const c = new Client();
    const conn = open(t, s, '/policy', c, { policy: growing() });
    const r = await conn.closed;
    t.is(r.code, 1008);
    t.is(r.kind, 'remote');
    t.is(seen.requests.length, 1);
    t.is(c.disconnects.length, 1);
    t.is(c.disconnects[0]!.retry, null);
    t.is(c.disconnects[0]!.why, 'not-retryable');
    t.is(c.terminated.length, 1);
    await conn.opened; // it did open once
  });

  test(`${name}: a handshake answered 403 is not retried`, async (t) => {
    const { s } = await server(t, v);
    const c = new Client();
    const conn = open(t, s, '/forbidden', c, { policy: growing() });
    const err = await t.throwsAsync(conn.opened);
    t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE_STATUS');
    t.is((err as WebSocketError).status, 403);
    await conn.closed;
    t.is(c.attempts.length, 1);
    t.is(c.disconnects[0]!.phase, 'handshake');
    t.is(c.disconnects[0]!.status, 403);
    t.is(c.disconnects[0]!.retry, null);
  });

  test(`${name}: connectionInfo is computed per attempt`, async (t) => {
    const { s, seen } = await server(t, v);
    const c = new Client({
      connectionInfo: (a) => ({
        path: `/echo?attempt=${a.attempt}`,
        headers: { 'x-attempt': String(a.attempt), 'x-failures': String(a.failures) },
      }),
    });
    const conn = open(t, s, '/ignored', c, { policy: growing() });
    await conn.opened;
    s.drops[Object.keys(s.drops)[0]!]!();
    await until(() => seen.requests.length === 2, 5000, 'a second request');
    t.deepEqual(
      seen.requests.map((r) => [r.path, r.headers['x-attempt'], r.headers['x-failures']]),
      [
        ['/echo?attempt=1', '1', '0'],
        ['/echo?attempt=2', '2', '1'],
      ],
    );
  });
}

test('a refused connection is retried until maxAttempts, then opened rejects', async (t) => {
  const port = await deadPort();
  const c = new Client();
  const conn = connectClient(`ws://127.0.0.1:${port}/`, {
    handler: c.handler,
    state: 0,
    policy: new ReconnectPolicy({ initialDelay: 10, maxAttempts: 2, jitter: 'none' }),
  });
  const err = await t.throwsAsync(conn.opened);
  t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE');
  await conn.closed;
  t.is(c.attempts.length, 3);
  t.deepEqual(
    c.disconnects.map((d) => d.retry?.delay ?? d.why),
    [10, 20, 'max-attempts'],
  );
  t.is(conn.status().attempts, 2);
  t.is(c.terminated.length, 1);
});

test('close() during the reconnect delay cancels the retry', async (t) => {
  const { s } = await server(t, 1);
  const c = new Client();
  const conn = open(t, s, '/echo', c, {
    policy: new ReconnectPolicy({ initialDelay: 10_000, jitter: 'none' }),
  });
  await conn.opened;
  s.drops.RST!();
  await until(() => conn.status().state === 'reconnecting' && c.disconnects.length === 1);
  const started = Date.now();
  conn.close();
  await conn.closed;
  t.true(Date.now() - started < 1000);
  t.is(c.attempts.length, 1);
  t.is(conn.status().state, 'closed');
});

test('queue: reject when full throws WS_ERR_QUEUE_FULL; drop-oldest keeps the newest', async (t) => {
  const { s, seen } = await server(t, 1);
  const rejecting = open(t, s, '/echo', new Client(), { queue: { max: 2 } });
  rejecting.send('a');
  rejecting.send('b');
  const e = t.throws(() => rejecting.send('c'));
  t.is((e as WebSocketError).code, 'WS_ERR_QUEUE_FULL');
  const dropping = open(t, s, '/echo', new Client(), {
    queue: { max: 2, whenFull: 'drop-oldest' },
  });
  dropping.send('x');
  dropping.send('y');
  dropping.send('z');
  t.is(dropping.status().dropped, 1);
  t.is(dropping.status().queued, 2);
  await dropping.opened;
  await rejecting.opened;
  await until(() => seen.messages.length === 4, 5000, 'four messages');
  const got = seen.messages.map(text);
  t.deepEqual(
    got.filter((m) => 'abc'.includes(m)),
    ['a', 'b'],
  );
  t.deepEqual(
    got.filter((m) => 'xyz'.includes(m)),
    ['y', 'z'],
  );
});

test('no policy: a dropped connection ends it', async (t) => {
  const { s } = await server(t, 1);
  const c = new Client();
  const conn = open(t, s, '/echo', c, { policy: false });
  await conn.opened;
  s.drops['kill the socket']!();
  const r = await conn.closed;
  t.is(r.code, 1006);
  t.is(c.disconnects[0]!.why, 'no-policy');
});

for (const v of [1, 2] as const) {
  test(`h${v}: a silent server is declared lost within interval + timeout (1006, policy decides)`, async (t) => {
    const srv = await silentServer(v);
    t.teardown(() => srv.close());
    const asked: number[] = [];
    const c = new Client();
    const interval = 100;
    const timeout = 200;
    const conn = connectClient(`${srv.url}/`, {
      ...srv.client,
      handler: c.handler,
      state: 0,
      heartbeat: { interval, timeout },
      policy: new ReconnectPolicy({
        shouldRetry: (r) => {
          asked.push(r.code);
          return false;
        },
      }),
    });
    t.teardown(() => conn.close());
    await conn.opened;
    const opened = Date.now();
    const r = await conn.closed;
    const took = Date.now() - opened;
    t.true(took >= timeout, `took ${took} ms`);
    // interval + timeout, plus room for a loaded machine's timer lag
    t.true(took <= interval + timeout + 400, `took ${took} ms`);
    t.is(r.code, 1006);
    t.is(r.kind, 'timeout');
    t.is((r.error as WebSocketError).code, 'WS_ERR_HEARTBEAT_TIMEOUT');
    t.deepEqual(c.timeouts, [{ kind: 'heartbeat', interval, timeout }]);
    t.deepEqual(asked, [1006]);
    t.is(c.disconnects[0]!.why, 'not-retryable');
  });
}

test('heartbeat: time a busy handler holds delivery back is not silence', async (t) => {
  const { s } = await server(t, 1);
  const c = new Client({
    handleIn: async (m, st) => {
      c.messages.push(m);
      if (m.type === 'text' && m.data === 'slow') await delay(600);
      return ok(st);
    },
  });
  const conn = open(t, s, '/echo', c, {
    heartbeat: { interval: 30, timeout: 150 },
    policy: false,
  });
  await conn.opened;
  conn.send('slow');
  await until(() => c.messages.length === 1, 5000, 'the slow message');
  await delay(700);
  t.is(conn.status().state, 'open');
  t.deepEqual(c.timeouts, []);
  await until(() => c.latencies.length > 0, 5000, 'a pong');
});

test('handleTimeout returning stop ends the connection without a retry', async (t) => {
  const srv = await silentServer(1);
  t.teardown(() => srv.close());
  const c = new Client({ handleTimeout: (_t, st) => stop(st, 4000, 'gave up') });
  const conn = connectClient(`${srv.url}/`, {
    handler: c.handler,
    state: 0,
    heartbeat: { interval: 20, timeout: 40 },
    policy: growing(),
    closeTimeout: 100,
  });
  t.teardown(() => conn.close());
  const r = await conn.closed;
  t.is(r.code, 1006);
  t.is(c.attempts.length, 1);
  t.is(c.disconnects[0]!.why, 'closed');
});

test('state survives reconnections and callbacks run one at a time', async (t) => {
  const { s } = await server(t, 1);
  let running = 0;
  let overlap = false;
  const c = new Client({
    handleIn: async (m, st) => {
      running++;
      if (running > 1) overlap = true;
      await delay(5);
      running--;
      c.messages.push(m);
      return ok(st + 1);
    },
    handleDisconnect: async (r, st) => {
      running++;
      if (running > 1) overlap = true;
      await delay(5);
      running--;
      c.disconnects.push({ ...r, at: Date.now() });
      return ok(st + 100);
    },
  });
  let finalState = -1;
  c.handler.terminate = (_r, st) => {
    finalState = st;
  };
  const conn = open(t, s, '/echo', c, { policy: growing() });
  await conn.opened;
  conn.send('1');
  conn.send('2');
  await until(() => c.messages.length === 2);
  s.drops.RST!();
  await until(() => conn.status().connects === 2);
  conn.send('3');
  await until(() => c.messages.length === 3);
  conn.close();
  await conn.closed;
  t.false(overlap);
  // 3 messages, 2 disconnects (the drop and the final close)
  t.is(finalState, 3 + 200);
});

test('close() before the first attempt ends it at once; opened rejects', async (t) => {
  const c = new Client();
  const conn = connectClient('ws://127.0.0.1:1/', { handler: c.handler, state: 0 });
  conn.close(4000, 'never mind');
  const r = await conn.closed;
  t.is(r.code, 4000);
  await t.throwsAsync(conn.opened);
  t.is(c.attempts.length, 0);
  t.is(c.terminated.length, 1);
});

test('bad arguments throw at once', (t) => {
  const handler = new Client().handler;
  const codes = [
    () => connectClient('ftp://x/', { handler }),
    () => connectClient('ws://x/#f', { handler }),
    () => connectClient('ws://x/', { handler, heartbeat: { interval: 0 } }),
    () => connectClient('ws://x/', { handler, queue: { max: -1 } }),
  ].map((f) => (t.throws(f) as WebSocketError).code);
  t.deepEqual(codes, [
    'WS_ERR_INVALID_URL',
    'WS_ERR_INVALID_URL',
    'WS_ERR_INVALID_ARGUMENT',
    'WS_ERR_INVALID_ARGUMENT',
  ]);
});
