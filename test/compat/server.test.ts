// omniws/ws's WebSocketServer against the real `ws` client and hand-made requests: the
// behaviours of ws's own test/websocket-server.test.js that apply, as our own tests.

import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import test from 'ava';
import type { VerifyClientInfo } from '../../src/compat/ws/options.js';
import { WebSocketServer } from '../../src/compat/ws/server.js';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { closeServer, httpServer, next, realClient, upgradeRequest, wsServer } from './helpers.js';

type VerifyCallback = (
  ok: boolean,
  code?: number,
  message?: string,
  headers?: http.OutgoingHttpHeaders,
) => void;

// ── the constructor ─────────────────────────────────────────────────────────

test('the constructor wants one and only one of port, server and noServer', (t) => {
  const message =
    'One and only one of the "port", "server", or "noServer" options must be specified';
  t.throws(() => new WebSocketServer({}), { instanceOf: TypeError, message });
  t.throws(() => new WebSocketServer({ port: 0, noServer: true }), { message });
  t.throws(() => new WebSocketServer({ port: 0, server: http.createServer() }), { message });
  t.throws(() => new WebSocketServer({ server: http.createServer(), noServer: true }), {
    message,
  });
});

test('the options given are exposed, with ws defaults for the rest', (t) => {
  const wss = new WebSocketServer({ noServer: true, path: '/chat' });
  t.is(wss.options.path, '/chat');
  t.is(wss.options.maxPayload, 100 * 1024 * 1024);
  t.is(wss.options.perMessageDeflate, false);
  t.is(wss.options.clientTracking, true);
  t.is(wss.options.WebSocket, WebSocket);
});

test('port mode listens, calls back, and says where', async (t) => {
  let called = false;
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
    called = true;
  });
  await next(wss, 'listening');
  t.true(called);
  const addr = wss.address() as AddressInfo;
  t.is(addr.address, '127.0.0.1');
  t.true(addr.port > 0);
  await closeServer(wss);
  t.is(wss.address(), null);
});

test("port mode emits 'error' when the port is taken", async (t) => {
  const { port } = await httpServer(t);
  const wss = new WebSocketServer({ port, host: '127.0.0.1' });
  const [err] = await next<[NodeJS.ErrnoException]>(wss, 'error');
  t.is(err.code, 'EADDRINUSE');
});

test('port mode answers plain requests with 426', async (t) => {
  const { port } = await wsServer(t);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  t.is(res.status, 426);
  t.is(res.headers.get('content-type'), 'text/plain');
  t.is(await res.text(), 'Upgrade Required');
});

test('address() throws in noServer mode', (t) => {
  const wss = new WebSocketServer({ noServer: true });
  t.throws(() => wss.address(), { message: 'The server is operating in "noServer" mode' });
});

test('a server given as `server` takes its upgrades', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const { port } = await httpServer(t, server);
  const client = realClient(`ws://127.0.0.1:${port}/x?y=1`);
  const [ws, req] = await next<[WebSocket, http.IncomingMessage]>(wss, 'connection');
  t.true(ws instanceof WebSocket);
  t.is(req.url, '/x?y=1');
  t.is(req.headers.upgrade, 'websocket');
  await client.opened;
  client.close();
  await next(ws, 'close');
});

// ── close() ─────────────────────────────────────────────────────────────────

test('close() may be called many times; close fires once', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await next(wss, 'listening');
  let closes = 0;
  wss.on('close', () => closes++);
  wss.close();
  wss.close();
  wss.close();
  await next(wss, 'close');
  await new Promise((resolve) => setImmediate(resolve));
  t.is(closes, 1);
});

test('close() leaves a server it was given open, and takes its listeners off it', async (t) => {
  const server = http.createServer((_req, res) => res.end('still here'));
  const counts = ['listening', 'upgrade', 'error'].map((e) => server.listenerCount(e));
  const wss = new WebSocketServer({ server });
  t.is(server.listenerCount('upgrade'), 1);
  const { port } = await httpServer(t, server);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  t.deepEqual(
    ['listening', 'upgrade', 'error'].map((e) => server.listenerCount(e)),
    counts,
  );
  t.is(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'still here');
});

