// 0-RTT over HTTP/3 (issue 20): a client resuming a session that allows early data sends
// requests safe to replay in its first flight, and a server with quic.earlyData acts on
// them before the handshake completes; a request that is not safe to replay (every
// WebSocket, RFC 8470 / RFC 9220) is never acted on from early data: it waits for the
// handshake, or gets 425. Round trips are counted through the lab relay, whose one-way
// delay dwarfs everything loopback adds.

import test from 'ava';
import { startLab } from '../../src/dev/lab.js';
import { ConnectionPool } from '../../src/h2/pool.js';
import {
  closeH3Connections,
  connectH3,
  type H3Pool,
  type PooledConnection,
} from '../../src/h3/client.js';
import { H3Connection } from '../../src/h3/connection.js';
import { fetchH3 } from '../../src/h3/fetch.js';
import type { Header } from '../../src/h3/qpack.js';
import type { QuicConnection } from '../../src/h3/quic.js';
import { connectQuic } from '../../src/h3/quic-client.js';
import { type H3Listener, listenH3 } from '../../src/server/h3-server.js';
import { buffered, type Request, websocket } from '../../src/server/handler.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('early-data');
});
test.after.always(async () => {
  closeH3Connections();
  if (certs) await removeCerts(certs);
});

// one way: a round trip is 500 ms, so that a loaded machine (CI runs 1 GiB transfers beside
// this file) stalls well under half a round trip
const DELAY = 250;
const RTT = 2 * DELAY;
const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };

/** A server that records, per request, its method and whether it was handed over in 0-RTT. */
async function server(
  earlyData: boolean,
  unsafeEarlyData?: 'wait' | 'reject',
): Promise<{ srv: H3Listener; seen: { method: string; early: boolean }[] }> {
  const seen: { method: string; early: boolean }[] = [];
  const srv = await listenH3({
    tls: { cert: certs.cert, key: certs.key },
    hosts: ['127.0.0.1'],
    quic: { earlyData },
    ...(unsafeEarlyData && { unsafeEarlyData }),
    handle: (req: Request) => {
      seen.push({ method: req.method, early: req.tls?.earlyData === true });
      if (req.upgrade) return websocket(echo, null);
      return buffered(200, {}, `${req.method} ${req.path}`);
    },
  });
  return { srv, seen };
}

const roundTrips = (ms: number): number => Math.round(ms / RTT);

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; rt: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, rt: roundTrips(performance.now() - t0) };
}

/** Runs of one measurement at most: a loaded machine may stall several in a row. */
const MAX_RUNS = 5;

/**
 * The fewest round trips of runs of `fn`, run until one takes `expected` or fewer (at
 * most MAX_RUNS): a stall of the machine (CI runs heavy tests beside this file) only
 * ever adds time, so the least is the protocol's count. A protocol that takes more
 * round trips than `expected` gives more in every run, and one that takes fewer shows
 * it in the first: the caller's t.is(least, expected) sees either. Every run's value
 * goes to `check`.
 */
async function fewest<T>(
  expected: number,
  fn: () => Promise<T>,
  check: (v: T) => void,
): Promise<number> {
  let least = Number.POSITIVE_INFINITY;
  for (let i = 0; i < MAX_RUNS && least > expected; i++) {
    const { value, rt } = await timed(fn);
    check(value);
    least = Math.min(least, rt);
  }
  return least;
}

/** Wait until the pool's connection closed (and gave its ticket). */
async function drained(pool: H3Pool): Promise<void> {
  await until(() => pool.size === 0, 10_000);
}

