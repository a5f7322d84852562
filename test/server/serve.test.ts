// serve(): one handler (or routes) on HTTP/1.1, HTTP/2 and HTTP/3 on one port number,
// with Alt-Svc on the TCP answers, one maxConnections count and one shutdown for all
// versions, and clear errors for combinations a port cannot serve.

import test from 'ava';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { buffered, type RequestHandler, websocket } from '../../src/server/handler.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { type CloseReason, ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';
import { clientFor } from '../http/helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('serve');
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await removeCerts(certs);
});

const echo = { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) };
const handle: RequestHandler = (req) =>
  req.upgrade
    ? websocket(echo, null, { headers: { 'x-http': req.http } })
    : buffered(200, { 'content-type': 'text/plain' }, `plain over ${req.http}\n`);

async function echoOnce(url: string, http: 1 | 2 | 3): Promise<string> {
  const got: string[] = [];
  const s = await connect(url, {
    http,
    tls: { ca: certs.ca },
    state: null,
    handler: {
      handleIn: (m, st) => {
        got.push(String(m.data));
        return ok(st);
      },
    },
  });
  s.send(`over ${s.request.http}`);
  await until(() => got.length === 1);
  s.close(1000);
  await s.closed;
  return got[0]!;
}

test('with tls: HTTP/1.1, HTTP/2 and HTTP/3 on one port number, one handler, Alt-Svc on TCP', async (t) => {
  const s = await serve({ tls: { cert: certs.cert, key: certs.key }, handle });
  t.teardown(() => s.close());
  t.deepEqual([...s.versions].sort(), ['1.1', '2', '3']);
  t.regex(s.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
  const url = `wss://localhost:${s.port}/echo`;
  t.is(await echoOnce(url, 1), 'over 1.1');
  t.is(await echoOnce(url, 2), 'over 2');
  t.is(await echoOnce(url, 3), 'over 3');
  for (const [name, http] of [
    ['h1-tls', '1.1'],
    ['h2', '2'],
    ['h3', '3'],
  ] as const) {
    const c = clientFor(name, s.port, certs.ca);
    const res = await c.fetch({ path: '/' });
    c.close();
    t.is(res.status, 200, name);
    t.is(res.body.toString(), `plain over ${http}\n`, name);
    // RFC 7838: HTTP/3 advertised on the TCP answers, not on HTTP/3's own
    t.is(res.headers['alt-svc'], http === '3' ? undefined : `h3=":${s.port}"; ma=86400`, name);
  }
});

test('one maxConnections count and one shutdown across the versions', async (t) => {
  const s = await serve({ tls: { cert: certs.cert, key: certs.key }, handle, maxConnections: 2 });
  const url = `wss://localhost:${s.port}/echo`;
  const ends: CloseReason[] = [];
  const open = async (http: 1 | 2 | 3): Promise<Session<null>> => {
    const session = await connect(url, {
      http,
      tls: { ca: certs.ca },
      state: null,
      handler: { handleIn: (_m, st) => ok(st), terminate: (r) => void ends.push(r) },
    });
    return session;
  };
  await open(1);
  await open(3);
  const third = await open(2).then(
    () => 'opened',
    (err: WebSocketError) => err.status,
  );
  t.is(third, 503, 'the HTTP/2 upgrade counts the HTTP/1.1 and HTTP/3 WebSockets');
  await s.close();
  await until(() => ends.length === 2);
  t.deepEqual(
    ends.map((r) => r.code),
    [1001, 1001],
  );
});

test('without tls: HTTP/1.1 by default, h2c when asked; routes work as handle does', async (t) => {
  const routes = { '/echo': { handler: echo, state: null } };
  const h1 = await serve({ routes });
  t.teardown(() => h1.close());
  t.deepEqual(h1.versions, ['1.1']);
  t.is(await echoOnce(`${h1.url}/echo`, 1), 'over 1.1');
  const h2c = await serve({ routes, http: [2] });
  t.teardown(() => h2c.close());
  t.deepEqual(h2c.versions, ['2']);
  t.regex(h2c.url, /^ws:\/\//);
  t.is(await echoOnce(`${h2c.url}/echo`, 2), 'over 2');
});

test('a port that cannot serve what is asked: a clear error, nothing left listening', async (t) => {
  const codes = async (p: Promise<unknown>) =>
    p.then(
      () => 'served',
      (e: WebSocketError) => `${e.code}: ${e.message}`,
    );
  t.regex(
    await codes(serve({ handle, http: [3] })),
    /WS_ERR_INVALID_ARGUMENT: .*HTTP\/3 needs tls/,
  );
  t.regex(await codes(serve({ handle, http: [1, 2] })), /WS_ERR_INVALID_ARGUMENT: .*not both/);
  t.regex(await codes(serve({ handle, http: [4 as 3] })), /WS_ERR_INVALID_ARGUMENT/);
  // the port is taken: the TCP listener fails and nothing stays open
  const first = await serve({ handle });
  t.teardown(() => first.close());
  t.regex(await codes(serve({ handle, port: first.port })), /EADDRINUSE/);
});

test('one maxHeaderSize bounds the request header section on every version', async (t) => {
  const s = await serve({ tls: { cert: certs.cert, key: certs.key }, handle, maxHeaderSize: 2048 });
  t.teardown(() => s.close());
  const outcome: Record<string, string> = {};
  for (const name of ['h1-tls', 'h2', 'h3'] as const) {
    for (const size of [500, 4000]) {
      const c = clientFor(name, s.port, certs.ca);
      const r = await c.fetch({ path: '/', headers: { 'x-big': 'a'.repeat(size) } }).then(
        (res) =>
          `${res.status}${res.complete ? '' : ' cut'}${res.rstCode ? ` rst ${res.rstCode}` : ''}`,
        (err: Error & { code?: string }) => `error ${err.code ?? err.message}`,
      );
      c.close();
      outcome[`${name} ${size}`] = r;
    }
  }
  t.is(outcome['h1-tls 500'], '200');
  t.is(outcome['h2 500'], '200');
  t.is(outcome['h3 500'], '200');
  t.is(outcome['h1-tls 4000'], '431');
  // RFC 9113 §10.5.1 (431), RFC 9114 §4.2.2 (the request stream reset, H3_EXCESSIVE_LOAD)
  t.is(outcome['h2 4000'], '431');
  t.is(outcome['h3 4000'], 'error H3_ERR');
});