test('close() calls back without an error in noServer mode, with or without client tracking', async (t) => {
  for (const clientTracking of [true, false]) {
    const wss = new WebSocketServer({ noServer: true, clientTracking });
    const err = await new Promise((resolve) => wss.close(resolve));
    t.is(err, undefined);
  }
});

test('close() on a closed server calls back with an error and emits close again', async (t) => {
  const { wss } = await wsServer(t);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  const err = await new Promise<Error | undefined>((resolve) => wss.close(resolve));
  t.true(err instanceof Error);
  t.is(err?.message, 'The server is not running');
});

test('close() leaves open sockets open; close fires after the last one closed', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  const { port } = await httpServer(t, server);
  const client = realClient(`ws://127.0.0.1:${port}`);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  let closed = false;
  wss.close(() => {
    closed = true;
  });
  // the socket still works after close()
  client.send('still open');
  const [msg] = await next<[Buffer]>(ws, 'message');
  t.is(msg.toString(), 'still open');
  t.false(closed);
  // no longer the server's listener: an upgrade now goes to whoever listens instead
  t.is(server.listenerCount('upgrade'), 0);
  ws.close();
  await next(wss, 'close');
  t.true(closed);
});

// ── clients ─────────────────────────────────────────────────────────────────

test('clients holds the open sockets and forgets them when they close or are terminated', async (t) => {
  const { wss, url } = await wsServer(t);
  t.is(wss.clients!.size, 0);
  const a = realClient(url);
  const [wa] = await next<[WebSocket]>(wss, 'connection');
  const b = realClient(url);
  const [wb] = await next<[WebSocket]>(wss, 'connection');
  t.deepEqual([...wss.clients!], [wa, wb]);
  await a.opened;
  await b.opened;
  a.close();
  await next(wa, 'close');
  t.deepEqual([...wss.clients!], [wb]);
  b.terminate();
  await next(wb, 'close');
  t.is(wss.clients!.size, 0);
});

test('clientTracking: false leaves clients undefined', async (t) => {
  const { wss, url } = await wsServer(t, { clientTracking: false });
  t.is(wss.clients, undefined);
  const client = realClient(url);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  t.is(wss.clients, undefined);
  await client.opened;
  client.close();
  await next(ws, 'close');
});

// ── shouldHandle and handleUpgrade ──────────────────────────────────────────

test('shouldHandle compares the path without its query', (t) => {
  const wss = new WebSocketServer({ noServer: true, path: '/chat' });
  t.true(wss.shouldHandle({ url: '/chat?room=1' } as http.IncomingMessage));
  t.false(wss.shouldHandle({ url: '/other' } as http.IncomingMessage));
  t.true(
    new WebSocketServer({ noServer: true }).shouldHandle({ url: '/x' } as http.IncomingMessage),
  );
});

test('handleUpgrade in noServer mode, and 400 for a path that does not match', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, path: '/ws' });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws, request) => {
      t.is(request, req);
      wss.emit('connection', ws, request);
    });
  });
  const { port } = await httpServer(t, server);
  t.is((await upgradeRequest(port, {}, { path: '/nope' })).status, 400);
  const client = realClient(`ws://127.0.0.1:${port}/ws`);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  t.is(ws.readyState, WebSocket.OPEN);
  client.close();
  await next(ws, 'close');
});

test('handleUpgrade twice with one socket throws ws’s error', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const thrown = new Promise<unknown>((resolve) => {
    server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, () => {
        try {
          wss.handleUpgrade(req, socket, head, () => {});
          resolve(undefined);
        } catch (err) {
          resolve(err);
        }
      });
    });
  });
  const { port } = await httpServer(t, server);
  const client = realClient(`ws://127.0.0.1:${port}`);
  client.on('error', () => {});
  const err = (await thrown) as Error;
  t.is(
    err?.message,
    'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
  );
  client.terminate();
});

// ── refused handshakes ──────────────────────────────────────────────────────

