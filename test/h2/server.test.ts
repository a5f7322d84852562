// The HTTP/2 server against node's bare http2 client as an independent peer:
// extended CONNECT and WebSocket frames are built by hand here.

import type { IncomingMessage } from 'node:http';
import http2, { constants } from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import {
  attachH2,
  DEFAULT_CONNECTION_WINDOW_SIZE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  listenH2,
} from '../../src/server/h2-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { CloseReason, Handler, UpgradeRequest } from '../../src/ws/handler.js';
import { ok, reply, stop } from '../../src/ws/handler.js';
import {
  clientFrame,
  closePayload,
  deferred,
  END_STREAM,
  H2,
  makeCerts,
  OP,
  rawConnect,
  rawSession,
  removeCerts,
  sniffingProxy,
  type TestCerts,
  until,
} from './helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('h2-server');
});
test.after.always(async () => {
  if (certs) await removeCerts(certs);
});

interface Seen {
  requests: UpgradeRequest[];
  ends: CloseReason[];
}

function echoRoute(seen: Seen, extra: Partial<WebSocketRoute> = {}): WebSocketRoute {
  const handler: Handler<null> = {
    init(req, s) {
      seen.requests.push(req);
      return ok(s);
    },
    handleIn(m, s) {
      if (m.type === 'text' && m.data === 'please stop') return stop(s, 4001, 'asked to');
      return reply(s, m.data);
    },
    terminate(r) {
      seen.ends.push(r);
    },
  };
  return { handler, state: null, ...extra };
}

function newSeen(): Seen {
  return { requests: [], ends: [] };
}

async function tlsServer(opts: Partial<Parameters<typeof listenH2>[0]> = {}) {
  return listenH2({ tls: { cert: certs.cert, key: certs.key }, ...opts });
}

function originOf(url: string): string {
  return url.replace(/^wss:/, 'https:').replace(/^ws:/, 'http:');
}

test('advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and our window sizes when routes exist', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  t.true(s.remoteSettings.enableConnectProtocol);
  t.is(s.remoteSettings.initialWindowSize, DEFAULT_INITIAL_WINDOW_SIZE);
  await until(() => s.state.remoteWindowSize === DEFAULT_CONNECTION_WINDOW_SIZE);
  t.is(s.alpnProtocol, 'h2');
});

