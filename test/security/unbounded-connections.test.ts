// Finding: nothing bounded the number of WebSockets a server would accept; each holds
// buffers, timers and a handler state. Fixed in src/h1/server.ts (+ route.ts):
// `maxConnections` answers 503 (Retry-After) to upgrades beyond it, counting the
// upgrades still being decided, before the route is consulted.

import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok } from '../../src/ws/handler.js';
import { recorder, until } from '../helpers.js';

test('upgrades beyond maxConnections get 503; a slot frees when a session ends', async (t) => {
  let routed = 0;
  const srv = await listen({
    maxConnections: 3,
    route: () => {
      routed++;
      return { handler: recorder().handler, state: null };
    },
  });
  t.teardown(() => srv.close());
  const open = () =>
    connectH1(`${srv.url}/`, { state: null, handler: recorder({ echo: false }).handler });
  const sessions = await Promise.all([open(), open(), open()]);
  const err = await t.throwsAsync(open());
  t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE_STATUS');
  t.is((err as WebSocketError).status, 503);
  t.is(routed, 3, 'the refused upgrade never reached the route');
  sessions[0]!.close();
  await sessions[0]!.closed;
  await until(() => srv.registry.sessions.size === 2);
  const again = await open();
  t.is(again.readyState, 'open');
  for (const s of [...sessions.slice(1), again]) s.close();
});

test('upgrades still being decided count too: a slow route cannot be flooded', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const srv = await listen({
    maxConnections: 2,
    route: async () => {
      await gate;
      return { handler: { handleIn: (_m: unknown, s: null) => ok(s) }, state: null };
    },
  });
  t.teardown(() => srv.close());
  const open = () => connectH1(`${srv.url}/`, { state: null, handler: recorder().handler });
  const first = [open(), open()];
  await until(() => true);
  const err = await t.throwsAsync(open());
  t.is((err as WebSocketError).status, 503);
  release();
  const sessions = await Promise.all(first);
  for (const s of sessions) s.close();
});
