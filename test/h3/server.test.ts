// Our HTTP/3 client against our HTTP/3 server (RFC 9220): echo, fragmentation, 16 MiB
// messages, ping, every close path, 20 WebSockets on one QUIC connection, rejected
// CONNECTs, GOAWAY, plain requests, deflate, backpressure, IPv6, the client pool.

import test from 'ava';
import { closeH3Connections, connectH3, h3PoolSize } from '../../src/h3/client.js';
import { H3_INTERNAL_ERROR } from '../../src/h3/errors.js';
import { listen } from '../../src/server/h1-server.js';
import { type H3Listener, type H3ListenOptions, listenH3 } from '../../src/server/h3-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { type Handler, ok, reply, stop } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { recorder } from '../helpers.js';
import { delay, h3Client, makeCerts, removeCerts, type TestCerts, until } from './helpers.js';

let certs: TestCerts;
/** One TLS options object: the pool gives distinct objects distinct connections. */
let tls: { ca: Buffer };

test.before(async () => {
  certs = await makeCerts('h3-server');
  tls = { ca: certs.ca };
});

test.after.always(async () => {
  closeH3Connections();
  await removeCerts(certs);
});

async function server(
  t: { teardown(fn: () => unknown): void },
  opts: Partial<H3ListenOptions> = {},
): Promise<H3Listener> {
  const l = await listenH3({ cert: certs.cert, key: certs.key, ...opts });
  t.teardown(() => l.close());
  return l;
}

function echoRoute(rec = recorder()): WebSocketRoute {
  return { handler: rec.handler, state: null };
}

function client<S = null>(
  url: string,
  handler: Handler<S>,
  more: Record<string, unknown> = {},
): Promise<Session<S>> {
  return connectH3<S>(url, {
    handler,
    state: null as S,
    tls,
    sessionIdleTimeout: 100,
    ...more,
  });
}

test('text and binary echo over HTTP/3; both sides see http 3', async (t) => {
  const srv = recorder();
  const l = await server(t, { routes: { '/echo': echoRoute(srv) } });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo?x=1`, cli.handler);
  t.is(ws.http, '3');
  t.is(ws.request.response?.status, 200);
  ws.send('héllo ✓');
  ws.send(Buffer.from([0, 1, 2, 255]));
  await until(() => cli.messages.length === 2);
  t.deepEqual(cli.messages[0], { type: 'text', data: 'héllo ✓' });
  t.deepEqual(cli.messages[1], { type: 'binary', data: Buffer.from([0, 1, 2, 255]) });
  ws.close(1000);
  const [a, b] = await Promise.all([cli.terminated, srv.terminated]);
  t.deepEqual([a.kind, a.code, a.wasClean], ['normal', 1000, true]);
  t.deepEqual([b.kind, b.code, b.wasClean], ['remote', 1000, true]);
});

test('the server handler sees the request over HTTP/3 (path, authority, peer)', async (t) => {
  let seen: Parameters<NonNullable<Handler<null>['init']>>[0] | undefined;
  const l = await server(t, {
    routes: {
      '/info': {
        state: null,
        handler: {
          init(req, s) {
            seen = req;
            return stop(s, 1000);
          },
          handleIn: (_m, s) => ok(s),
        },
      },
    },
  });
  const cli = recorder({ echo: false });
  await client(`${l.url}/info?q=2`, cli.handler, { headers: { 'x-test': 'yes' } });
  await cli.terminated;
  t.is(seen?.http, '3');
  t.is(seen?.method, 'CONNECT');
  t.is(seen?.path, '/info?q=2');
  t.is(seen?.authority, new URL(l.url).host, 'the authority the client connected to');
  t.is(seen?.headers['x-test'], 'yes');
  t.is(seen?.headers['sec-websocket-version'], '13');
  t.true(seen?.secure);
  t.true(['127.0.0.1', '::1'].includes(seen?.remoteAddress ?? ''));
});

test('fragmented messages are reassembled both ways', async (t) => {
  const srv = recorder();
  const l = await server(t, {
    routes: { '/echo': { ...echoRoute(srv), fragmentSize: 1000 } },
  });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo`, cli.handler, { fragmentSize: 777 });
  const text = 'ab✓'.repeat(20_000);
  ws.send(text);
  await until(() => cli.messages.length === 1);
  t.is(cli.messages[0]?.data, text);
  t.is(srv.messages[0]?.data, text);
  ws.close();
});