test('does not advertise extended CONNECT without WebSocket routes', async (t) => {
  const server = http2.createServer();
  const attached = attachH2(server, {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(async () => {
    await attached.close();
    await new Promise((r) => server.close(r));
  });
  const s = await rawSession(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.teardown(() => s.destroy());
  t.false(s.remoteSettings.enableConnectProtocol);
});

test('raw peer: hand-built masked frames are echoed unmasked (RFC 6455 §5.7 "Hello")', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo?x=1', { origin: 'https://example.test' });
  t.is(ws.status, 200);
  t.is(ws.headers['sec-websocket-accept'], undefined);
  // RFC 6455 §5.7: a masked "Hello" from the client
  ws.stream.write(Buffer.from('818537fa213d7f9f4d5158', 'hex'));
  const f = await ws.reader.frame(0);
  t.deepEqual(
    Buffer.concat([Buffer.from([0x80 | f.opcode, f.payload.length]), f.payload]),
    Buffer.from('810548656c6c6f', 'hex'),
  );
  t.false(f.masked);
  // the server-side session saw an HTTP/2 request
  const req = seen.requests[0]!;
  t.is(req.http, '2');
  t.is(req.method, 'CONNECT');
  t.is(req.path, '/echo?x=1');
  t.is(req.authority, `127.0.0.1:${srv.port}`);
  t.true(req.secure);
  t.is(req.headers.origin, 'https://example.test');
  t.false(Object.keys(req.headers).some((k) => k.startsWith(':')));
  ws.stream.close(constants.NGHTTP2_CANCEL);
});

test('raw peer: fragments, ping and binary in one exchange', async (t) => {
  const srv = await tlsServer({ routes: { '/echo': echoRoute(newSeen()) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  ws.stream.write(clientFrame(OP.text, 'Hel', false));
  ws.stream.write(clientFrame(OP.ping, 'in between'));
  ws.stream.write(clientFrame(OP.cont, 'lo', true));
  ws.stream.write(clientFrame(OP.binary, Buffer.from([0, 1, 2, 255])));
  const pong = await ws.reader.frame(0);
  t.is(pong.opcode, OP.pong);
  t.is(pong.payload.toString(), 'in between');
  const text = await ws.reader.frame(1);
  t.is(text.opcode, OP.text);
  t.is(text.payload.toString(), 'Hello');
  const bin = await ws.reader.frame(2);
  t.is(bin.opcode, OP.binary);
  t.deepEqual([...bin.payload], [0, 1, 2, 255]);
  ws.stream.close(constants.NGHTTP2_CANCEL);
});

async function h2cBehindProxy(opts: ServerOptions) {
  const srv = await listenH2(opts);
  const proxy = await sniffingProxy(srv.port);
  return { srv, proxy };
}

test('client-initiated close: close echoed, then END_STREAM both ways and no RST_STREAM on the wire', async (t) => {
  const seen = newSeen();
  const { srv, proxy } = await h2cBehindProxy({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const s = await rawSession(proxy.origin);
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  const id = ws.stream.id!;
  ws.stream.write(clientFrame(OP.close, closePayload(1000, 'done')));
  const f = await ws.reader.frame(0);
  t.is(f.opcode, OP.close);
  t.is(f.payload.readUInt16BE(0), 1000);
  await ws.ended; // the server's END_STREAM after the close handshake
  ws.stream.end(); // ours
  t.is(await ws.closed, constants.NGHTTP2_NO_ERROR);
  await until(() => seen.ends.length === 1, 5000, 'terminate');
  t.like(seen.ends[0], { kind: 'remote', code: 1000, reason: 'done', wasClean: true });
  await until(() => proxy.fromClient.some((w) => w.streamId === id && w.flags & END_STREAM));
  const server = proxy.fromServer.filter((w) => w.streamId === id);
  t.true(server.some((w) => w.type === H2.DATA && (w.flags & END_STREAM) !== 0));
  t.false(server.some((w) => w.type === H2.RST_STREAM));
  t.false(proxy.fromClient.some((w) => w.streamId === id && w.type === H2.RST_STREAM));
});

test('server-initiated close (handler stop): 4001 sent, END_STREAM after the peer answers, no RST_STREAM', async (t) => {
  const seen = newSeen();
  const { srv, proxy } = await h2cBehindProxy({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const s = await rawSession(proxy.origin);
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  const id = ws.stream.id!;
  ws.stream.write(clientFrame(OP.text, 'please stop'));
  const f = await ws.reader.frame(0);
  t.is(f.opcode, OP.close);
  t.is(f.payload.readUInt16BE(0), 4001);
  t.is(f.payload.subarray(2).toString(), 'asked to');
  ws.stream.write(clientFrame(OP.close, closePayload(4001)));
  await ws.ended;
  ws.stream.end();
  t.is(await ws.closed, constants.NGHTTP2_NO_ERROR);
  await until(() => seen.ends.length === 1);
  t.like(seen.ends[0], { kind: 'normal', code: 4001, reason: 'asked to', wasClean: true });
  const server = proxy.fromServer.filter((w) => w.streamId === id);
  t.true(server.some((w) => w.type === H2.DATA && (w.flags & END_STREAM) !== 0));
  t.false(server.some((w) => w.type === H2.RST_STREAM));
});

test('invalid UTF-8 from the peer: close 1007', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  ws.stream.write(clientFrame(OP.text, Buffer.from([0x48, 0xff, 0x48])));
  const f = await ws.reader.frame(0);
  t.is(f.opcode, OP.close);
  t.is(f.payload.readUInt16BE(0), 1007);
  await ws.ended;
  ws.stream.end();
  await until(() => seen.ends.length === 1);
  t.is(seen.ends[0]!.code, 1007);
  t.is(seen.ends[0]!.error?.message.includes('UTF-8'), true);
});

test('a message above maxMessage: close 1009', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen, { maxMessage: 1000 }) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  ws.stream.write(clientFrame(OP.binary, Buffer.alloc(1001)));
  const f = await ws.reader.frame(0);
  t.is(f.opcode, OP.close);
  t.is(f.payload.readUInt16BE(0), 1009);
  await ws.ended;
  ws.stream.end();
  t.is(await ws.closed, constants.NGHTTP2_NO_ERROR);
  await until(() => seen.ends.length === 1);
  t.is(seen.ends[0]!.code, 1009);
});

test('a route answering 401 + www-authenticate: HEADERS with END_STREAM, no WebSocket', async (t) => {
  const seen = newSeen();
  const { srv, proxy } = await h2cBehindProxy({
    route: (req) =>
      req.headers.authorization === 'Bearer good'
        ? echoRoute(seen)
        : {
            status: 401,
            headers: { 'WWW-Authenticate': 'Bearer realm="ws"', connection: 'close' },
          },
  });
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const s = await rawSession(proxy.origin);
  t.teardown(() => s.destroy());
  const denied = await rawConnect(s, '/echo');
  t.is(denied.status, 401);
  t.is(denied.headers['www-authenticate'], 'Bearer realm="ws"');
  await denied.ended;
  const id = denied.stream.id!;
  const headers = proxy.fromServer.find((w) => w.streamId === id && w.type === H2.HEADERS);
  t.truthy(headers);
  t.is(headers!.flags & END_STREAM, END_STREAM);
  t.false(proxy.fromServer.some((w) => w.streamId === id && w.type === H2.DATA));
  const allowed = await rawConnect(s, '/echo', { authorization: 'Bearer good' });
  t.is(allowed.status, 200);
  t.is(seen.requests.length, 1);
  allowed.stream.close(constants.NGHTTP2_CANCEL);
});

test('a failed validation answers its status and ends the stream (version 8 → 400)', async (t) => {
  const { srv, proxy } = await h2cBehindProxy({ routes: { '/echo': echoRoute(newSeen()) } });
  t.teardown(async () => {
    await proxy.close();
    await srv.close();
  });
  const s = await rawSession(proxy.origin);
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo', { 'sec-websocket-version': '8' });
  t.is(ws.status, 400);
  t.is(ws.headers['sec-websocket-version'], '13');
  await ws.ended;
  // the reason follows in DATA, which ends the stream (no WebSocket)
  const frames = proxy.fromServer.filter((w) => w.streamId === ws.stream.id);
  t.is(frames[0]?.type, H2.HEADERS);
  const end = frames.find(
    (w) => (w.type === H2.HEADERS || w.type === H2.DATA) && (w.flags & END_STREAM) !== 0,
  );
  t.truthy(end, 'HEADERS or DATA with END_STREAM');
  const bad = await rawConnect(s, '/echo', { origin: 'https://evil.test' });
  t.is(bad.status, 200, 'no origin policy configured');
  bad.stream.close(constants.NGHTTP2_CANCEL);
});

test('origin policy: 403', async (t) => {
  const srv = await tlsServer({
    routes: { '/echo': echoRoute(newSeen()) },
    checkOrigin: (o) => o === 'https://good.test',
  });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  t.is((await rawConnect(s, '/echo', { origin: 'https://evil.test' })).status, 403);
  const good = await rawConnect(s, '/echo', { origin: 'https://good.test' });
  t.is(good.status, 200);
  good.stream.close(constants.NGHTTP2_CANCEL);
});

test('an unrouted path gets 404; another :protocol gets 501 when nobody else listens', async (t) => {
  const srv = await tlsServer({ routes: { '/echo': echoRoute(newSeen()) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  t.is((await rawConnect(s, '/nope')).status, 404);
  t.is((await rawConnect(s, '/echo', { ':protocol': 'webtransport' })).status, 501);
});

async function userServer(
  setup: (server: http2.Http2Server) => void,
  opts: ServerOptions,
  attachFirst: boolean,
) {
  const server = http2.createServer();
  let attached: ReturnType<typeof attachH2> | undefined;
  if (attachFirst) attached = attachH2(server, opts);
  setup(server);
  if (!attachFirst) attached = attachH2(server, opts);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => sessions.add(s));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    async close() {
      await attached!.close();
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function echoOnce(origin: string, path = '/echo'): Promise<{ status: number; text: string }> {
  const s = await rawSession(origin);
  try {
    const ws = await rawConnect(s, path);
    if (ws.status !== 200) return { status: ws.status, text: '' };
    ws.stream.write(clientFrame(OP.text, 'ping?'));
    const f = await ws.reader.frame(0);
    ws.stream.close(constants.NGHTTP2_CANCEL);
    return { status: ws.status, text: f.payload.toString() };
  } finally {
    s.destroy();
  }
}

async function getOnce(origin: string, path: string): Promise<{ status: number; body: string }> {
  const s = await rawSession(origin);
  try {
    const req = s.request({ ':path': path });
    req.on('error', () => {});
    let status = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    let body = '';
    req.setEncoding('utf8');
    for await (const chunk of req) body += chunk;
    return { status, body };
  } finally {
    s.destroy();
  }
}

for (const attachFirst of [false, true]) {
  const order = attachFirst ? 'after' : 'before';
  test(`node#36977: a compat 'request' listener attached ${order} ours does not turn CONNECT into 405`, async (t) => {
    const srv = await userServer(
      (server) =>
        server.on('request', (req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`page ${req.url}`);
        }),
      { routes: { '/echo': echoRoute(newSeen()) } },
      attachFirst,
    );
    t.teardown(() => srv.close());
    t.deepEqual(await echoOnce(srv.origin), { status: 200, text: 'ping?' });
    // plain h2 GETs still reach the user's request listener (a page for a browser)
    t.deepEqual(await getOnce(srv.origin, '/index.html'), {
      status: 200,
      body: 'page /index.html',
    });
    // no 'connect' listener: Node's compat answers plain CONNECT and unrouted paths as before
    t.is((await echoOnce(srv.origin, '/nope')).status, 404);
  });

  test(`a user's catch-all 'stream' listener attached ${order} ours never sees our WebSockets`, async (t) => {
    const theirs: string[] = [];
    const srv = await userServer(
      (server) =>
        server.on('stream', (stream, headers) => {
          stream.on('error', () => {});
          theirs.push(`${headers[':method']} ${headers[':path']} ${headers[':protocol'] ?? ''}`);
          stream.respond({ ':status': 299 });
          stream.end('theirs');
        }),
      { routes: { '/echo': echoRoute(newSeen()) } },
      attachFirst,
    );
    t.teardown(() => srv.close());
    t.deepEqual(await echoOnce(srv.origin), { status: 200, text: 'ping?' });
    t.deepEqual(await getOnce(srv.origin, '/x'), { status: 299, body: 'theirs' });
    // what is not ours is theirs: an unrouted WebSocket path and another :protocol
    t.is((await echoOnce(srv.origin, '/elsewhere')).status, 299);
    const s = await rawSession(srv.origin);
    t.teardown(() => s.destroy());
    t.is((await rawConnect(s, '/echo', { ':protocol': 'connect-udp' })).status, 299);
    t.deepEqual(theirs, ['GET /x ', 'CONNECT /elsewhere websocket', 'CONNECT /echo connect-udp']);
  });
}

test("a user's 'connect' listener (compat API) gets the CONNECTs that are not ours", async (t) => {
  const srv = await userServer(
    (server) => {
      server.on('request', (_req, res) => res.end('page'));
      server.on('connect', (req, res) => {
        res.writeHead(202, { 'x-protocol': String(req.headers[':protocol']) });
        res.end();
      });
    },
    { routes: { '/echo': echoRoute(newSeen()) } },
    false,
  );
  t.teardown(() => srv.close());
  t.deepEqual(await echoOnce(srv.origin), { status: 200, text: 'ping?' });
  const s = await rawSession(srv.origin);
  t.teardown(() => s.destroy());
  const other = await rawConnect(s, '/echo', { ':protocol': 'connect-udp' });
  t.is(other.status, 202);
  t.is(other.headers['x-protocol'], 'connect-udp');
  t.is((await rawConnect(s, '/unrouted')).status, 202);
});

test('allowHTTP1: HTTP/1.1 Upgrade reaches the same route and handler on the same port', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(() => srv.close());
  const got: string[] = [];
  const done = deferred<void>();
  const ws = await connectH1(`${srv.url}/echo`, {
    tls: { ca: certs.ca },
    handler: {
      handleIn(m, s) {
        got.push(String(m.data));
        done.resolve();
        return ok(s);
      },
    },
    state: null,
  });
  ws.send('over h1');
  await done.promise;
  ws.close();
  await ws.closed;
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const raw = await rawConnect(s, '/echo');
  raw.stream.write(clientFrame(OP.text, 'over h2'));
  got.push((await raw.reader.frame(0)).payload.toString());
  raw.stream.close(constants.NGHTTP2_CANCEL);
  t.deepEqual(got, ['over h1', 'over h2']);
  t.deepEqual(
    seen.requests.map((r) => r.http),
    ['1.1', '2'],
  );
  // a plain HTTP/1.1 request to the WebSocket path on the same port: 426 + Upgrade
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    https.get(`${originOf(srv.url)}/echo`, { ca: certs.ca }, resolve).on('error', reject);
  });
  res.resume();
  t.is(res.statusCode, 426);
  t.is(res.headers.upgrade, 'websocket');
});

test('plain requests to the standalone server: 405 + Allow on a WebSocket path over h2, 404 elsewhere', async (t) => {
  const srv = await listenH2({ routes: { '/echo': echoRoute(newSeen()) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url));
  t.teardown(() => s.destroy());
  const status = (path: string) =>
    new Promise<{ status: number; allow: unknown }>((resolve) => {
      const r = s.request({ ':path': path });
      r.on('error', () => {});
      r.on('response', (h) => resolve({ status: Number(h[':status']), allow: h.allow }));
      r.resume();
    });
  t.deepEqual(await status('/echo'), { status: 405, allow: 'CONNECT' });
  t.deepEqual(await status('/other'), { status: 404, allow: undefined });
});

test('a peer reset (RST_STREAM CANCEL) ends the server session with 1006 and crashes nothing', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) } });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  ws.stream.write(clientFrame(OP.text, 'x'));
  await ws.reader.frame(0);
  ws.stream.close(constants.NGHTTP2_CANCEL);
  await until(() => seen.ends.length === 1);
  t.like(seen.ends[0], { kind: 'error', code: 1006, wasClean: false });
  // and a whole session torn down mid-WebSocket
  const ws2 = await rawConnect(s, '/echo');
  t.is(ws2.status, 200);
  s.destroy();
  await until(() => seen.ends.length === 2);
  t.is(seen.ends[1]!.code, 1006);
  t.is(srv.registry.sessions.size, 0);
});

test('server abort is RST_STREAM CANCEL; a reset before the route answers is harmless', async (t) => {
  const seen = newSeen();
  const gate = deferred<void>();
  let deciding = false;
  const srv = await tlsServer({
    route: async (req) => {
      if (req.path === '/slow') {
        deciding = true;
        await gate.promise;
      }
      return echoRoute(seen);
    },
  });
  t.teardown(() => srv.close());
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  await until(() => srv.registry.sessions.size === 1);
  for (const session of srv.registry.sessions) session.abort();
  t.is(await ws.closed, constants.NGHTTP2_CANCEL);
  // a stream reset while its route is still being decided
  const slow = s.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': '/slow',
      'sec-websocket-version': '13',
    },
    { endStream: false },
  );
  slow.on('error', () => {});
  // reset while the route is deciding (a fixed wait is not enough on a loaded machine)
  await until(() => deciding, 5000, 'the route called');
  slow.close(constants.NGHTTP2_CANCEL);
  await new Promise((r) => slow.once('close', r));
  gate.resolve();
  // no session is left over: the route's answer to a reset stream opens none, or one that
  // ends as soon as the reset arrives (the server may decide before it reads the reset)
  await until(() => srv.registry.sessions.size === 0, 5000, 'no session left');
  t.is((await rawConnect(s, '/echo')).status, 200, 'the connection still works');
});

