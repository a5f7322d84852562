// Node's `ws` client (an independent implementation) against our HTTP/1.1 server.

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { ok, reply, stop } from '../../src/ws/handler.js';
import { delay, recorder, until, wsClient } from '../helpers.js';

async function serve(route: WebSocketRoute, extra: Record<string, unknown> = {}) {
  return listen({ routes: { '/ws': route }, ...extra });
}

test('echoes text, binary, empty and 16 MiB messages; negotiates the subprotocol', async (t) => {
  const rec = recorder();
  const srv = await serve({ handler: rec.handler, state: null, subprotocols: ['v2', 'echo'] });
  t.teardown(() => srv.close());
  const peer = await wsClient(`${srv.url}/ws`, ['echo', 'v2']);
  t.is(peer.ws.protocol, 'v2', 'server preference order wins');
  peer.ws.send('héllo ✓');
  t.deepEqual((await peer.next()).data.toString(), 'héllo ✓');
  peer.ws.send(Buffer.from([0, 1, 2, 255]));
  const bin = await peer.next();
  t.true(bin.binary);
  t.deepEqual([...bin.data], [0, 1, 2, 255]);
  peer.ws.send('');
  const empty = await peer.next();
  t.false(empty.binary);
  t.is(empty.data.length, 0);
  peer.ws.send(Buffer.alloc(0));
  const emptyBin = await peer.next();
  t.true(emptyBin.binary);
  t.is(emptyBin.data.length, 0);
  const big = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  peer.ws.send(big);
  const back = await peer.next();
  t.true(back.data.equals(big));
  t.is(rec.messages.length, 5);
  t.is(rec.messages[0]?.type, 'text');
  peer.ws.close(1000, 'bye');
  t.deepEqual(await peer.closed, { code: 1000, reason: '' });
  const reason = await rec.terminated;
  t.is(reason.kind, 'remote');
  t.is(reason.code, 1000);
  t.is(reason.reason, 'bye');
  t.true(reason.wasClean);
  await srv.close();
});

test('fragmented messages both ways', async (t) => {
  const rec = recorder();
  const srv = await serve({ handler: rec.handler, state: null, fragmentSize: 3 });
  t.teardown(() => srv.close());
  const peer = await wsClient(`${srv.url}/ws`);
  peer.ws.send('abc', { fin: false });
  peer.ws.send('def', { fin: false });
  peer.ws.send('g', { fin: true });
  t.is((await peer.next()).data.toString(), 'abcdefg');
  t.deepEqual(rec.messages, [{ type: 'text', data: 'abcdefg' }]);
  peer.ws.close();
  await rec.terminated;
  await srv.close();
});

test('ping/pong: auto-pong with the payload; handleControl sees pings and pongs', async (t) => {
  const rec = recorder();
  const srv = await serve({
    handler: {
      ...rec.handler,
      handleIn: (msg, state) => reply(state, { type: 'ping', data: String(msg.data) }),
    },
    state: null,
  });
  t.teardown(() => srv.close());
  const peer = await wsClient(`${srv.url}/ws`);
  const pong = new Promise<Buffer>((r) => peer.ws.once('pong', r));
  peer.ws.ping('are you there');
  t.is((await pong).toString(), 'are you there');
  const ping = new Promise<Buffer>((r) => peer.ws.once('ping', r));
  peer.ws.send('p1');
  t.is((await ping).toString(), 'p1');
  // ws answers our ping with a pong; it reaches the server a moment later (longer when loaded)
  await until(() => rec.controls.length >= 2, 5000, 'the pong');
  await delay(50);
  t.deepEqual(
    rec.controls.map((c) => [c.type, c.data.toString()]),
    [
      ['ping', 'are you there'],
      ['pong', 'p1'],
    ],
  );
  peer.ws.close();
  await srv.close();
});

test('close paths: server stop with a code, client close without code, shutdown, reset', async (t) => {
  // server stops with 4001
  const rec1 = recorder();
  const srv = await serve({
    handler: { ...rec1.handler, handleIn: (_m, s) => stop(s, 4001, 'custom') },
    state: null,
  });
  t.teardown(() => srv.close());
  const p1 = await wsClient(`${srv.url}/ws`);
  p1.ws.send('x');
  t.deepEqual(await p1.closed, { code: 4001, reason: 'custom' });
  const r1 = await rec1.terminated;
  t.is(r1.kind, 'normal');
  t.is(r1.code, 4001);
  t.true(r1.wasClean);
  await srv.close();

  // client closes with no status code: server sees 1005, nothing invalid goes on the wire
  const rec2 = recorder();
  const srv2 = await serve({ handler: rec2.handler, state: null });
  t.teardown(() => srv2.close());
  const p2 = await wsClient(`${srv2.url}/ws`);
  p2.ws.close();
  t.is((await p2.closed).code, 1005);
  const r2 = await rec2.terminated;
  t.is(r2.kind, 'remote');
  t.is(r2.code, 1005);
  await srv2.close();

  // server shutdown: 1001 to every session
  const rec3 = recorder();
  const srv3 = await serve({ handler: rec3.handler, state: null });
  t.teardown(() => srv3.close());
  const p3 = await wsClient(`${srv3.url}/ws`);
  const p3b = await wsClient(`${srv3.url}/ws`);
  await srv3.close();
  t.is((await p3.closed).code, 1001);
  t.is((await p3b.closed).code, 1001);
  t.is((await rec3.terminated).kind, 'shutdown');

  // client vanishes: the session ends with 1006 and kind error
  const rec4 = recorder();
  const srv4 = await serve({ handler: rec4.handler, state: null });
  t.teardown(() => srv4.close());
  const p4 = await wsClient(`${srv4.url}/ws`);
  p4.ws.terminate();
  const r4 = await rec4.terminated;
  t.is(r4.kind, 'error');
  t.is(r4.code, 1006);
  t.false(r4.wasClean);
  await srv4.close();
});

