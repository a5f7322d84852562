// Issue 16: a server that answers 503 with Retry-After (maxConnections reached, or
// draining) is not hammered: connectClient's next attempt waits at least what the server
// asked for, on HTTP/1.1, HTTP/2 and HTTP/3 alike, then connects once there is room.

import test from 'ava';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { connectClient } from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import type { DisconnectReason } from '../../src/client/types.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { serve } from '../../src/server/serve.js';
import { ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('issue-16-retry-after');
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await removeCerts(certs);
});

for (const http of [1, 2, 3] as const) {
  test(`h${http}: a 503 with Retry-After: 1 delays the next attempt by at least 1 s`, async (t) => {
    const server = await serve({
      tls: { cert: certs.cert, key: certs.key },
      maxConnections: 1,
      routes: {
        '/echo': {
          state: null,
          handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
        },
      },
    });
    t.teardown(() => server.close());
    const url = `wss://localhost:${server.port}/echo`;
    const holder = await connect(url, {
      http,
      tls: { ca: certs.ca },
      state: null,
      handler: { handleIn: (_m, s) => ok(s) },
    });
    const disconnects: DisconnectReason[] = [];
    const conn = connectClient(url, {
      http,
      tls: { ca: certs.ca },
      state: null,
      policy: new ReconnectPolicy({ initialDelay: 10, maxDelay: 20 }),
      handler: {
        handleIn: (_m, s) => ok(s),
        handleDisconnect: (d, s) => {
          disconnects.push(d);
          // room again once the client has been refused twice
          if (disconnects.length === 2) holder.close(1000);
          return ok(s);
        },
      },
    });
    const started = Date.now();
    await conn.opened;
    const took = Date.now() - started;
    t.is(disconnects[0]?.status, 503);
    t.true((disconnects[0]?.retry?.delay ?? 0) >= 1000, `delay ${disconnects[0]?.retry?.delay}`);
    t.true(took >= 2000, `opened after ${took} ms: two refusals, each honoured`);
    conn.close();
    await conn.closed;
  });
}
