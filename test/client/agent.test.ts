// Agents: the pools of HTTP/2 sessions and HTTP/3 connections that WebSockets share.
// Connections are keyed by value (TLS options built afresh per call still share one
// connection, on h2 and h3 alike; other QUIC settings get another), an agent's idle
// timeout closes its idle connections, `close()` sends them away, and agents never share.

import test from 'ava';
import { Agent, globalAgent } from '../../src/client/agent.js';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import type { Server } from '../../src/server/context.js';
import { serve } from '../../src/server/serve.js';
import { ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';

let certs: TestCerts;
let server: Server;
test.before(async () => {
  certs = await makeCerts('agent');
  server = await serve({
    tls: { cert: certs.cert, key: certs.key },
    routes: {
      '/echo': {
        state: null,
        handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
      },
    },
  });
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await server.close();
  await removeCerts(certs);
});

const url = () => `wss://localhost:${server.port}/echo`;

function open(http: 2 | 3, extra: Record<string, unknown> = {}): Promise<Session<null>> {
  // a fresh TLS options object every call, as applications write them
  return connect(url(), {
    http,
    tls: { ca: Buffer.from(certs.ca) },
    state: null,
    handler: { handleIn: (_m, s) => ok(s) },
    ...extra,
  });
}

async function closeAll(sessions: Session<null>[]): Promise<void> {
  for (const s of sessions) s.close(1000);
  await Promise.all(sessions.map((s) => s.closed));
}

for (const http of [2, 3] as const) {
  test(`h${http}: equal TLS options built per call share one pooled connection; agents do not share`, async (t) => {
    const agent = new Agent();
    const a = await open(http, { agent });
    const b = await open(http, { agent });
    t.is(agent.size, 1, 'one connection for two WebSockets with equal options');
    t.is(a.request.remotePort, b.request.remotePort);
    const other = new Agent();
    const c = await open(http, { agent: other });
    t.is(other.size, 1);
    t.is(agent.size, 1, 'another agent opened its own');
    await closeAll([a, b, c]);
    agent.close();
    other.close();
    await until(() => agent.size === 0 && other.size === 0);
  });

  test(`h${http}: an agent's idleTimeout closes its connection after the last WebSocket; close() empties it`, async (t) => {
    const agent = new Agent({ idleTimeout: 50 });
    const a = await open(http, { agent });
    t.is(agent.size, 1);
    await closeAll([a]);
    await until(() => agent.size === 0, 3000, 'the idle connection to close');
    const b = await open(http, { agent });
    t.is(agent.size, 1);
    agent.close();
    t.is(agent.size, 0, 'close() takes every connection out of the pool at once');
    // the WebSocket on it finishes first (GOAWAY, not a reset)
    b.send('still here');
    await closeAll([b]);
    t.pass();
  });
}

test('h3: other QUIC settings get another connection (they are part of the key)', async (t) => {
  const agent = new Agent();
  const a = await open(3, { agent, quic: { maxIdleTimeout: 20_000 } });
  const b = await open(3, { agent, quic: { maxIdleTimeout: 20_000 } });
  const c = await open(3, { agent, quic: { maxIdleTimeout: 25_000 } });
  t.is(agent.size, 2);
  await closeAll([a, b, c]);
  agent.close();
});

test('connect() without an agent uses globalAgent', async (t) => {
  const before = globalAgent.size;
  const a = await open(2);
  t.is(globalAgent.size, before + 1);
  await closeAll([a]);
  globalAgent.close();
  t.is(globalAgent.size, 0);
});
