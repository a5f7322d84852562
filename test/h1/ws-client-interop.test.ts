// Our HTTP/1.1 client against Node's `ws` server (an independent implementation).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type WebSocket from 'ws';
import { connectH1 } from '../../src/h1/client.js';
import { acceptKey } from '../../src/h1/upgrade.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok, stop } from '../../src/ws/handler.js';
import { recorder, wsServer } from '../helpers.js';

function onConnection(wss: { once(e: 'connection', f: (s: WebSocket) => void): unknown }) {
  return new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
}

test('echo through a ws server: text, binary, empty, 16 MiB; subprotocol and 101 visible to init', async (t) => {
  const srv = await wsServer({ handleProtocols: (set) => (set.has('b') ? 'b' : false) });
  srv.wss.on('connection', (s) => s.on('message', (d, binary) => s.send(d, { binary })));
  const rec = recorder({ echo: false });
  let initInfo = '';
  const session = await connectH1(`${srv.url}/path?q=1`, {
    subprotocols: ['a', 'b'],
    state: null,
    handler: {
      ...rec.handler,
      init: (req, state) => {
        initInfo = `${req.subprotocol} ${req.response?.status} ${req.response?.headers.upgrade}`;
        return ok(state);
      },
    },
  });
  t.is(initInfo, 'b 101 websocket');
  t.is(session.subprotocol, 'b');
  const big = Buffer.alloc(16 * 1024 * 1024, 7);
  session.send(['text ✓', Buffer.from([9, 8, 7]), '', Buffer.alloc(0), big]);
  while (rec.messages.length < 5) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(rec.messages[0], { type: 'text', data: 'text ✓' });
  t.deepEqual(rec.messages[1], { type: 'binary', data: Buffer.from([9, 8, 7]) });
  t.deepEqual(rec.messages[2], { type: 'text', data: '' });
  t.deepEqual(rec.messages[3], { type: 'binary', data: Buffer.alloc(0) });
  t.true((rec.messages[4]!.data as Buffer).equals(big));
  session.close(1000, 'done');
  const r = await rec.terminated;
  t.is(r.kind, 'normal');
  t.true(r.wasClean);
  await srv.close();
});

test('fragmentation both ways; pings from the server are answered', async (t) => {
  const srv = await wsServer();
  const conn = onConnection(srv.wss);
  const rec = recorder({ echo: false });
  const session = await connectH1(srv.url, { state: null, handler: rec.handler, fragmentSize: 2 });
  const s = await conn;
  const got = new Promise<{ data: Buffer; binary: boolean }>((resolve) =>
    s.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  );
  session.send('hello');
  t.is((await got).data.toString(), 'hello');
  s.send('ab', { fin: false });
  s.send('cd', { fin: false });
  s.send('e', { fin: true });
  const pong = new Promise<Buffer>((r) => s.once('pong', r));
  s.ping('hb');
  t.is((await pong).toString(), 'hb');
  while (rec.messages.length < 1) await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(rec.messages, [{ type: 'text', data: 'abcde' }]);
  t.deepEqual(
    rec.controls.map((c) => [c.type, c.data.toString()]),
    [['ping', 'hb']],
  );
  session.close();
  await rec.terminated;
  await srv.close();
});

test('close paths with a ws server: server closes with 4000; server drops the socket', async (t) => {
  const srv = await wsServer();
  srv.wss.on('connection', (s) =>
    s.on('message', (d) => (d.toString() === 'close' ? s.close(4000, 'go') : s.terminate())),
  );
  const rec = recorder({ echo: false });
  const session = await connectH1(srv.url, { state: null, handler: rec.handler });
  session.send('close');
  const r = await rec.terminated;
  t.is(r.kind, 'remote');
  t.is(r.code, 4000);
  t.is(r.reason, 'go');
  t.true(r.wasClean);

  const rec2 = recorder({ echo: false });
  const s2 = await connectH1(srv.url, { state: null, handler: rec2.handler });
  s2.send('drop');
  const r2 = await rec2.terminated;
  t.is(r2.kind, 'error');
  t.is(r2.code, 1006);
  t.is((r2.error as WebSocketError).code, 'WS_ERR_CONNECTION_LOST');
  await srv.close();
});