test('16 MiB messages both ways', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo`, cli.handler);
  const big = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
  ws.send(big);
  await until(() => cli.messages.length === 1, 30_000);
  const back = cli.messages[0]!.data as Buffer;
  t.is(back.length, big.length);
  t.true(back.equals(big));
  ws.close();
  t.is((await cli.terminated).code, 1000);
});

test('ping: the client gets the pong, the server handler sees the ping', async (t) => {
  const srv = recorder();
  const l = await server(t, { routes: { '/echo': echoRoute(srv) } });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo`, cli.handler);
  ws.send({ type: 'ping', data: 'are you there' });
  await until(() => cli.controls.length === 1 && srv.controls.length === 1);
  t.deepEqual(cli.controls[0], { type: 'pong', data: Buffer.from('are you there') });
  t.deepEqual(srv.controls[0], { type: 'ping', data: Buffer.from('are you there') });
  ws.close();
});

test('close paths: client 1000, server stop 4001, server shutdown 1001', async (t) => {
  const stopper: WebSocketRoute = {
    state: null,
    handler: {
      handleIn: (m, s) => (m.data === 'stop' ? stop(s, 4001, 'bye') : reply(s, m.data)),
    },
  };
  const srv = recorder();
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    routes: { '/stop': stopper, '/echo': echoRoute(srv) },
  });
  // server stop(4001, 'bye')
  const c1 = recorder({ echo: false });
  const ws1 = await client(`${l.url}/stop`, c1.handler);
  ws1.send('stop');
  const r1 = await c1.terminated;
  t.deepEqual([r1.kind, r1.code, r1.reason, r1.wasClean], ['remote', 4001, 'bye', true]);
  // server shutdown: 1001 to the client
  const c2 = recorder({ echo: false });
  await client(`${l.url}/echo`, c2.handler);
  await l.close();
  const r2 = await c2.terminated;
  t.deepEqual([r2.kind, r2.code, r2.wasClean], ['remote', 1001, true]);
  const s2 = await srv.terminated;
  t.is(s2.kind, 'shutdown');
});

