// Issue 16: what a user sees when things fail, for each HTTP version (h1, h2, h3) and
// each client API: `connect()`, `connectClient()` (with a ReconnectPolicy) and the WHATWG
// `WebSocket`. The failures: a server SIGKILLed and restarted on the same port (a real
// `omniws serve`), nothing listening, a server that accepts and never answers, a
// certificate that does not verify, and a 503 with Retry-After. docs/client.md "What a
// client sees when things fail" is this file as a table. Times are asserted only as
// "within the bound the options set, plus seconds of margin": CI machines are loaded.

import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { Agent } from '../../src/client/agent.js';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { connectClient } from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import type { DisconnectReason, TimeoutInfo } from '../../src/client/types.js';
import { type CloseEvent, type ErrorEvent, WebSocket } from '../../src/client/whatwg.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import type { Server } from '../../src/server/context.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { type CloseReason, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';
import { freeTcpPort, freeUdpPort, killProcess, startServeProcess } from '../serve-process.js';

const _bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'omniws.js');
const versions = [1, 2, 3] as const;
/** Slack on every time bound: seconds, not milliseconds. */
const MARGIN = 5000;

let certs: TestCerts;
let stranger: TestCerts;
test.before(async () => {
  [certs, stranger] = await Promise.all([makeCerts('matrix'), makeCerts('matrix-stranger')]);
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await Promise.all([certs && removeCerts(certs), stranger && removeCerts(stranger)]);
});

const handler = { handleIn: (_m: unknown, s: null) => ok(s) };
const routes = {
  '/echo': {
    state: null,
    handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
  },
};

/** Rejects after `ms` with what it waited for, so that no wait is unbounded. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** The error a promise rejects with; fails if it resolves. */
async function rejection(p: Promise<unknown>, ms: number, what: string): Promise<WebSocketError> {
  return within(
    p.then(
      () => {
        throw new Error(`${what} opened`);
      },
      (e: WebSocketError) => e,
    ),
    ms,
    what,
  );
}

/** A fresh agent (its own pools), closed in teardown. */
function agentFor(t: { teardown(fn: () => void): void }): Agent {
  const a = new Agent({ idleTimeout: 100 });
  t.teardown(() => a.close());
  return a;
}

/** What a WebSocket fired: the events in order, the error, the close event and when. */
interface WsOutcome {
  events: string[];
  error: unknown;
  close: Promise<CloseEvent & { at: number }>;
}

function watch(ws: WebSocket): WsOutcome {
  const out: WsOutcome = { events: [], error: undefined, close: Promise.resolve() as never };
  out.close = new Promise((resolve) => {
    ws.addEventListener('open', () => out.events.push('open'));
    ws.addEventListener('error', (e) => {
      out.events.push('error');
      out.error = (e as ErrorEvent).error;
    });
    ws.addEventListener('close', (e) => {
      out.events.push('close');
      resolve(Object.assign(e as CloseEvent, { at: Date.now() }));
    });
  });
  return out;
}

/**
 * A handshake that ran out of time: WS_ERR_HANDSHAKE_TIMEOUT on every version, whichever
 * timer fires first (the attempt's, or the TLS / QUIC handshake's own with the same
 * deadline: it was WS_ERR_HANDSHAKE then, which one a user saw depending on timer order).
 */
function assertTimedOut(t: ExecutionContext, _http: 1 | 2 | 3, err: unknown, what: string): void {
  const e = err as WebSocketError;
  t.is(e.code, 'WS_ERR_HANDSHAKE_TIMEOUT', `${what}: ${e.message}`);
}

// ── 1. the server process is SIGKILLed and restarted on the same port ──────────────