test('client limits: 1009 for a big message, 1007 for bad UTF-8 from the server', async (t) => {
  const srv = await wsServer();
  const closes: number[] = [];
  srv.wss.on('connection', (s) => {
    s.on('close', (code) => closes.push(code));
    s.on('message', (d) => {
      if (d.toString() === 'big') s.send(Buffer.alloc(2000));
      else s.send(Buffer.from([0x68, 0xc3, 0x28]), { binary: false });
    });
  });
  const rec = recorder({ echo: false });
  const s1 = await connectH1(srv.url, { state: null, handler: rec.handler, maxMessage: 1000 });
  s1.send('big');
  const r = await rec.terminated;
  t.is(r.code, 1009);
  t.is((r.error as WebSocketError).code, 'WS_ERR_MESSAGE_TOO_BIG');
  const rec2 = recorder({ echo: false });
  const s2 = await connectH1(srv.url, { state: null, handler: rec2.handler });
  s2.send('utf8');
  const r2 = await rec2.terminated;
  t.is(r2.code, 1007);
  await new Promise((res) => setTimeout(res, 50));
  t.deepEqual(closes.sort(), [1007, 1009], 'the server saw our close codes');
  await srv.close();
});

test('handshake failures: a non-101 status, a bad accept, an unoffered subprotocol, a timeout', async (t) => {
  const srv = await wsServer({
    verifyClient: (_info, cb) => cb(false, 401, 'Unauthorized', { 'www-authenticate': 'Bearer' }),
  });
  const err = await t.throwsAsync(connectH1(srv.url, { state: null, handler: recorder().handler }));
  t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE_STATUS');
  t.is((err as WebSocketError).status, 401);
  await srv.close();

  let mode = 'accept';
  const raw = http.createServer();
  const sockets: { destroy(): void }[] = [];
  raw.on('upgrade', (req, socket) => {
    sockets.push(socket);
    if (mode === 'silent') return; // never answers
    const proto = mode === 'proto' ? 'sec-websocket-protocol: nope\r\n' : '';
    socket.end(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: ${
        mode === 'accept'
          ? 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='
          : acceptKey(String(req.headers['sec-websocket-key']))
      }\r\n${proto}\r\n`,
    );
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  const url = `ws://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
  const e1 = await t.throwsAsync(connectH1(url, { state: null, handler: recorder().handler }));
  t.regex((e1 as Error).message, /Accept/);
  mode = 'proto';
  const e2 = await t.throwsAsync(connectH1(url, { state: null, handler: recorder().handler }));
  t.regex((e2 as Error).message, /subprotocol "nope" that was not offered/);
  mode = 'silent';
  const e3 = await t.throwsAsync(
    connectH1(url, { state: null, handler: recorder().handler, timeout: 200 }),
  );
  t.is((e3 as WebSocketError).code, 'WS_ERR_HANDSHAKE_TIMEOUT');
  for (const s of sockets) s.destroy(); // upgraded sockets are no longer the server's
  await new Promise<void>((r) => raw.close(() => r()));
});

test('stop() and close() refuse close codes that may not be sent', async (t) => {
  const srv = await wsServer();
  const rec = recorder({ echo: false });
  const session = await connectH1(srv.url, { state: null, handler: rec.handler });
  for (const code of [1004, 1005, 1006, 1015, 999, 5000, 2000]) {
    const e = t.throws(() => session.close(code));
    t.is((e as WebSocketError).code, 'WS_ERR_CLOSE_CODE_NOT_ALLOWED');
  }
  t.throws(() => stop(null, 1006), { message: /may not be sent/ });
  t.throws(() => session.close(1000, 'x'.repeat(124)), { message: /above 123/ });
  t.is(session.readyState, 'open', 'nothing was sent');
  session.send('still open');
  session.close(1000);
  t.is((await rec.terminated).code, 1000);
  await srv.close();
});
