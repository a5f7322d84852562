// Our HTTP/2 client against our HTTP/2 server (TLS and h2c), plus raw node:http2
// servers as independent peers where our server cannot misbehave on purpose.

import http2, { type ServerHttp2Stream } from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { connect } from '../../src/client/connect.js';
import {
  CLIENT_CONNECTION_WINDOW_SIZE,
  CLIENT_INITIAL_WINDOW_SIZE,
  closeH2Sessions,
  connectH2,
} from '../../src/h2/client.js';
import { attachH1 } from '../../src/server/h1-server.js';
import { type H2Listener, listenH2 } from '../../src/server/h2-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { WebSocketError } from '../../src/ws/errors.js';
import type { CloseReason, Control, Handler, Message } from '../../src/ws/handler.js';
import { ok, reply, stop } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import {
  deferred,
  END_STREAM,
  FrameReader,
  H2,
  makeCerts,
  OP,
  removeCerts,
  sniffingProxy,
  type TestCerts,
  until,
} from './helpers.js';

let certs: TestCerts;
// one TLS options object: sessions are pooled per origin and TLS options
const tlsOpts: { ca?: Buffer } = {};
test.before(async () => {
  certs = await makeCerts('h2-client');
  tlsOpts.ca = certs.ca;
});
test.after.always(async () => {
  closeH2Sessions();
  if (certs) await removeCerts(certs);
});

interface ServerSeen {
  http: string[];
  ends: CloseReason[];
}

function serverRoute(seen: ServerSeen, extra: Partial<WebSocketRoute> = {}): WebSocketRoute {
  const handler: Handler<null> = {
    init(req, s) {
      seen.http.push(req.http);
      return ok(s);
    },
    handleIn(m, s) {
      if (m.type === 'text' && m.data.startsWith('stop ')) {
        return stop(s, Number(m.data.slice(5)), 'server says bye');
      }
      return reply(s, m.data);
    },
    terminate(r) {
      seen.ends.push(r);
    },
  };
  return { handler, state: null, ...extra };
}

/** A client handler that records what arrives; `next()` waits for the next message. */
class Inbox {
  readonly messages: Message[] = [];
  readonly controls: Control[] = [];
  ends: CloseReason[] = [];
  #waiters: (() => void)[] = [];
  readonly handler: Handler<null> = {
    handleIn: (m, s) => {
      this.messages.push(m);
      this.#wake();
      return ok(s);
    },
    handleControl: (c, s) => {
      this.controls.push(c);
      this.#wake();
      return ok(s);
    },
    terminate: (r) => {
      this.ends.push(r);
      this.#wake();
    },
  };
  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  async next(n = this.messages.length + 1): Promise<Message> {
    await until(() => this.messages.length >= n, 5000, `message ${n}`);
    return this.messages[n - 1]!;
  }
}

type Variant = 'tls' | 'h2c';

async function server(variant: Variant, seen: ServerSeen, extra: Partial<WebSocketRoute> = {}) {
  return listenH2({
    ...(variant === 'tls' && { tls: { cert: certs.cert, key: certs.key } }),
    routes: { '/echo': serverRoute(seen, extra) },
    shutdownTimeout: 1000,
  });
}

async function open(
  srv: H2Listener,
  inbox: Inbox,
  opts: Record<string, unknown> = {},
): Promise<Session<null>> {
  return connect(`${srv.url}/echo`, {
    http: 2,
    tls: tlsOpts,
    handler: inbox.handler,
    state: null,
    ...opts,
  });
}

function newSeen(): ServerSeen {
  return { http: [], ends: [] };
}