for (const http of versions) {
  test(`h${http}: SIGKILL and restart: connect ends 1006, connectClient reopens, WebSocket closes 1006`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), `omniws-matrix-h${http}-`));
    const port = await freeTcpPort();
    let proc = await startServeProcess(port, dir);
    t.teardown(async () => {
      await killProcess(proc);
      await rm(dir, { recursive: true, force: true });
    });
    const ca = await readFile(join(dir, 'ca.pem'));
    const url = `wss://localhost:${port}/echo`;
    // each API on its own pooled connection (its own agent): each must learn by itself
    let ended: { reason: CloseReason; at: number } | undefined;
    const session = await connect(url, {
      http,
      tls: { ca },
      agent: agentFor(t),
      handshakeTimeout: 5000,
      state: null,
      handler: {
        ...handler,
        terminate: (reason) => {
          ended = { reason, at: Date.now() };
        },
      },
    });
    const opens: number[] = [];
    const disconnects: DisconnectReason[] = [];
    const maxDelay = 200;
    const conn = connectClient(url, {
      http,
      tls: { ca },
      agent: agentFor(t),
      handshakeTimeout: 2000,
      state: null,
      policy: new ReconnectPolicy({ initialDelay: 100, maxDelay }),
      // h3: the pings are the packets that meet the restarted server
      heartbeat: { interval: 200, timeout: 20_000 },
      handler: {
        ...handler,
        handleConnect: (_info, s) => {
          opens.push(Date.now());
          return ok(s);
        },
        handleDisconnect: (d, s) => {
          disconnects.push(d);
          return ok(s);
        },
      },
    });
    t.teardown(() => conn.close());
    await within(conn.opened, 10_000, 'connectClient to open');
    const ws = new WebSocket(url, [], { http, tls: { ca }, agent: agentFor(t) });
    t.teardown(() => ws.close());
    const seen = watch(ws);
    await within(
      new Promise((r) => ws.addEventListener('open', r, { once: true })),
      10_000,
      'the WebSocket to open',
    );

    await killProcess(proc);
    const killed = Date.now();
    if (http !== 3) {
      // TCP: the kernel closes the dead process's sockets, and the clients see it at once
      await until(() => ended !== undefined, MARGIN, 'the session to end after the kill');
      t.true(ended!.at - killed < MARGIN, `connect ended ${ended!.at - killed} ms after the kill`);
      const close = await within(seen.close, MARGIN, 'the WebSocket to close after the kill');
      t.true(close.at - killed < MARGIN, `WebSocket closed ${close.at - killed} ms after the kill`);
    }
    proc = await startServeProcess(port, dir);
    const restarted = Date.now();
    if (http === 3) {
      // UDP: nothing tells the client until its next packet meets the new server, which
      // answers with a stateless reset
      session.send('anyone there?');
      if (ws.readyState === WebSocket.OPEN) ws.send('anyone there?');
      await until(() => ended !== undefined, MARGIN, 'the session to end after the restart');
      t.true(
        ended!.at - restarted < MARGIN,
        `connect ended ${ended!.at - restarted} ms after the restart`,
      );
      const close = await within(seen.close, MARGIN, 'the WebSocket to close after the restart');
      t.true(
        close.at - restarted < MARGIN,
        `WebSocket closed ${close.at - restarted} ms after the restart`,
      );
    }
    t.is(ended!.reason.code, 1006, 'connect: no close frame, 1006');
    const close = await seen.close;
    t.is(close.code, 1006);
    t.false(close.wasClean);
    t.deepEqual(seen.events, ['open', 'close'], 'a lost connection is not an error event');

    await until(() => opens.length === 2, 10_000 + MARGIN, 'connectClient to open again');
    t.true(
      opens[1]! - restarted < maxDelay + MARGIN,
      `connectClient reopened ${opens[1]! - restarted} ms after the restart`,
    );
    t.is(disconnects[0]?.phase, 'open');
    t.is(disconnects[0]?.code, 1006);
    t.log(
      `h${http}: connect ended ${ended!.at - killed} ms after the kill; restart took ${restarted - killed} ms; connectClient reopened ${opens[1]! - restarted} ms after the restart after ${disconnects.length - 1} refused attempt(s)`,
    );
    conn.close();
    await within(conn.closed, MARGIN, 'connectClient to close');
  });
}