test('close(): WebSockets get 1001, then the server stops', async (t) => {
  const seen = newSeen();
  const srv = await tlsServer({ routes: { '/echo': echoRoute(seen) }, shutdownTimeout: 2000 });
  const s = await rawSession(originOf(srv.url), { ca: certs.ca });
  t.teardown(() => s.destroy());
  const ws = await rawConnect(s, '/echo');
  // answer the close like a browser would
  ws.stream.on('data', () => {
    if (ws.reader.frames[0]?.opcode === OP.close && !ws.stream.writableEnded) {
      ws.stream.end(clientFrame(OP.close, closePayload(1001)));
    }
  });
  await until(() => srv.registry.sessions.size === 1);
  await srv.close();
  const f = await ws.reader.frame(0);
  t.is(f.opcode, OP.close);
  t.is(f.payload.readUInt16BE(0), 1001);
  t.like(seen.ends[0], { kind: 'shutdown', code: 1001, wasClean: true });
});

test('two attachH2 on one server: each serves its routes, the rest gets 404', async (t) => {
  const server = http2.createServer();
  const a = attachH2(server, { routes: { '/a': echoRoute(newSeen()) } });
  const b = attachH2(server, { routes: { '/b': echoRoute(newSeen()) } });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (s) => sessions.add(s));
  t.teardown(async () => {
    await b.close();
    await a.close();
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.deepEqual(await echoOnce(origin, '/a'), { status: 200, text: 'ping?' });
  t.deepEqual(await echoOnce(origin, '/b'), { status: 200, text: 'ping?' });
  t.is((await echoOnce(origin, '/c')).status, 404);
  const s = await rawSession(origin);
  t.teardown(() => s.destroy());
  t.is((await rawConnect(s, '/a', { ':protocol': 'connect-udp' })).status, 501);
  // after the outer one detaches, the inner one still serves
  await b.close();
  t.deepEqual(await echoOnce(origin, '/a'), { status: 200, text: 'ping?' });
  t.is((await echoOnce(origin, '/b')).status, 404);
});