for (const variant of ['tls', 'h2c'] as const) {
  test(`${variant}: echo of text and binary, and the session says HTTP/2`, async (t) => {
    const seen = newSeen();
    const srv = await server(variant, seen);
    t.teardown(() => srv.close());
    const inbox = new Inbox();
    const ws = await open(srv, inbox);
    t.is(ws.http, '2');
    t.is(ws.request.method, 'CONNECT');
    t.is(ws.request.response?.status, 200);
    t.is(ws.request.response?.headers['sec-websocket-accept'], undefined);
    ws.send('héllo');
    ws.send(Buffer.from([1, 2, 3]));
    t.deepEqual(await inbox.next(1), { type: 'text', data: 'héllo' });
    const bin = await inbox.next(2);
    t.is(bin.type, 'binary');
    t.deepEqual([...(bin.data as Buffer)], [1, 2, 3]);
    ws.close(1000, 'done');
    const end = await ws.closed;
    t.like(end, { kind: 'normal', code: 1000, reason: 'done', wasClean: true });
    await until(() => seen.ends.length === 1);
    t.like(seen.ends[0], { kind: 'remote', code: 1000, reason: 'done', wasClean: true });
    t.deepEqual(seen.http, ['2']);
  });

  test(`${variant}: fragmentation both ways and ping/pong`, async (t) => {
    const srv = await server(variant, newSeen(), { fragmentSize: 7 });
    t.teardown(() => srv.close());
    const inbox = new Inbox();
    const ws = await open(srv, inbox, { fragmentSize: 5 });
    const long = 'a fragmented message that crosses many frames';
    ws.send(long);
    t.deepEqual(await inbox.next(1), { type: 'text', data: long });
    ws.send({ type: 'ping', data: 'are you there' });
    await until(() => inbox.controls.length === 1);
    t.is(inbox.controls[0]!.type, 'pong');
    t.is(inbox.controls[0]!.data.toString(), 'are you there');
    ws.close();
    await ws.closed;
  });
}

test('every close path: client close, server stop, server shutdown, aborts on both sides', async (t) => {
  const seen = newSeen();
  const srv = await server('tls', seen);
  t.teardown(() => srv.close());

  // the server stops with 4002
  const a = new Inbox();
  const wsA = await open(srv, a);
  wsA.send('stop 4002');
  t.like(await wsA.closed, {
    kind: 'remote',
    code: 4002,
    reason: 'server says bye',
    wasClean: true,
  });
  await until(() => seen.ends.length === 1);
  t.like(seen.ends[0], { kind: 'normal', code: 4002, wasClean: true });

  // the client closes with 4000
  const wsB = await open(srv, new Inbox());
  wsB.close(4000, 'client says bye');
  t.like(await wsB.closed, { kind: 'normal', code: 4000, wasClean: true });
  await until(() => seen.ends.length === 2);
  t.like(seen.ends[1], { kind: 'remote', code: 4000, reason: 'client says bye', wasClean: true });

  // the client aborts: RST_STREAM CANCEL, the server sees 1006
  const wsC = await open(srv, new Inbox());
  wsC.abort();
  t.like(await wsC.closed, { kind: 'error', code: 1006, wasClean: false });
  await until(() => seen.ends.length === 3);
  t.like(seen.ends[2], { kind: 'error', code: 1006, wasClean: false });

  // the server aborts: the client sees 1006
  const wsD = await open(srv, new Inbox());
  await until(() => srv.registry.sessions.size === 1);
  for (const s of srv.registry.sessions) s.abort();
  const d = await wsD.closed;
  t.like(d, { kind: 'error', code: 1006, wasClean: false });
  t.regex(d.error?.message ?? '', /RST_STREAM code 8/);

  // the server shuts down: 1001 to the client
  const wsE = await open(srv, new Inbox());
  await until(() => srv.registry.sessions.size === 1);
  await srv.close();
  t.like(await wsE.closed, { kind: 'remote', code: 1001, wasClean: true });
});

test('a message above the server maxMessage: the client sees 1009', async (t) => {
  const seen = newSeen();
  const srv = await server('tls', seen, { maxMessage: 1024 });
  t.teardown(() => srv.close());
  const ws = await open(srv, new Inbox());
  ws.send(Buffer.alloc(2048));
  t.like(await ws.closed, { kind: 'remote', code: 1009 });
  await until(() => seen.ends.length === 1);
  t.is(seen.ends[0]!.code, 1009);
});