test.serial(
  '0-RTT: a resumed GET takes one round trip, a full handshake or a resumption without early data two',
  async (t) => {
    const { srv, seen } = await server(true);
    const lab = await startLab({ target: { host: '127.0.0.1', port: srv.port }, delay: DELAY });
    const url = `https://localhost:${lab.port}/x`;
    const tls = { ca: certs.ca, servername: 'localhost' };
    try {
      // a full handshake each time: a pool of its own, so no ticket
      const full = await fewest(
        2,
        async () => {
          const pool = new ConnectionPool<PooledConnection>();
          const r = await fetchH3(url, {
            tls,
            quic: { earlyData: true },
            h3Pool: pool,
            sessionIdleTimeout: 1,
          });
          await drained(pool);
          return r;
        },
        (r) => {
          t.is(r.status, 200);
          t.is(r.body.toString(), 'GET /x');
          t.false(r.resumed);
          t.false(r.earlyData);
        },
      );
      t.is(full, 2, 'a full handshake, then the request: two round trips');
      t.true(seen.every((s) => !s.early));
      // with a ticket and early data on both sides: the GET rides the 0-RTT packets
      const pool = new ConnectionPool<PooledConnection>();
      const get = () =>
        fetchH3(url, { tls, quic: { earlyData: true }, h3Pool: pool, sessionIdleTimeout: 1 });
      await get();
      await drained(pool);
      const before = seen.length;
      const early = await fewest(
        1,
        async () => {
          const r = await get();
          await drained(pool);
          return r;
        },
        (r) => {
          t.is(r.body.toString(), 'GET /x');
          t.true(r.resumed);
          t.true(r.earlyData, 'the GET left in the 0-RTT packets');
        },
      );
      t.is(early, 1, 'request and handshake in one round trip');
      t.true(
        seen.length > before && seen.slice(before).every((s) => s.early),
        'the server handed each GET over from early data',
      );
      // the same server, a client without early data: resumption alone saves no round trip
      const plain = new ConnectionPool<PooledConnection>();
      const getPlain = () => fetchH3(url, { tls, h3Pool: plain, sessionIdleTimeout: 1 });
      await getPlain();
      await drained(plain);
      const resumed = await fewest(
        2,
        async () => {
          const r = await getPlain();
          await drained(plain);
          return r;
        },
        (r) => {
          t.true(r.resumed);
          t.false(r.earlyData);
        },
      );
      t.is(resumed, 2);
      t.false(seen.at(-1)!.early);
    } finally {
      await lab.close();
      await srv.close();
    }
  },
);

test.serial(
  '0-RTT: a POST waits for the handshake (two round trips) unless the client says never',
  async (t) => {
    const { srv, seen } = await server(true);
    const lab = await startLab({ target: { host: '127.0.0.1', port: srv.port }, delay: DELAY });
    const url = `https://localhost:${lab.port}/p`;
    const tls = { ca: certs.ca, servername: 'localhost' };
    try {
      const pool = new ConnectionPool<PooledConnection>();
      const post = async (earlyData: 'safe' | 'always') => {
        const r = await fetchH3(url, {
          tls,
          quic: { earlyData: true },
          h3Pool: pool,
          sessionIdleTimeout: 1,
          method: 'POST',
          body: 'b',
          earlyData,
        });
        await drained(pool);
        return r;
      };
      await post('safe');
      // 'safe': the client itself holds the POST until the handshake completed
      const held = await fewest(
        2,
        () => post('safe'),
        (r) => {
          t.false(r.earlyData);
          t.true(r.resumed);
        },
      );
      t.is(held, 2);
      // 'always': the POST rides 0-RTT; the server ('wait', the default) acts on it only
      // once the handshake completed, so the answer still takes two round trips
      const early = await fewest(
        2,
        () => post('always'),
        (r) => {
          t.true(r.earlyData);
          t.is(r.status, 200);
        },
      );
      t.is(early, 2);
      t.true(
        seen.every((s) => !s.early),
        'no POST was handed to the application from early data',
      );
    } finally {
      await lab.close();
      await srv.close();
    }
  },
);

/** A low-level client connection (resuming `ticket`) that writes requests itself. */
async function rawClient(
  port: number,
  ticket?: Uint8Array,
): Promise<{ q: QuicConnection; h3: H3Connection }> {
  let h3!: H3Connection;
  const q = await connectQuic({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: certs.ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    ...(ticket && { session: ticket }),
    settings: { earlyData: true },
    onEstablished: (c) => {
      h3 = new H3Connection(c, { role: 'client' });
      return h3;
    },
  });
  return { q, h3 };
}

/** Send a request and resolve with the response's :status (and when it came). */
function ask(
  h3: H3Connection,
  fields: Header[],
  end: boolean,
): Promise<{ status: string; at: number }> {
  const s = h3.request(fields, end);
  return new Promise((resolve, reject) => {
    s.setSink({
      onHeaders: (f) =>
        resolve({ status: f.find(([k]) => k === ':status')?.[1] ?? '', at: performance.now() }),
      onData() {},
      onEnd() {},
      onAbort: reject,
      onDrain() {},
      // a 425 comes with a STOP_SENDING, which may overtake it
      onStopped() {},
      onClose() {},
    });
  });
}

/** A ticket from a first full connection to `port`. */
async function ticketFrom(port: number): Promise<Uint8Array> {
  const { q, h3 } = await rawClient(port);
  await ask(
    h3,
    [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':authority', 'localhost'],
      [':path', '/t'],
    ],
    true,
  );
  await until(() => (q.session()?.length ?? 0) > 0, 3000);
  const ticket = q.session()!;
  q.close(0);
  return ticket;
}