test('1009 when a message exceeds maxMessage; 1009 from the frame header for maxFrame', async (t) => {
  const rec = recorder();
  const srv = await serve({ handler: rec.handler, state: null, maxMessage: 1000, maxFrame: 600 });
  t.teardown(() => srv.close());
  const p = await wsClient(`${srv.url}/ws`);
  p.ws.send(Buffer.alloc(700));
  t.is((await p.closed).code, 1009);
  const r = await rec.terminated;
  t.is(r.kind, 'error');
  t.is((r.error as { code?: string }).code, 'WS_ERR_FRAME_TOO_BIG');

  const rec2 = recorder();
  const srv2 = await serve({ handler: rec2.handler, state: null, maxMessage: 1000, maxFrame: 600 });
  t.teardown(() => srv2.close());
  const p2 = await wsClient(`${srv2.url}/ws`);
  p2.ws.send(Buffer.alloc(500), { fin: false });
  p2.ws.send(Buffer.alloc(501), { fin: true });
  t.is((await p2.closed).code, 1009);
  t.is(((await rec2.terminated).error as { code?: string }).code, 'WS_ERR_MESSAGE_TOO_BIG');
  t.is(rec2.messages.length, 0);
  await srv.close();
  await srv2.close();
});

test('1007 on invalid UTF-8 in a text message, even split across fragments', async (t) => {
  const rec = recorder();
  const srv = await serve({ handler: rec.handler, state: null });
  t.teardown(() => srv.close());
  const p = await wsClient(`${srv.url}/ws`);
  // U+20AC is E2 82 AC; E2 82 followed by 'A' is invalid at the 'A'
  p.ws.send(Buffer.from([0x61, 0xe2]), { binary: false, fin: false });
  p.ws.send(Buffer.from([0x82, 0x41]), { binary: false, fin: true });
  t.is((await p.closed).code, 1007);
  const r = await rec.terminated;
  t.is((r.error as { code?: string }).code, 'WS_ERR_INVALID_UTF8');
  t.is(rec.messages.length, 0);
  await srv.close();
});

test('a handler that throws closes with 1011 and does not take the process down', async (t) => {
  const errors: Error[] = [];
  const rec = recorder();
  const srv = await serve({
    handler: {
      ...rec.handler,
      handleIn: () => {
        throw new Error('boom');
      },
    },
    state: null,
    onError: (e: Error) => errors.push(e),
  });
  t.teardown(() => srv.close());
  const p = await wsClient(`${srv.url}/ws`);
  p.ws.send('x');
  const closed = await p.closed;
  t.is(closed.code, 1011);
  t.is(closed.reason, '', 'no detail leaks to the peer');
  const r = await rec.terminated;
  t.is(r.kind, 'error');
  t.is((r.error!.cause as Error).message, 'boom');
  t.is(errors.length, 1);
  // an async rejection too
  const rec2 = recorder();
  const srv2 = await serve({
    handler: { ...rec2.handler, handleIn: async () => Promise.reject(new Error('later')) },
    state: null,
  });
  t.teardown(() => srv2.close());
  const p2 = await wsClient(`${srv2.url}/ws`);
  p2.ws.send('x');
  t.is((await p2.closed).code, 1011);
  await srv.close();
  await srv2.close();
});

test('async handlers are called strictly in order', async (t) => {
  const seen: number[] = [];
  const srv = await serve({
    handler: {
      handleIn: async (msg, state: number) => {
        const n = Number(msg.data);
        await delay((n * 7) % 5);
        seen.push(n);
        return reply(state + 1, `${n}:${state}`);
      },
    },
    state: 0,
  });
  t.teardown(() => srv.close());
  const p = await wsClient(`${srv.url}/ws`);
  for (let i = 0; i < 50; i++) p.ws.send(String(i));
  const got: string[] = [];
  for (let i = 0; i < 50; i++) got.push((await p.next()).data.toString());
  t.deepEqual(
    got,
    Array.from({ length: 50 }, (_, i) => `${i}:${i}`),
  );
  t.deepEqual(
    seen,
    Array.from({ length: 50 }, (_, i) => i),
  );
  p.ws.close();
  await srv.close();
});

test('init sees the request and can send; post() reaches handleInfo in order', async (t) => {
  const infos: unknown[] = [];
  const srv = await serve({
    subprotocols: ['chat'],
    handler: {
      init: (req, state, session) => {
        session.send(`${req.http} ${req.path} ${req.subprotocol} ${req.headers['x-test']}`);
        setTimeout(() => {
          session.post('tick');
          session.post('tock');
        }, 5);
        return ok(state);
      },
      handleIn: (_m, s) => ok(s),
      handleInfo: (info, state) => {
        infos.push(info);
        return reply(state, `info:${String(info)}`);
      },
    },
    state: null,
  });
  t.teardown(() => srv.close());
  const p = await wsClient(`${srv.url}/ws?x=1`, ['chat'], { headers: { 'x-test': 'yes' } });
  t.is((await p.next()).data.toString(), '1.1 /ws?x=1 chat yes');
  t.is((await p.next()).data.toString(), 'info:tick');
  t.is((await p.next()).data.toString(), 'info:tock');
  t.deepEqual(infos, ['tick', 'tock']);
  p.ws.close();
  await srv.close();
});