/** A raw node:http2 server that accepts one extended CONNECT and lets the test drive the stream. */
async function rawServer(
  onStream: (stream: ServerHttp2Stream) => void,
  settings: http2.Settings = {},
) {
  const server = http2.createServer({ settings: { enableConnectProtocol: true, ...settings } });
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    onStream(stream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

test('invalid UTF-8 from a raw server: our client closes with 1007', async (t) => {
  const reader = new FrameReader();
  const srv = await rawServer((stream) => {
    stream.respond({ ':status': 200 });
    stream.on('data', (d: Buffer) => reader.push(d));
    stream.write(Buffer.from([0x81, 0x03, 0x48, 0xff, 0x48]));
  });
  t.teardown(() => srv.close());
  const ws = await connect(`${srv.url}/x`, { http: 2, handler: new Inbox().handler, state: null });
  const f = await reader.frame(0);
  t.is(f.opcode, OP.close);
  t.true(f.masked);
  t.is(f.payload.readUInt16BE(0), 1007);
  const end = await Promise.race([ws.closed, new Promise<null>((r) => setTimeout(r, 100, null))]);
  t.is(end, null, 'the client waits for the server to end the stream');
  ws.abort();
  t.is((await ws.closed).code, 1007);
});

test('a 200 without Sec-WebSocket-Accept opens; the raw server reads our masked frames', async (t) => {
  const reader = new FrameReader();
  const srv = await rawServer((stream) => {
    stream.respond({ ':status': 200 });
    stream.on('data', (d: Buffer) => reader.push(d));
  });
  t.teardown(() => srv.close());
  const ws = await connect(`${srv.url}/chat`, {
    http: 2,
    handler: new Inbox().handler,
    state: null,
  });
  t.is(ws.request.response?.status, 200);
  t.deepEqual(
    Object.keys(ws.request.response?.headers ?? {}).filter((k) => k.startsWith('sec-')),
    [],
  );
  ws.send('masked hello');
  const f = await reader.frame(0);
  t.true(f.masked);
  t.is(f.opcode, OP.text);
  t.is(f.payload.toString(), 'masked hello');
  ws.abort();
  t.is((await ws.closed).code, 1006);
});

test('the raw server sees RFC 8441 pseudo-headers and no Sec-WebSocket-Key', async (t) => {
  const got = deferred<http2.IncomingHttpHeaders>();
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    got.resolve(headers);
    stream.respond({ ':status': 200, 'sec-websocket-protocol': 'chat' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => sessions.add(s));
  t.teardown(async () => {
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  const ws = await connect(`ws://127.0.0.1:${port}/chat?room=7`, {
    http: 2,
    handler: new Inbox().handler,
    state: null,
    subprotocols: ['chat', 'superchat'],
    origin: 'http://page.test',
    headers: { 'x-token': 'abc' },
  });
  const h = await got.promise;
  t.is(h[':method'], 'CONNECT');
  t.is(h[':protocol'], 'websocket');
  t.is(h[':scheme'], 'http');
  t.is(h[':path'], '/chat?room=7');
  t.is(h[':authority'], `127.0.0.1:${port}`);
  t.is(h['sec-websocket-version'], '13');
  t.is(h['sec-websocket-protocol'], 'chat, superchat');
  t.is(h.origin, 'http://page.test');
  t.is(h['x-token'], 'abc');
  t.is(h['sec-websocket-key'], undefined);
  t.is(ws.subprotocol, 'chat');
  ws.abort();
  await ws.closed;
});

test('20 WebSockets share one HTTP/2 connection; closing one leaves the others', async (t) => {
  const seen = newSeen();
  const srv = await server('tls', seen);
  t.teardown(() => srv.close());
  let connections = 0;
  srv.server.on('session', () => connections++);
  const inboxes = Array.from({ length: 20 }, () => new Inbox());
  const sockets = await Promise.all(inboxes.map((inbox) => open(srv, inbox)));
  for (const [i, ws] of sockets.entries()) ws.send(`hello ${i}`);
  for (const [i, inbox] of inboxes.entries()) {
    t.deepEqual(await inbox.next(1), { type: 'text', data: `hello ${i}` });
  }
  t.is(connections, 1);
  t.is(srv.registry.sessions.size, 20);
  sockets[7]!.close(1000);
  t.like(await sockets[7]!.closed, { code: 1000, wasClean: true });
  for (const [i, ws] of sockets.entries()) if (i !== 7) ws.send(`again ${i}`);
  for (const [i, inbox] of inboxes.entries()) {
    if (i !== 7) t.deepEqual(await inbox.next(2), { type: 'text', data: `again ${i}` });
  }
  t.is(inboxes[7]!.messages.length, 1);
  t.is(connections, 1);
  for (const [i, ws] of sockets.entries()) if (i !== 7) ws.close();
  await Promise.all(sockets.map((ws) => ws.closed));
  await until(() => seen.ends.length === 20);
  t.true(seen.ends.every((e) => e.code === 1000 && e.wasClean));
});

test('a rejected CONNECT: 401 with www-authenticate reaches the caller', async (t) => {
  const srv = await listenH2({
    tls: { cert: certs.cert, key: certs.key },
    route: (req) =>
      req.headers.authorization === 'Bearer yes'
        ? serverRoute(newSeen())
        : { status: 401, headers: { 'www-authenticate': 'Bearer realm="chat"' } },
  });
  t.teardown(() => srv.close());
  const err = await t.throwsAsync(open(srv, new Inbox()), { instanceOf: WebSocketError });
  t.is(err!.code, 'WS_ERR_HANDSHAKE_STATUS');
  t.is(err!.status, 401);
  const cause = err!.cause as { status: number; headers: Record<string, string> };
  t.is(cause.headers['www-authenticate'], 'Bearer realm="chat"');
  const ws = await open(srv, new Inbox(), { headers: { authorization: 'Bearer yes' } });
  t.is(ws.http, '2');
  ws.close();
  await ws.closed;
});

test('END_STREAM on close and never RST_STREAM, seen on the wire between our client and server', async (t) => {
  const srv = await server('h2c', newSeen());
  const proxy = await sniffingProxy(srv.port);
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const url = `ws://127.0.0.1:${proxy.port}/echo`;
  const opts = { http: 2 as const, handler: new Inbox().handler, state: null };
  const a = await connect(url, opts);
  const b = await connect(url, opts);
  a.close(1000); // client first
  b.send('stop 1000'); // server first
  t.like(await a.closed, { code: 1000, wasClean: true });
  t.like(await b.closed, { code: 1000, wasClean: true });
  const ids = [
    ...new Set(proxy.fromClient.filter((f) => f.type === H2.HEADERS).map((f) => f.streamId)),
  ];
  t.is(ids.length, 2);
  for (const id of ids) {
    await until(() =>
      proxy.fromServer.some((f) => f.streamId === id && f.flags & END_STREAM && f.type === H2.DATA),
    );
    await until(() => proxy.fromClient.some((f) => f.streamId === id && f.flags & END_STREAM));
  }
  t.deepEqual(
    [...proxy.fromServer, ...proxy.fromClient].filter((f) => f.type === H2.RST_STREAM),
    [],
  );
});

test('http: 2 to a server without SETTINGS_ENABLE_CONNECT_PROTOCOL fails fast', async (t) => {
  const srv = await rawServer(() => {}, { enableConnectProtocol: false });
  t.teardown(() => srv.close());
  const started = Date.now();
  const err = await t.throwsAsync(
    connect(`${srv.url}/echo`, { http: 2, handler: new Inbox().handler, state: null }),
  );
  t.is((err as WebSocketError).code, 'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED');
  t.true(Date.now() - started < 2000);
});

test("http: 'auto' uses HTTP/2 when offered, HTTP/1.1 otherwise", async (t) => {
  // h2 with extended CONNECT
  const seen = newSeen();
  const srv = await server('tls', seen);
  t.teardown(() => srv.close());
  const viaH2 = await connect(`${srv.url}/echo`, {
    http: 'auto',
    tls: tlsOpts,
    handler: new Inbox().handler,
    state: null,
  });
  t.is(viaH2.http, '2');
  viaH2.close();
  await viaH2.closed;

  // an HTTPS server that speaks only HTTP/1.1 (ALPN picks http/1.1)
  const h1seen = newSeen();
  const h1 = https.createServer({ cert: certs.cert, key: certs.key });
  const h1attached = attachH1(h1, { routes: { '/echo': serverRoute(h1seen) } });
  await new Promise<void>((r) => h1.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await h1attached.close();
    h1.closeAllConnections();
    await new Promise((r) => h1.close(r));
  });
  const h1url = `wss://127.0.0.1:${(h1.address() as AddressInfo).port}/echo`;
  const inbox = new Inbox();
  const viaH1 = await connect(h1url, {
    http: 'auto',
    tls: tlsOpts,
    handler: inbox.handler,
    state: null,
  });
  t.is(viaH1.http, '1.1');
  viaH1.send('still works');
  t.deepEqual(await inbox.next(1), { type: 'text', data: 'still works' });
  viaH1.close();
  await viaH1.closed;

  // an h2 server whose SETTINGS lack ENABLE_CONNECT_PROTOCOL, with WebSockets over HTTP/1.1
  const plain = http2.createSecureServer({ cert: certs.cert, key: certs.key, allowHTTP1: true });
  const plainSeen = newSeen();
  const plainAttached = attachH1(plain as unknown as https.Server, {
    routes: { '/echo': serverRoute(plainSeen) },
  });
  const plainSessions = new Set<http2.Http2Session>();
  plain.on('session', (s) => plainSessions.add(s));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await plainAttached.close();
    for (const s of plainSessions) s.destroy();
    await new Promise((r) => plain.close(r));
  });
  const plainUrl = `wss://127.0.0.1:${(plain.address() as AddressInfo).port}/echo`;
  const fallback = await connect(plainUrl, {
    http: 'auto',
    tls: tlsOpts,
    handler: new Inbox().handler,
    state: null,
  });
  t.is(fallback.http, '1.1');
  t.deepEqual(plainSeen.http, ['1.1']);
  t.is(plainSessions.size, 1, 'the h2 session was tried first');
  fallback.close();
  await fallback.closed;

  // ws:// with 'auto' is HTTP/1.1
  const clear = await listenH2({ routes: { '/echo': serverRoute(newSeen()) } });
  t.teardown(() => clear.close());
  const err = await t.throwsAsync(
    connect(`${clear.url}/echo`, {
      http: 'auto',
      handler: new Inbox().handler,
      state: null,
      timeout: 2000,
    }),
  );
  // an h2c-only server cannot answer HTTP/1.1: 'auto' did not try h2c
  t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE');
});

test('unknown http values throw at once', (t) => {
  const bad = t.throws(() =>
    connect('wss://localhost/echo', {
      http: 4 as unknown as 2,
      handler: new Inbox().handler,
      state: null,
    }),
  );
  t.is((bad as WebSocketError).code, 'WS_ERR_INVALID_ARGUMENT');
  t.throws(() => connectH2('ftp://x/', { handler: new Inbox().handler, state: null }), {
    instanceOf: WebSocketError,
  });
});

test('an idle pooled session closes after sessionIdleTimeout; a new WebSocket opens a new one', async (t) => {
  const srv = await server('h2c', newSeen());
  t.teardown(() => srv.close());
  const closedSessions: number[] = [];
  let opened = 0;
  srv.server.on('session', (s) => {
    const n = ++opened;
    s.once('close', () => closedSessions.push(n));
  });
  const opts = {
    http: 2 as const,
    handler: new Inbox().handler,
    state: null,
    sessionIdleTimeout: 100,
  };
  const a = await connect(`${srv.url}/echo`, opts);
  a.close();
  await a.closed;
  await until(() => closedSessions.length === 1, 3000, 'the idle session to close');
  const b = await connect(`${srv.url}/echo`, opts);
  t.is(opened, 2);
  b.close();
  await b.closed;
});

test('flow control: a 100-byte echo is not starved while another WebSocket moves 10 MB', async (t) => {
  const srv = await server('tls', newSeen());
  t.teardown(() => srv.close());
  const TOTAL = 10 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  let bulkReceived = 0;
  const bulkDone = deferred<void>();
  const bulk = await open(srv, new Inbox(), {
    handler: {
      handleIn(m: Message, s: null) {
        bulkReceived += (m.data as Buffer).length;
        if (bulkReceived >= TOTAL) bulkDone.resolve();
        return ok(s);
      },
    },
  });
  let onEcho: (() => void) | null = null;
  const small = await open(srv, new Inbox(), {
    handler: {
      handleIn(_m: Message, s: null) {
        onEcho?.();
        return ok(s);
      },
    },
  });
  let bulkFinished = false;
  bulkDone.promise.then(() => {
    bulkFinished = true;
  });
  const payload = Buffer.alloc(CHUNK, 7);
  const sender = (async () => {
    for (let sent = 0; sent < TOTAL; sent += CHUNK) if (!bulk.send(payload)) await bulk.drained();
  })();
  const rtts: number[] = [];
  let duringBulk = 0;
  const message = 'x'.repeat(100);
  const deadline = Date.now() + 30_000;
  while (!bulkFinished && Date.now() < deadline) {
    const start = performance.now();
    await new Promise<void>((resolve) => {
      onEcho = resolve;
      small.send(message);
    });
    rtts.push(performance.now() - start);
    if (!bulkFinished) duringBulk++;
  }
  await sender;
  await bulkDone.promise;
  t.is(bulkReceived, TOTAL);
  rtts.sort((x, y) => x - y);
  const median = rtts[rtts.length >> 1]!;
  t.log(`${duringBulk} echoes during the 10 MB transfer, median ${median.toFixed(1)} ms`);
  t.true(duringBulk >= 5, `only ${duringBulk} small echoes completed during the transfer`);
  t.true(median < 100, `median echo ${median} ms`);
  bulk.close();
  small.close();
  await Promise.all([bulk.closed, small.closed]);
});

test('a session torn down under many WebSockets ends them all with 1006, no crash', async (t) => {
  const srv = await server('h2c', newSeen());
  t.teardown(() => srv.close());
  const sessions: http2.Http2Session[] = [];
  srv.server.on('session', (s) => sessions.push(s));
  const sockets = await Promise.all([1, 2, 3].map(() => open(srv, new Inbox())));
  t.is(sessions.length, 1);
  sessions[0]!.destroy();
  for (const ws of sockets) t.like(await ws.closed, { code: 1006, wasClean: false });
  // the pool forgot the dead session
  const again = await open(srv, new Inbox());
  t.is(sessions.length, 2);
  again.close();
  await again.closed;
});

test('connection refused and handshake timeout are WebSocketErrors', async (t) => {
  const probe = http2.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const refused = await t.throwsAsync(
    connect(`ws://127.0.0.1:${port}/x`, { http: 2, handler: new Inbox().handler, state: null }),
  );
  t.is((refused as WebSocketError).code, 'WS_ERR_HANDSHAKE');
  // a server that never answers the CONNECT
  const silent = await rawServer(() => {});
  t.teardown(() => silent.close());
  const slow = await t.throwsAsync(
    connect(`${silent.url}/x`, {
      http: 2,
      handler: new Inbox().handler,
      state: null,
      timeout: 200,
    }),
  );
  t.is((slow as WebSocketError).code, 'WS_ERR_HANDSHAKE_TIMEOUT');
});

test('window settings: defaults advertised, and options override them', async (t) => {
  const srv = await server('h2c', newSeen());
  t.teardown(() => srv.close());
  const sessions: http2.ServerHttp2Session[] = [];
  srv.server.on('session', (s) => sessions.push(s as http2.ServerHttp2Session));
  const a = await open(srv, new Inbox());
  await until(() => sessions[0]?.state.remoteWindowSize === CLIENT_CONNECTION_WINDOW_SIZE);
  t.is(sessions[0]!.remoteSettings.initialWindowSize, CLIENT_INITIAL_WINDOW_SIZE);
  // other window options: another pooled session
  const b = await open(srv, new Inbox(), {
    initialWindowSize: 65535,
    connectionWindowSize: 1 << 20,
  });
  t.is(sessions.length, 2);
  await until(() => sessions[1]?.state.remoteWindowSize === 1 << 20);
  t.is(sessions[1]!.remoteSettings.initialWindowSize, 65535);
  a.close();
  b.close();
  await Promise.all([a.closed, b.closed]);
});

test('permessage-deflate over HTTP/2: negotiated, and the bytes on the wire are compressed', async (t) => {
  const seen = newSeen();
  const extensionsSeen: string[] = [];
  const srv = await listenH2({
    perMessageDeflate: { threshold: 0 },
    routes: {
      '/echo': {
        ...serverRoute(seen),
        handler: {
          init(req, s) {
            extensionsSeen.push(req.extensions);
            return ok(s);
          },
          handleIn: (m, s) => reply(s, m.data),
        },
      },
    },
  });
  const proxy = await sniffingProxy(srv.port);
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const inbox = new Inbox();
  const ws = await connect(`ws://127.0.0.1:${proxy.port}/echo`, {
    http: 2,
    handler: inbox.handler,
    state: null,
    perMessageDeflate: { threshold: 0 },
  });
  t.regex(ws.extensions, /^permessage-deflate/);
  t.deepEqual(extensionsSeen, [ws.extensions]);
  const text = 'all work and no play makes jack a dull boy. '.repeat(250);
  ws.send(text);
  t.deepEqual(await inbox.next(1), { type: 'text', data: text });
  const id = proxy.fromClient.find((f) => f.type === H2.HEADERS)!.streamId;
  const sent = proxy.fromClient
    .filter((f) => f.streamId === id && f.type === H2.DATA)
    .reduce((n, f) => n + f.length, 0);
  const echoed = proxy.fromServer
    .filter((f) => f.streamId === id && f.type === H2.DATA)
    .reduce((n, f) => n + f.length, 0);
  t.true(sent < text.length / 10, `${sent} bytes sent for ${text.length}`);
  t.true(echoed < text.length / 10, `${echoed} bytes echoed for ${text.length}`);
  ws.close();
  await ws.closed;
});

test('pooling: equal TLS options built afresh share a session, different ones do not', async (t) => {
  const srv = await server('tls', newSeen());
  t.teardown(() => srv.close());
  let connections = 0;
  srv.server.on('session', () => connections++);
  const url = `${srv.url}/echo`;
  const base = { http: 2 as const, handler: new Inbox().handler, state: null };
  const a = await connect(url, { ...base, tls: { ca: Buffer.from(certs.ca) } });
  const b = await connect(url, { ...base, tls: { ca: Buffer.from(certs.ca) } });
  t.is(connections, 1);
  const c = await connect(url, { ...base, tls: { ca: certs.ca, servername: 'localhost' } });
  t.is(connections, 2);
  for (const ws of [a, b, c]) ws.close();
  await Promise.all([a.closed, b.closed, c.closed]);
});