const WS_CONNECT: Header[] = [
  [':method', 'CONNECT'],
  [':protocol', 'websocket'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/ws'],
  ['sec-websocket-version', '13'],
];

for (const policy of ['wait', 'reject'] as const) {
  test.serial(
    `a WebSocket's extended CONNECT in 0-RTT data is never acted on early (unsafeEarlyData '${policy}')`,
    async (t) => {
      const { srv, seen } = await server(true, policy);
      const lab = await startLab({ target: { host: '127.0.0.1', port: srv.port }, delay: DELAY });
      try {
        const ticket = await ticketFrom(lab.port);
        await until(() => srv.connections.size === 0, 10_000, 'the ticket connection closed');
        seen.length = 0;
        // the fewest round trips of runs until one takes the protocol's count (fewest())
        const expected = policy === 'reject' ? 1 : 2;
        const times: number[] = [];
        for (let i = 0; i < MAX_RUNS && roundTrips(Math.min(...times)) > expected; i++) {
          const t0 = performance.now();
          const { q, h3 } = await rawClient(lab.port, ticket);
          t.true(q.earlyData, 'the client writes before the handshake completed');
          const answer = await ask(h3, WS_CONNECT, false);
          t.is(answer.status, policy === 'reject' ? '425' : '200');
          times.push(answer.at - t0);
          // each run is a connection of its own: the next does not wait for the server to
          // let this one go (a CONNECTION_CLOSE is one UDP packet through the relay, and a
          // lost one leaves the server to its idle timeout, as RFC 9000 §10.2 allows)
          q.close(0);
        }
        const least = roundTrips(Math.min(...times));
        if (policy === 'reject') {
          // RFC 8470 §5.2: 425 Too Early, in the first round trip; the handler never saw it
          t.is(least, 1);
          t.deepEqual(seen, []);
        } else {
          // held until the client's Finished arrived: accepted, but a round trip later
          t.is(least, 2);
          t.is(seen.length, times.length);
          t.true(seen.every((s) => s.method === 'CONNECT' && !s.early));
        }
      } finally {
        await lab.close();
        await srv.close();
      }
    },
  );
}

test.serial(
  'the omniws WebSocket client never sends its CONNECT in early data, and a GET beside it does',
  async (t) => {
    const { srv, seen } = await server(true);
    const pool = new ConnectionPool<PooledConnection>();
    const tls = { ca: certs.ca, servername: 'localhost' };
    const base = `localhost:${srv.port}`;
    try {
      await fetchH3(`https://${base}/`, {
        tls,
        quic: { earlyData: true },
        h3Pool: pool,
        sessionIdleTimeout: 1,
      });
      await drained(pool);
      let got!: (text: string) => void;
      const echoed = new Promise<string>((resolve) => {
        got = resolve;
      });
      const [ws, early] = await Promise.all([
        connectH3(`wss://${base}/ws`, {
          handler: {
            handleIn: (m, st) => {
              got(String(m.data));
              return ok(st);
            },
          },
          state: null,
          tls,
          quic: { earlyData: true },
          h3Pool: pool,
        }),
        fetchH3(`https://${base}/g`, { tls, quic: { earlyData: true }, h3Pool: pool }),
      ]);
      t.true(early.earlyData, 'the GET rode 0-RTT');
      t.true(ws.pathStats()!.resumed);
      ws.send('over 0-RTT resumption');
      t.is(await echoed, 'over 0-RTT resumption');
      t.deepEqual(
        seen.slice(1).sort((a, b) => a.method.localeCompare(b.method)),
        [
          { method: 'CONNECT', early: false },
          { method: 'GET', early: true },
        ],
      );
      ws.close(1000);
      await ws.closed;
    } finally {
      await srv.close();
    }
  },
);

test.serial(
  '0-RTT refused (another server, another ticket key): the request goes again after a full handshake',
  async (t) => {
    const a = await server(true);
    const b = await server(true);
    try {
      const ticket = await ticketFrom(a.srv.port);
      const { q, h3 } = await rawClient(b.srv.port, ticket);
      t.true(q.earlyData);
      const answer = await ask(
        h3,
        [
          [':method', 'GET'],
          [':scheme', 'https'],
          [':authority', 'localhost'],
          [':path', '/again'],
        ],
        true,
      );
      t.is(answer.status, '200');
      t.false(q.stats().resumed);
      t.deepEqual(b.seen, [{ method: 'GET', early: false }]);
      q.close(0);
    } finally {
      await a.srv.close();
      await b.srv.close();
    }
  },
);