test('refusals: method, Upgrade, key, version, protocols, extensions, with ws’s statuses and messages', async (t) => {
  const { port } = await wsServer(t, { perMessageDeflate: true });
  const cases: [http.OutgoingHttpHeaders, { method?: string }, number, string][] = [
    [{}, { method: 'POST' }, 405, 'Invalid HTTP method'],
    [{ Upgrade: 'foo' }, {}, 400, 'Invalid Upgrade header'],
    [
      { 'Sec-WebSocket-Key': 'P5l8BJcZwRc=' },
      {},
      400,
      'Missing or invalid Sec-WebSocket-Key header',
    ],
    [{ 'Sec-WebSocket-Version': '12' }, {}, 400, 'Missing or invalid Sec-WebSocket-Version header'],
    [{ 'Sec-WebSocket-Protocol': 'a,,b' }, {}, 400, 'Invalid Sec-WebSocket-Protocol header'],
    [{ 'Sec-WebSocket-Protocol': 'a, a' }, {}, 400, 'Invalid Sec-WebSocket-Protocol header'],
    [
      { 'Sec-WebSocket-Extensions': 'permessage-deflate; =' },
      {},
      400,
      'Invalid or unacceptable Sec-WebSocket-Extensions header',
    ],
  ];
  for (const [headers, opts, status, body] of cases) {
    const res = await upgradeRequest(port, headers, opts);
    t.is(res.status, status, body);
    t.is(res.body, body);
    t.is(res.headers.connection, 'close');
    t.is(res.headers['content-type'], 'text/html');
  }
  const version = await upgradeRequest(port, { 'Sec-WebSocket-Version': '12' });
  t.is(version.headers['sec-websocket-version'], '13, 8');
});

test('a Hixie-76 request (no key, no version) is refused with 400', async (t) => {
  const { port } = await wsServer(t);
  const res = await upgradeRequest(port, {
    'Sec-WebSocket-Key': '',
    'Sec-WebSocket-Key1': '4 @1  46546xW%0l 1 5',
    'Sec-WebSocket-Version': '',
  });
  t.is(res.status, 400);
});

test("'wsClientError' gets the refusal, the socket and the request instead of the 400", async (t) => {
  const { wss, port } = await wsServer(t);
  wss.on('wsClientError', (err: Error, socket: net.Socket, req: http.IncomingMessage) => {
    t.is(err.message, 'Invalid Upgrade header');
    t.is(req.headers.upgrade, 'foo');
    socket.end("HTTP/1.1 418 I'm a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  const res = await upgradeRequest(port, { Upgrade: 'foo' });
  t.is(res.status, 418);
});

test('a closing server answers an upgrade it is handed with 503', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.close();
    wss.handleUpgrade(req, socket, head, () => t.fail('no socket after close()'));
  });
  const { port } = await httpServer(t, server);
  t.is((await upgradeRequest(port)).status, 503);
});

test('an extension offer without permessage-deflate enabled is not answered', async (t) => {
  const { wss, url } = await wsServer(t);
  const client = realClient(url, { perMessageDeflate: true });
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  t.is(client.extensions, '');
  t.is(ws.extensions, '');
  client.close();
  await next(ws, 'close');
});

test('permessage-deflate with options: agreed, and messages go both ways', async (t) => {
  const { wss, url } = await wsServer(t, {
    perMessageDeflate: { serverNoContextTakeover: true, threshold: 0 },
  });
  const client = realClient(url, { perMessageDeflate: true });
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  const [res] = await next<[http.IncomingMessage]>(client, 'upgrade');
  t.regex(String(res.headers['sec-websocket-extensions']), /server_no_context_takeover/);
  await client.opened;
  t.is(ws.extensions, 'permessage-deflate');
  client.send('x'.repeat(10_000));
  const [echo] = await next<[Buffer]>(client, 'message');
  t.is(echo.toString(), 'x'.repeat(10_000));
  client.close();
  await next(ws, 'close');
});

// ── verifyClient ────────────────────────────────────────────────────────────

test('verifyClient (one argument) refuses with 401 and accepts', async (t) => {
  let allow = false;
  const seen: { origin: string | undefined; secure: boolean; url: string | undefined }[] = [];
  const { wss, port, url } = await wsServer(t, {
    verifyClient: (info: VerifyClientInfo) => {
      seen.push({ origin: info.origin, secure: info.secure, url: info.req.url });
      return allow;
    },
  });
  const refused = await upgradeRequest(port, { Origin: 'https://example.com' }, { path: '/a' });
  t.is(refused.status, 401);
  t.is(refused.body, 'Unauthorized');
  t.deepEqual(seen, [{ origin: 'https://example.com', secure: false, url: '/a' }]);
  allow = true;
  const client = realClient(url);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  client.close();
  await next(ws, 'close');
});