test('abort: a client reset (H3_REQUEST_CANCELLED) ends the server session with 1006, and back', async (t) => {
  const srv = recorder();
  const l = await server(t, { routes: { '/echo': echoRoute(srv) } });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo`, cli.handler);
  ws.send('x');
  await until(() => cli.messages.length === 1);
  ws.abort();
  const [c, s] = await Promise.all([cli.terminated, srv.terminated]);
  t.is(c.code, 1006);
  t.is(s.code, 1006);
  t.is(s.kind, 'error');
  t.regex(String(s.error?.message), /H3_REQUEST_CANCELLED|reset/);

  // the server aborts: the client sees 1006
  const srv2 = recorder();
  let session: Session<unknown> | undefined;
  const l2 = await server(t, {
    routes: {
      '/echo': {
        state: null,
        handler: {
          init(_r, st, api) {
            session = api as Session<unknown>;
            return ok(st);
          },
          handleIn: srv2.handler.handleIn,
        },
      },
    },
  });
  const cli2 = recorder({ echo: false });
  await client(`${l2.url}/echo`, cli2.handler);
  await until(() => session !== undefined);
  session!.abort();
  const c2 = await cli2.terminated;
  t.is(c2.code, 1006);
  t.is(c2.kind, 'error');
});

test('a lost HTTP/3 connection ends its WebSockets with 1006', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const cli = recorder({ echo: false });
  await client(`${l.url}/echo`, cli.handler);
  for (const c of l.connections) c.close(H3_INTERNAL_ERROR, 'test');
  const r = await cli.terminated;
  t.deepEqual([r.kind, r.code, r.wasClean], ['error', 1006, false]);
});

test('20 concurrent WebSockets share one QUIC connection', async (t) => {
  const seenPorts = new Set<number | undefined>();
  const route: WebSocketRoute = {
    state: null,
    handler: {
      init(req, s) {
        seenPorts.add(req.remotePort);
        return ok(s);
      },
      handleIn: (m, s) => reply(s, m.data),
    },
  };
  const l = await server(t, { routes: { '/echo': route } });
  const recs = Array.from({ length: 20 }, () => recorder({ echo: false }));
  const sockets = await Promise.all(recs.map((r) => client(`${l.url}/echo`, r.handler)));
  t.is(l.connections.size, 1);
  t.is(seenPorts.size, 1);
  for (const [i, ws] of sockets.entries()) ws.send(`message ${i}`);
  await until(() => recs.every((r) => r.messages.length === 1));
  for (const [i, r] of recs.entries()) t.is(r.messages[0]?.data, `message ${i}`);
  for (const ws of sockets) ws.close();
  const reasons = await Promise.all(recs.map((r) => r.terminated));
  t.true(reasons.every((r) => r.wasClean && r.code === 1000));
});

test("past the server's stream limit, WebSockets open on further pooled connections", async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() }, quic: { maxStreamsBidi: 5 } });
  const recs = Array.from({ length: 12 }, () => recorder({ echo: false }));
  const sockets = await Promise.all(recs.map((r) => client(`${l.url}/echo`, r.handler)));
  t.is(l.connections.size, 3);
  for (const [i, ws] of sockets.entries()) ws.send(`m${i}`);
  await until(() => recs.every((r) => r.messages.length === 1));
  for (const ws of sockets) ws.close();
  await Promise.all(recs.map((r) => r.terminated));
});

test('a route answering 401 + www-authenticate: the client gets the status and headers', async (t) => {
  const l = await server(t, {
    route: (req) =>
      req.headers.authorization === 'Bearer ok'
        ? { handler: recorder().handler, state: null }
        : { status: 401, headers: { 'www-authenticate': 'Bearer realm="h3"' } },
  });
  const err = await t.throwsAsync<WebSocketError>(
    client(`${l.url}/private`, recorder({ echo: false }).handler),
  );
  t.is(err.code, 'WS_ERR_HANDSHAKE_STATUS');
  t.is(err.status, 401);
  const cause = err.cause as { status: number; headers: Record<string, string> };
  t.is(cause.headers['www-authenticate'], 'Bearer realm="h3"');
  const ws = await client(`${l.url}/private`, recorder({ echo: false }).handler, {
    headers: { authorization: 'Bearer ok' },
  });
  t.is(ws.http, '3');
  ws.close();
});

test('handshake statuses: 404 unrouted, 400 bad version, 403 origin, 501 other :protocol, 400 malformed', async (t) => {
  const l = await server(t, {
    routes: { '/echo': { ...echoRoute(), checkOrigin: (o) => o === 'https://ok.example' } },
  });
  const c = await h3Client(l.port, certs);
  t.teardown(() => c.close());
  await c.settings;
  t.true(c.h3.peerEnablesConnectProtocol);
  const base = (path: string, more: [string, string][] = []): [string, string][] => [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'https'],
    [':path', path],
    [':authority', `localhost:${l.port}`],
    ['sec-websocket-version', '13'],
    ...more,
  ];
  t.is((await c.fetch(base('/nowhere'))).status, 404);
  const bad = await c.fetch([
    ...base('/echo').filter(([k]) => k !== 'sec-websocket-version'),
    ['sec-websocket-version', '8'],
  ]);
  t.is(bad.status, 400);
  t.is(bad.headers['sec-websocket-version'], '13');
  t.is((await c.fetch(base('/echo', [['origin', 'https://evil.example']]))).status, 403);
  const ok200 = await c.h3.request(base('/echo', [['origin', 'https://ok.example']]));
  ok200.reset();
  const other = base('/echo').map(([k, v]): [string, string] =>
    k === ':protocol' ? [k, 'webtransport'] : [k, v],
  );
  t.is((await c.fetch(other)).status, 501);
  t.is((await c.fetch(base('/echo', [['connection', 'upgrade']]))).status, 400);
  // the connection survives all of that
  t.false(c.h3.closed);
});

test('subprotocol negotiation over HTTP/3', async (t) => {
  const l = await server(t, {
    routes: { '/echo': { ...echoRoute(), subprotocols: ['chat', 'echo'] } },
  });
  const ws = await client(`${l.url}/echo`, recorder({ echo: false }).handler, {
    subprotocols: ['echo', 'chat'],
  });
  t.is(ws.subprotocol, 'chat');
  ws.close();
});

test('a server without WebSocket routes does not enable extended CONNECT', async (t) => {
  const l = await server(t, { onRequest: () => ({ status: 200, body: 'hi' }) });
  const err = await t.throwsAsync<WebSocketError>(
    client(`${l.url}/echo`, recorder({ echo: false }).handler),
  );
  t.is(err.code, 'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED');
});

test('GOAWAY: open WebSockets continue, new ones go to a new connection, the old one closes', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const c1 = recorder({ echo: false });
  const ws1 = await client(`${l.url}/echo`, c1.handler);
  const [first] = [...l.connections];
  l.goaway();
  await delay(50);
  ws1.send('still here');
  await until(() => c1.messages.length === 1);
  t.is(c1.messages[0]?.data, 'still here');
  const c2 = recorder({ echo: false });
  const ws2 = await client(`${l.url}/echo`, c2.handler);
  t.not(ws2.request.remotePort, undefined);
  t.is(l.connections.size, 2);
  ws1.close();
  await c1.terminated;
  await first!.whenClosed();
  t.is(l.connections.size, 1);
  ws2.send('new connection');
  await until(() => c2.messages.length === 1);
  ws2.close();
});

test('plain requests over HTTP/3: onRequest answers GET, HEAD and POST; 413 above the body limit', async (t) => {
  const l = await server(t, {
    routes: { '/echo': echoRoute() },
    maxRequestBody: 1000,
    onRequest: (req) => ({
      status: 200,
      headers: { 'content-type': 'text/plain', connection: 'close' },
      body: `${req.http} ${req.method} ${req.path} ${req.body.length}`,
    }),
  });
  const c = await h3Client(l.port, certs);
  t.teardown(() => c.close());
  const req = (method: string, path: string): [string, string][] => [
    [':method', method],
    [':scheme', 'https'],
    [':authority', `localhost:${l.port}`],
    [':path', path],
  ];
  const get = await c.fetch(req('GET', '/page?a=1'));
  t.is(get.status, 200);
  t.is(get.body.toString(), '3 GET /page?a=1 0');
  t.is(get.headers['content-length'], String(get.body.length));
  t.is(get.headers.connection, undefined);
  const head = await c.fetch(req('HEAD', '/page'));
  t.is(head.status, 200);
  t.is(head.body.length, 0);
  const post = await c.fetch(req('POST', '/upload'), Buffer.alloc(500, 1));
  t.is(post.body.toString(), '3 POST /upload 500');
  const big = await c.fetch(req('POST', '/upload'), Buffer.alloc(5000, 1));
  t.is(big.status, 413);
});

test('plain requests without onRequest: 405 + Allow: CONNECT on a WebSocket path, 404 elsewhere', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const c = await h3Client(l.port, certs);
  t.teardown(() => c.close());
  const get = (path: string): [string, string][] => [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', `localhost:${l.port}`],
    [':path', path],
  ];
  const a = await c.fetch(get('/echo'));
  t.is(a.status, 405);
  t.is(a.headers.allow, 'CONNECT');
  t.is((await c.fetch(get('/other'))).status, 404);
});

test('permessage-deflate over HTTP/3', async (t) => {
  const srv = recorder();
  const l = await server(t, {
    routes: { '/echo': { ...echoRoute(srv), perMessageDeflate: true } },
  });
  const cli = recorder({ echo: false });
  const ws = await client(`${l.url}/echo`, cli.handler, { perMessageDeflate: true });
  t.regex(ws.extensions, /permessage-deflate/);
  const text = 'compress me '.repeat(1000);
  ws.send(text);
  await until(() => cli.messages.length === 1);
  t.is(cli.messages[0]?.data, text);
  ws.close();
});

test('backpressure: send() reports a full buffer, drained() resolves, a slow handler pauses reading', async (t) => {
  const got: number[] = [];
  const l = await server(t, {
    routes: {
      '/slow': {
        state: null,
        maxQueued: 4,
        handler: {
          async handleIn(m, s) {
            got.push((m.data as Buffer).readUInt32BE(0));
            await delay(2);
            return ok(s);
          },
        },
      },
    },
  });
  const ws = await client(`${l.url}/slow`, recorder({ echo: false }).handler);
  let sawFull = false;
  for (let i = 0; i < 64; i++) {
    const b = Buffer.alloc(128 * 1024);
    b.writeUInt32BE(i, 0);
    if (!ws.send(b)) {
      sawFull = true;
      await ws.drained();
    }
  }
  t.true(sawFull);
  await until(() => got.length === 64, 20_000);
  t.deepEqual(
    got,
    Array.from({ length: 64 }, (_, i) => i),
  );
  ws.close();
});

test('IPv6: wss://[::1] is verified by IP address', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const cli = recorder({ echo: false });
  const ws = await client(`wss://[::1]:${l.port}/echo`, cli.handler);
  t.is(ws.request.remoteAddress, '::1');
  ws.send('v6');
  await until(() => cli.messages.length === 1);
  ws.close();
});