// ── 2. nothing listens ────────────────────────────────────────────────────────────

for (const http of versions) {
  test(`h${http}: nothing listens: connect rejects, connectClient spaces its attempts, WebSocket error + close 1006`, async (t) => {
    // h3 cannot learn that a UDP port is closed: only the handshake timeout ends it
    const port = http === 3 ? await freeUdpPort() : await freeTcpPort();
    const url = `wss://localhost:${port}/echo`;
    const handshakeTimeout = http === 3 ? 1000 : 5000;
    const started = Date.now();
    const err = await rejection(
      connect(url, {
        http,
        tls: { ca: certs.ca },
        handshakeTimeout,
        agent: agentFor(t),
        state: null,
        handler,
      }),
      handshakeTimeout + MARGIN,
      'connect',
    );
    const took = Date.now() - started;
    if (http === 3) {
      assertTimedOut(t, http, err, 'connect');
      t.true(took >= handshakeTimeout - 5, `rejected after ${took} ms`);
    } else {
      t.is(err.code, 'WS_ERR_HANDSHAKE');
      t.regex(
        `${err.message} ${String((err.cause as Error | undefined)?.message)}`,
        /ECONNREFUSED/,
      );
    }
    t.true(took < handshakeTimeout + MARGIN, `rejected after ${took} ms`);

    // connectClient: 1 attempt + maxAttempts retries, each after the policy's delay
    const attempts: number[] = [];
    const initialDelay = 200;
    const conn = connectClient(url, {
      http,
      tls: { ca: certs.ca },
      handshakeTimeout,
      agent: agentFor(t),
      state: null,
      policy: new ReconnectPolicy({ initialDelay, factor: 2, jitter: 'none', maxAttempts: 2 }),
      handler: {
        ...handler,
        connectionInfo: () => {
          attempts.push(Date.now());
          return undefined;
        },
      },
    });
    const bound = 3 * (http === 3 ? handshakeTimeout : 0) + initialDelay * 3 + MARGIN;
    const cerr = await rejection(conn.opened, bound, 'connectClient');
    if (http === 3) assertTimedOut(t, http, cerr, 'connectClient');
    else t.is(cerr.code, 'WS_ERR_HANDSHAKE');
    t.is(attempts.length, 3, 'the first attempt and maxAttempts (2) retries');
    const gap1 = attempts[1]! - attempts[0]!;
    const gap2 = attempts[2]! - attempts[1]!;
    const floor = http === 3 ? handshakeTimeout : 0;
    t.true(gap1 >= floor + initialDelay - 5, `1st retry ${gap1} ms after the first attempt`);
    t.true(gap2 >= floor + initialDelay * 2 - 5, `2nd retry ${gap2} ms after the 1st`);
    await within(conn.closed, MARGIN, 'connectClient to close');

    const ws = new WebSocket(url, [], {
      http,
      tls: { ca: certs.ca },
      handshakeTimeout,
      agent: agentFor(t),
    });
    const seen = watch(ws);
    const close = await within(seen.close, handshakeTimeout + MARGIN, 'the WebSocket to close');
    t.deepEqual(seen.events, ['error', 'close']);
    if (http === 3) assertTimedOut(t, http, seen.error, 'WebSocket');
    else t.is((seen.error as WebSocketError).code, 'WS_ERR_HANDSHAKE');
    t.is(close.code, 1006);
    t.false(close.wasClean);
    t.log(`h${http}: connect rejected after ${took} ms; retries after ${gap1} and ${gap2} ms`);
  });
}

// ── 3. a server that accepts and never answers ────────────────────────────────────