test('verifyClient (two arguments) refuses later with a status, message and headers', async (t) => {
  const { port } = await wsServer(t, {
    verifyClient: (_info: VerifyClientInfo, cb: VerifyCallback) => {
      setTimeout(() => cb(false, 403, 'go away', { 'Retry-After': 120 }), 10);
    },
  });
  const res = await upgradeRequest(port);
  t.is(res.status, 403);
  t.is(res.body, 'go away');
  t.is(res.headers['retry-after'], '120');
});

test('verifyClient (two arguments) refuses with 401 when no code is given, accepts later', async (t) => {
  let allow = false;
  const { wss, port, url } = await wsServer(t, {
    verifyClient: (_info: VerifyClientInfo, cb: VerifyCallback) => setImmediate(() => cb(allow)),
  });
  t.is((await upgradeRequest(port)).status, 401);
  allow = true;
  const client = realClient(url);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  client.close();
  await next(ws, 'close');
});

// ── the accepted handshake ──────────────────────────────────────────────────

test('bytes sent with the upgrade request reach the socket after connection', async (t) => {
  const { wss, port } = await wsServer(t);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  // the request head and a masked text frame "Hello" (RFC 6455 §5.7) in one write
  const frame = Buffer.from('818537fa213d7f9f4d5158', 'hex');
  socket.write(
    Buffer.concat([
      Buffer.from(
        'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
      frame,
    ]),
  );
  // the listener goes on in 'connection' (the frame is read right after it, as in ws)
  const message = new Promise<[Buffer, boolean]>((resolve) => {
    wss.on('connection', (ws: WebSocket) => ws.on('message', (...args) => resolve(args as never)));
  });
  const [data, isBinary] = await message;
  t.is(data.toString(), 'Hello');
  t.false(isBinary);
  socket.destroy();
});

test('handleProtocols chooses among the offered set; without it the first is taken', async (t) => {
  const { wss, url } = await wsServer(t, {
    handleProtocols: (protocols, req) => {
      t.deepEqual([...protocols], ['foo', 'bar', 'baz']);
      t.is(req.url, '/');
      return 'bar';
    },
  });
  const client = realClient(url, ['foo', 'bar', 'baz']);
  const [ws] = await next<[WebSocket]>(wss, 'connection');
  await client.opened;
  t.is(client.protocol, 'bar');
  t.is(ws.protocol, 'bar');
  client.close();
  const plain = await wsServer(t);
  const c2 = realClient(plain.url, ['foo', 'bar']);
  const [ws2] = await next<[WebSocket]>(plain.wss, 'connection');
  await c2.opened;
  t.is(ws2.protocol, 'foo');
  c2.close();
});

test('handleProtocols returning false answers without a subprotocol (the ws client then fails)', async (t) => {
  const { url } = await wsServer(t, { handleProtocols: () => false });
  const client = realClient(url, ['foo']);
  const [err] = await next<[Error]>(client, 'error');
  t.is(err.message, 'Server sent no subprotocol');
});

test("'headers' lets the application add to the 101", async (t) => {
  const { wss, url } = await wsServer(t);
  wss.on('headers', (headers: string[], req: http.IncomingMessage) => {
    t.is(headers[0], 'HTTP/1.1 101 Switching Protocols');
    t.is(req.url, '/');
    headers.push('Set-Cookie: foo=bar');
  });
  const client = realClient(url);
  const [res] = await next<[http.IncomingMessage]>(client, 'upgrade');
  t.deepEqual(res.headers['set-cookie'], ['foo=bar']);
  await client.opened;
  client.close();
});

test("no 'connection' when the client ended before verifyClient decided", async (t) => {
  const { wss, port } = await wsServer(t, {
    verifyClient: ({ req }: VerifyClientInfo, cb: (ok: boolean) => void) => {
      // decide once the client's FIN has arrived: the socket is no longer readable
      req.socket.on('end', () => cb(true));
    },
  });
  let connected = false;
  wss.on('connection', () => {
    connected = true;
  });
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.end(
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  socket.resume();
  // the server destroys the socket instead of answering
  await once(socket, 'close');
  t.false(connected);
});