test('TLS: an unknown CA fails the handshake; rejectUnauthorized: false connects', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const err = await t.throwsAsync<WebSocketError>(
    connectH3(`${l.url}/echo`, {
      handler: recorder({ echo: false }).handler,
      sessionIdleTimeout: 50,
    }),
  );
  t.is(err.code, 'WS_ERR_CERTIFICATE');
  t.regex(err.message, /unknown_ca/);
  const ws = await connectH3(`${l.url}/echo`, {
    handler: recorder({ echo: false }).handler,
    tls: { rejectUnauthorized: false },
    sessionIdleTimeout: 50,
  });
  ws.close();
});

test('the pool closes a connection after its last WebSocket and the idle timeout', async (t) => {
  const l = await server(t, { routes: { '/echo': echoRoute() } });
  const before = h3PoolSize();
  const a = await client(`${l.url}/echo`, recorder({ echo: false }).handler);
  const b = await client(`${l.url}/echo`, recorder({ echo: false }).handler);
  t.is(l.connections.size, 1);
  a.close();
  await a.closed;
  await delay(200);
  t.is(l.connections.size, 1, 'b still holds the connection');
  b.close();
  await b.closed;
  await until(() => l.connections.size === 0, 3000, 'idle close');
  t.true(h3PoolSize() <= before);
});

test('the UDP port can be the number of a TCP port in use (HTTP/1.1 and HTTP/3 side by side)', async (t) => {
  const tcp = await listen({ port: 0, host: '127.0.0.1', routes: { '/echo': echoRoute() } });
  t.teardown(() => tcp.close());
  const l = await server(t, { port: tcp.port, routes: { '/echo': echoRoute() } });
  t.is(l.port, tcp.port);
  t.deepEqual([...l.hosts].sort(), ['127.0.0.1', '::1']);
  const cli = recorder({ echo: false });
  const ws = await client(`wss://localhost:${l.port}/echo`, cli.handler);
  t.is(ws.http, '3');
  ws.send('same number');
  await until(() => cli.messages.length === 1);
  ws.close();
});

test('ws:// cannot go over HTTP/3', (t) => {
  const err = t.throws<WebSocketError>(() =>
    connectH3('ws://localhost:1/echo', { handler: recorder().handler }),
  );
  t.is(err.code, 'WS_ERR_INVALID_URL');
});
