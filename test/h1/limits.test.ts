// Limits of the HTTP/1.1 server that hold without any finding behind them: send()
// backpressure with drained(), the request head size (431) and header count, and frame
// lengths that are announced but not yet sent (nothing is allocated ahead of the bytes).

import net from 'node:net';
import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import { ok } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { delay, rawClient, recorder, until } from '../helpers.js';
import { gc, used } from '../memory.js';

/** Send `head` on a fresh connection; resolves with the status line of the answer. */
function statusOf(port: number, head: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(head));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) {
        resolve(buf.split('\r\n')[0] ?? '');
        s.destroy();
      }
    });
    s.on('close', () => resolve(buf.split('\r\n')[0] ?? ''));
  });
}

const upgradeHead = (extra = '') =>
  'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

test('send() returns false above the high-water mark; drained() resolves once the peer reads', async (t) => {
  let session!: Session<null>;
  const results: boolean[] = [];
  const srv = await listen({
    routes: {
      '/': {
        state: null,
        handler: {
          init: (_r, s, api) => {
            session = api as Session<null>;
            return ok(s);
          },
          handleIn: (_m, s) => ok(s),
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  t.teardown(() => c.socket.destroy());
  c.socket.pause();
  await until(() => session !== undefined);
  const chunk = Buffer.alloc(256 * 1024, 1);
  // 16 MiB: more than the kernel buffers take, less than maxBuffered
  for (let i = 0; i < 64; i++) {
    results.push(session.send(chunk));
    await delay(1);
  }
  t.true(results.includes(false), 'send reported backpressure');
  t.false(results[results.length - 1], 'the last send is still above the mark');
  t.true(session.bufferedAmount > 0);
  let drained = false;
  const wait = session.drained().then(() => {
    drained = true;
  });
  await delay(20);
  t.false(drained, 'nothing drains while the peer reads nothing');
  c.socket.resume();
  await wait;
  t.true(session.bufferedAmount < 64 * 1024);
  t.true(session.send(Buffer.from('after the drain')));
  await until(() => Buffer.concat(c.received).length >= 64 * chunk.length, 10_000, 'everything');
});

test('a request head above maxHeaderSize is answered 431 (default 16 KiB, configurable)', async (t) => {
  const srv = await listen({ routes: { '/': { handler: recorder().handler, state: null } } });
  t.teardown(() => srv.close());
  t.regex(await statusOf(srv.port, upgradeHead(`X-Big: ${'a'.repeat(17 * 1024)}\r\n`)), / 431 /);
  t.regex(await statusOf(srv.port, upgradeHead(`X-Big: ${'a'.repeat(15 * 1024)}\r\n`)), / 101 /);
  const small = await listen({
    routes: { '/': { handler: recorder().handler, state: null } },
    maxHeaderSize: 1024,
  });
  t.teardown(() => small.close());
  t.regex(await statusOf(small.port, upgradeHead(`X-Big: ${'a'.repeat(1024)}\r\n`)), / 431 /);
  t.regex(await statusOf(small.port, upgradeHead()), / 101 /);
  await until(() => srv.registry.sessions.size + small.registry.sessions.size === 0);
});

// RFC 9110 §5.4: fields a server will not process are answered with a 4xx, never ignored
// (RFC 6585 §5: 431). Node 20's node:http would drop the fields beyond maxHeadersCount and
// carry on; Node 22.23 and 24.22 answer 431 themselves; omniws answers 431 on all of them.
test('a request head with more fields than maxHeadersCount is answered 431, never taken without them', async (t) => {
  const srv = await listen({
    routes: { '/': { handler: recorder().handler, state: null } },
    maxHeadersCount: 20,
  });
  t.teardown(() => srv.close());
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: y\r\n`).join('');
  // the WebSocket fields after the 20th: without them it would not even be an upgrade
  const head =
    `GET / HTTP/1.1\r\nHost: x\r\n${fields(50)}Upgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  t.regex(await statusOf(srv.port, head), / 431 /);
  // a complete upgrade (5 fields), then more: 20 fields in all pass, 21 do not
  t.regex(await statusOf(srv.port, upgradeHead(fields(15))), / 101 /);
  t.regex(await statusOf(srv.port, upgradeHead(fields(16))), / 431 /);
  // a plain request too (a route without an upgrade is 426 when it gets through)
  const plain = (n: number) => `GET / HTTP/1.1\r\nHost: x\r\n${fields(n)}\r\n`;
  t.regex(await statusOf(srv.port, plain(19)), / 426 /);
  t.regex(await statusOf(srv.port, plain(20)), / 431 /);
  t.regex(await statusOf(srv.port, upgradeHead()), / 101 /);
  await until(() => srv.registry.sessions.size === 0);
});

test.serial(
  'frames that announce 16 MiB and send 1 KiB: nothing is allocated ahead of the bytes',
  async (t) => {
    const srv = await listen({ routes: { '/': { handler: recorder().handler, state: null } } });
    t.teardown(() => srv.close());
    const peers = [];
    await gc();
    const before = used();
    for (let i = 0; i < 32; i++) {
      const c = await rawClient(srv.port);
      t.teardown(() => c.socket.destroy());
      // a masked binary frame header announcing 16 MiB (the default maxFrame), then 1 KiB
      const head = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0x01, 0, 0, 0, 1, 2, 3, 4]);
      c.socket.write(Buffer.concat([head, Buffer.alloc(1024, 9)]));
      peers.push(c);
    }
    await delay(50);
    await gc();
    const grown = used() - before;
    // 32 x 16 MiB would be 512 MiB
    t.true(grown < 32 * 1024 * 1024, `${(grown / 1e6).toFixed(1)} MB for 32 announced frames`);
    t.is(srv.registry.sessions.size, 32);
    // the frames are still incomplete: nothing was delivered, nothing failed
    for (const c of peers) t.is(c.received.length, 0);
  },
);

test('many connections that idle after the handshake are closed by idleTimeout with 1001', async (t) => {
  const srv = await listen({
    routes: {
      '/': { handler: recorder().handler, state: null, idleTimeout: 150, closeTimeout: 150 },
    },
  });
  t.teardown(() => srv.close());
  const peers = await Promise.all(Array.from({ length: 20 }, () => rawClient(srv.port)));
  for (const c of peers) t.teardown(() => c.socket.destroy());
  await Promise.all(peers.map((c) => c.ended));
  for (const c of peers) {
    const got = Buffer.concat(c.received);
    t.is(got[0], 0x88);
    t.is(got.readUInt16BE(2), 1001);
  }
  await until(() => srv.registry.sessions.size === 0);
});