/** h1/h2: a TCP server that accepts and never writes (the TLS handshake never completes); h3: a UDP socket that swallows datagrams. */
async function blackHole(http: 1 | 2 | 3): Promise<{ port: number; close(): Promise<void> }> {
  if (http === 3) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', () => {});
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    return {
      port: udp.address().port,
      close: () => new Promise<void>((r) => udp.close(() => r())),
    };
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The three APIs against a black hole, each on its own pooled connection (its own agent). */
async function intoBlackHole(t: ExecutionContext, http: 1 | 2 | 3, handshakeTimeout: number) {
  const hole = await blackHole(http);
  t.teardown(() => hole.close());
  const url = `wss://localhost:${hole.port}/echo`;
  const opts = () => ({ http, tls: { ca: certs.ca }, handshakeTimeout, agent: agentFor(t) });
  const started = Date.now();
  const connectP = rejection(
    connect(url, { ...opts(), state: null, handler }),
    handshakeTimeout + MARGIN,
    'connect',
  ).then((error) => ({ error, took: Date.now() - started }));

  const timeouts: TimeoutInfo[] = [];
  const failures: unknown[] = [];
  let attempts = 0;
  const conn = connectClient(url, {
    ...opts(),
    state: null,
    policy: new ReconnectPolicy({ initialDelay: 100, jitter: 'none', maxAttempts: 1 }),
    handler: {
      ...handler,
      connectionInfo: () => {
        attempts++;
        return undefined;
      },
      handleTimeout: (info, s) => {
        timeouts.push(info);
        return ok(s);
      },
      handleDisconnect: (d, s) => {
        failures.push(d.error);
        return ok(s);
      },
    },
  });
  const clientP = rejection(conn.opened, 2 * handshakeTimeout + 100 + MARGIN, 'connectClient');

  const seen = watch(new WebSocket(url, [], opts()));
  const [c, clientError, close] = await Promise.all([
    connectP,
    clientP,
    within(seen.close, handshakeTimeout + MARGIN, 'the WebSocket to close'),
  ]);
  await within(conn.closed, MARGIN, 'connectClient to close');
  return { connect: c, clientError, attempts, timeouts, failures, seen, close };
}

for (const http of versions) {
  test(`h${http}: accepts but never answers: every API gives up after handshakeTimeout`, async (t) => {
    const handshakeTimeout = 500;
    const r = await intoBlackHole(t, http, handshakeTimeout);
    t.true(
      r.connect.took >= handshakeTimeout - 5 && r.connect.took < handshakeTimeout + MARGIN,
      `connect rejected after ${r.connect.took} ms`,
    );
    t.is(r.attempts, 2, 'connectClient retries a timeout (maxAttempts: 1)');
    t.deepEqual(r.seen.events, ['error', 'close']);
    t.is(r.close.code, 1006);
    t.false(r.close.wasClean);
    {
      assertTimedOut(t, http, r.connect.error, 'connect');
      assertTimedOut(t, http, r.clientError, 'connectClient');
      assertTimedOut(t, http, r.seen.error, 'WebSocket');
      t.is(r.failures.length, 2);
      for (const e of r.failures) assertTimedOut(t, http, e, 'a connectClient attempt');
      // handleTimeout hears of each attempt that ended WS_ERR_HANDSHAKE_TIMEOUT
      const timedOut = r.failures.filter(
        (e) => (e as WebSocketError).code === 'WS_ERR_HANDSHAKE_TIMEOUT',
      ).length;
      t.deepEqual(
        r.timeouts.map((x) => x.kind),
        Array(timedOut).fill('handshake'),
      );
      t.is(timedOut, 2);
    }
  });
}

// Found by this matrix, fixed since, pinned here:
// - h2 over TLS: a TLS handshake that never completed ended as WS_ERR_HANDSHAKE ("connection
//   failed: TLS connection timed out", src/h2/client.ts), not WS_ERR_HANDSHAKE_TIMEOUT as
//   on h1 and h3; connectClient's handleTimeout was not called for it either.
// - handleTimeout's `{ kind: 'handshake', timeout }` said 15000 when the option was
//   `handshakeTimeout: 500`: src/client/lifecycle.ts read only the deprecated `timeout`.
test('h2: a TLS handshake that never completes is WS_ERR_HANDSHAKE_TIMEOUT', async (t) => {
  const r = await intoBlackHole(t, 2, 500);
  t.is(r.connect.error.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  t.is(r.clientError.code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  t.is((r.seen.error as WebSocketError).code, 'WS_ERR_HANDSHAKE_TIMEOUT');
});

for (const http of versions) {
  test(`h${http}: connectClient's handleTimeout reports the handshakeTimeout it was given`, async (t) => {
    const r = await intoBlackHole(t, http, 500);
    t.deepEqual(
      r.timeouts.map((x) => x.timeout),
      [500, 500],
    );
  });
}

// ── 4. a certificate that does not verify ─────────────────────────────────────────

for (const http of versions) {
  test(`h${http}: a certificate from another CA: WS_ERR_CERTIFICATE, not retried, WebSocket error + close 1006`, async (t) => {
    const server = await serve({ tls: { cert: certs.cert, key: certs.key }, routes });
    t.teardown(() => server.close());
    const url = `wss://localhost:${server.port}/echo`;
    const opts = { http, tls: { ca: stranger.ca }, handshakeTimeout: 5000 };
    const err = await rejection(connect(url, { ...opts, state: null, handler }), 10_000, 'connect');
    t.is(err.code, 'WS_ERR_CERTIFICATE');

    let attempts = 0;
    const conn = connectClient(url, {
      ...opts,
      state: null,
      policy: new ReconnectPolicy({ initialDelay: 10, maxDelay: 20 }),
      handler: {
        ...handler,
        connectionInfo: () => {
          attempts++;
          return undefined;
        },
      },
    });
    const cerr = await rejection(conn.opened, 10_000, 'connectClient');
    t.is(cerr.code, 'WS_ERR_CERTIFICATE');
    t.is(attempts, 1, 'the default policy does not retry a certificate failure');
    await within(conn.closed, MARGIN, 'connectClient to close');

    const ws = new WebSocket(url, [], opts);
    const seen = watch(ws);
    const close = await within(seen.close, 10_000, 'the WebSocket to close');
    t.deepEqual(seen.events, ['error', 'close']);
    t.is((seen.error as WebSocketError).code, 'WS_ERR_CERTIFICATE');
    t.is(close.code, 1006);
    t.false(close.wasClean);
  });
}

// ── 5. 503 with Retry-After (maxConnections reached) ──────────────────────────────

for (const http of versions) {
  test(`h${http}: a 503 with Retry-After: WS_ERR_HANDSHAKE_STATUS with the response; WebSocket error + close 1006`, async (t) => {
    const server: Server = await serve({
      tls: { cert: certs.cert, key: certs.key },
      maxConnections: 1,
      routes,
    });
    t.teardown(() => server.close());
    const url = `wss://localhost:${server.port}/echo`;
    const opts = { http, tls: { ca: certs.ca }, handshakeTimeout: 5000, agent: agentFor(t) };
    const holder = await within(connect(url, { ...opts, state: null, handler }), 10_000, 'holder');
    t.teardown(() => holder.close(1000));
    const err = await rejection(connect(url, { ...opts, state: null, handler }), 10_000, 'connect');
    t.is(err.code, 'WS_ERR_HANDSHAKE_STATUS');
    t.is(err.status, 503);
    t.is(err.response?.headers['retry-after'], '1');

    const ws = new WebSocket(url, [], opts);
    const seen = watch(ws);
    const close = await within(seen.close, 10_000, 'the WebSocket to close');
    t.deepEqual(seen.events, ['error', 'close']);
    t.is((seen.error as WebSocketError).status, 503);
    t.is(close.code, 1006);
    t.false(close.wasClean);
  });
}
