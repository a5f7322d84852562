// NAT rebinding (RFC 9000 §9): a client's datagrams start arriving from another port in
// the middle of a connection (a NAT forgot its mapping). The server follows the new path
// (quiche validates it) and the WebSocket goes on without a hitch. A client that moves on
// purpose (session.migrate()) is active-migration.test.ts.

import test from 'ava';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { reply } from '../../src/ws/handler.js';
import { recorder } from '../helpers.js';
import { makeCerts, relay, removeCerts, type TestCerts, until } from './helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('h3-migration');
});
test.after.always(async () => {
  closeH3Connections();
  await removeCerts(certs);
});

test('a WebSocket survives the client port changing under it (the old one is gone)', async (t) => {
  const ends: string[] = [];
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    routes: {
      '/echo': {
        handler: {
          handleIn: (m, s: null) => reply(s, m.data),
          terminate: (r) => {
            ends.push(`${r.kind} ${r.code}`);
          },
        },
        state: null,
      },
    },
  });
  t.teardown(() => l.close());
  const r = await relay(l.port);
  t.teardown(() => r.close());
  const rec = recorder({ echo: false });
  const ws = await connectH3(`wss://127.0.0.1:${r.port}/echo`, {
    handler: rec.handler,
    state: null,
    tls: { ca: certs.ca },
    sessionIdleTimeout: 50,
  });
  ws.send('before');
  await until(() => rec.messages.length === 1);
  const before = r.upstreamPort;
  await r.rebind();
  t.not(r.upstreamPort, before);
  const fromServerBefore = r.fromServer.length;
  for (let i = 0; i < 20; i++) ws.send(`after ${i}`);
  await until(() => rec.messages.length === 21, 5000, 'the echoes after the rebinding');
  t.deepEqual(
    rec.messages.map((m) => String(m.data)),
    ['before', ...Array.from({ length: 20 }, (_, i) => `after ${i}`)],
  );
  t.true(r.fromServer.length > fromServerBefore, 'the server answered on the new path');
  ws.close(1000);
  t.like(await ws.closed, { code: 1000, wasClean: true });
  await until(() => ends.length === 1);
  t.deepEqual(ends, ['remote 1000']);
});
