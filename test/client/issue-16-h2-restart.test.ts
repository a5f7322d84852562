// Issue 16: once a connection to an origin had failed (ECONNREFUSED while the server was
// down), every later `connect(url, { http: 2 })` in the process failed at once with the
// same error, even after the server was back: the pooled session whose TLS connect had
// failed stayed in the pool with its rejected `ready`. Now a failed session leaves the
// pool, so the next connect tries the origin afresh; over TLS (ALPN) and h2c alike.

import test from 'ava';
import { connect } from '../../src/client/connect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { freeTcpPort } from '../serve-process.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('issue-16');
});
test.after.always(async () => {
  closeH2Sessions();
  await removeCerts(certs);
});

const routes = {
  '/echo': {
    state: null,
    handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
  },
};

for (const secure of [true, false]) {
  test(`h2${secure ? '' : 'c'}: connect after the server came back succeeds at once`, async (t) => {
    const port = await freeTcpPort();
    const url = `${secure ? 'wss://localhost' : 'ws://127.0.0.1'}:${port}/echo`;
    const opts = {
      http: 2 as const,
      state: null,
      handler: { handleIn: (_m: unknown, s: null) => ok(s) },
      ...(secure && { tls: { ca: certs.ca } }),
    };
    const down = await connect(url, opts).then(
      () => 'opened',
      (e: WebSocketError) => e.message,
    );
    t.regex(down, /ECONNREFUSED/);
    const s = await serve({
      port,
      routes,
      ...(secure ? { tls: { cert: certs.cert, key: certs.key }, http: [1, 2] } : { http: [2] }),
    } as Parameters<typeof serve>[0]);
    t.teardown(() => s.close());
    const session = await connect(url, opts);
    t.is(session.http, '2');
    session.close(1000);
    await session.closed;
  });
}
