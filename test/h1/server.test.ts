// Our HTTP/1.1 server with our client, raw sockets and plain HTTP requests.

import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import WebSocket from 'ws';
import { ensureCerts } from '../../src/dev/certs.js';
import { connectH1 } from '../../src/h1/client.js';
import { attach } from '../../src/server/attach.js';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { Opcode } from '../../src/ws/frame.js';
import { ok, reply } from '../../src/ws/handler.js';
import { clientFrame, delay, rawClient, recorder, until, wsClient } from '../helpers.js';

test('our client ↔ our server over wss:// with a generated CA; verification on by default', async (t) => {
  const certs = await ensureCerts(await mkdtemp(join(tmpdir(), 'omniws-h1-')));
  const rec = recorder();
  const srv = await listen({
    routes: { '/echo': { handler: rec.handler, state: null } },
    tls: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
  });
  t.teardown(() => srv.close());
  t.regex(srv.url, /^wss:/);
  const port = srv.port;
  const client = recorder({ echo: false });
  const session = await connectH1(`wss://localhost:${port}/echo`, {
    state: null,
    handler: client.handler,
    tls: { ca: readFileSync(certs.ca) },
  });
  t.true(session.request.secure);
  session.send(['secure', Buffer.from('bytes')]);
  await until(() => client.messages.length >= 2);
  t.deepEqual(client.messages, [
    { type: 'text', data: 'secure' },
    { type: 'binary', data: Buffer.from('bytes') },
  ]);
  session.close(1000);
  t.is((await client.terminated).code, 1000);
  const r = await rec.terminated;
  t.is(r.kind, 'remote');
  // without the CA the certificate is refused
  const err = await t.throwsAsync(
    connectH1(`wss://localhost:${port}/echo`, { state: null, handler: recorder().handler }),
  );
  t.is((err as WebSocketError).code, 'WS_ERR_CERTIFICATE');
  await srv.close();
});

test('frames that arrive in the same packet as the request head are not lost', async (t) => {
  const rec = recorder();
  const srv = await listen({ routes: { '/': { handler: rec.handler, state: null } } });
  t.teardown(() => srv.close());
  const early = Buffer.concat([
    clientFrame(Opcode.Text, 'first'),
    clientFrame(Opcode.Text, 'second'),
  ]);
  const c = await rawClient(srv.port, '/', early);
  t.teardown(() => c.socket.destroy());
  await until(() => rec.messages.length >= 2);
  t.deepEqual(
    rec.messages.map((m) => m.data),
    ['first', 'second'],
  );
  c.socket.destroy();
  await srv.close();
});

test('server fragments outgoing messages on the wire when fragmentSize is set', async (t) => {
  const srv = await listen({
    routes: { '/': { handler: recorder().handler, state: null, fragmentSize: 4 } },
  });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  t.teardown(() => c.socket.destroy());
  c.socket.write(clientFrame(Opcode.Text, 'abcdefghij'));
  await until(() => Buffer.concat(c.received).length >= 16, 5000, 'three frames');
  const bytes = Buffer.concat(c.received);
  // three frames: text(fin=0) "abcd", cont(fin=0) "efgh", cont(fin=1) "ij"
  t.deepEqual(
    [...bytes],
    [
      ...[0x01, 4, ...Buffer.from('abcd')],
      ...[0x00, 4, ...Buffer.from('efgh')],
      ...[0x80, 2, ...Buffer.from('ij')],
    ],
  );
  c.socket.destroy();
  await srv.close();
});

test('a peer that vanishes mid-frame ends the session with 1006, no hang', async (t) => {
  const rec = recorder();
  const srv = await listen({ routes: { '/': { handler: rec.handler, state: null } } });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  const frame = clientFrame(Opcode.Binary, Buffer.alloc(1000, 1));
  c.socket.write(frame.subarray(0, 500));
  await delay(20);
  c.socket.destroy();
  const r = await rec.terminated;
  t.is(r.kind, 'error');
  t.is(r.code, 1006);
  t.is(rec.messages.length, 0);
  await srv.close();
});

test('protocol errors on the wire close with the RFC code: unmasked frame 1002, reserved opcode 1002', async (t) => {
  const srv = await listen({ routes: { '/': { handler: recorder().handler, state: null } } });
  t.teardown(() => srv.close());
  for (const [bytes, code] of [
    [Buffer.from([0x81, 0x02, 0x68, 0x69]), 1002], // unmasked client frame
    [clientFrame(3 as Opcode, 'x'), 1002], // reserved opcode
    [clientFrame(Opcode.Ping, Buffer.alloc(126)), 1002], // control payload > 125
  ] as const) {
    const c = await rawClient(srv.port);
    c.socket.write(bytes);
    await c.ended;
    const got = Buffer.concat(c.received);
    t.is(got[0], 0x88, 'a close frame');
    t.is(got.readUInt16BE(2), code);
  }
  await srv.close();
});

test('bad handshakes get the right HTTP status over the wire', async (t) => {
  const srv = await listen({
    routes: {
      '/ws': { handler: recorder().handler, state: null, checkOrigin: (o) => o === 'https://good' },
    },
  });
  t.teardown(() => srv.close());
  const ask = (head: string) =>
    new Promise<string>((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1', () => s.write(head));
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.includes('\r\n')) {
          resolve(buf.split('\r\n')[0] ?? '');
          s.destroy();
        }
      });
    });
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const base = (extra: string, version = '13') =>
    `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`;
  t.is(await ask(base('Origin: https://evil\r\n')), 'HTTP/1.1 403 Forbidden');
  t.is(await ask(base('Origin: https://good\r\n', '8')), 'HTTP/1.1 426 Upgrade Required');
  t.is(
    await ask(base('Origin: https://good\r\nSec-WebSocket-Protocol: a b\r\n')),
    'HTTP/1.1 400 Bad Request',
  );
  t.is(
    await ask(
      `GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
    'HTTP/1.1 404 Not Found',
  );
  t.is(await ask(base('Origin: https://good\r\n')), 'HTTP/1.1 101 Switching Protocols');
  // a plain request to a WebSocket path
  const res = await fetch(`http://127.0.0.1:${srv.port}/ws`);
  t.is(res.status, 426);
  t.is(res.headers.get('upgrade'), 'websocket');
  await srv.close();
});

test('route() can reject with 401 + www-authenticate instead of upgrading', async (t) => {
  const srv = await listen({
    route: (req) =>
      req.headers.authorization === 'Bearer ok'
        ? { handler: recorder().handler, state: null }
        : { status: 401, headers: { 'www-authenticate': 'Bearer realm="omniws"' } },
  });
  t.teardown(() => srv.close());
  const err = await t.throwsAsync(
    connectH1(`${srv.url}/`, { state: null, handler: recorder().handler }),
  );
  t.is((err as WebSocketError).status, 401);
  const rejected = await new Promise<http.IncomingMessage>((resolve) => {
    const ws = new WebSocket(`${srv.url}/`);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res);
      ws.terminate();
    });
    ws.on('error', () => {});
  });
  t.is(rejected.statusCode, 401);
  t.is(rejected.headers['www-authenticate'], 'Bearer realm="omniws"');
  const s = await connectH1(`${srv.url}/`, {
    state: null,
    handler: recorder({ echo: false }).handler,
    headers: { authorization: 'Bearer ok' },
  });
  t.is(s.readyState, 'open');
  s.close();
  await srv.close();
});

test('attach() leaves other upgrade listeners and normal requests alone', async (t) => {
  const server = http.createServer((_req, res) => res.end('plain http'));
  const otherUpgrades: string[] = [];
  server.on('upgrade', (req, socket) => {
    if (req.url === '/other') {
      otherUpgrades.push(req.url);
      socket.end('HTTP/1.1 418 I am a teapot\r\ncontent-length: 0\r\n\r\n');
    }
  });
  const rec = recorder();
  const attached = attach(server, { routes: { '/ours': { handler: rec.handler, state: null } } });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t.is(await (await fetch(`http://127.0.0.1:${port}/ours`)).text(), 'plain http');
  const peer = await wsClient(`ws://127.0.0.1:${port}/ours`);
  peer.ws.send('hi');
  t.is((await peer.next()).data.toString(), 'hi');
  const status = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/other`);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => {});
  });
  t.is(status, 418);
  t.deepEqual(otherUpgrades, ['/other']);
  await attached.close();
  t.is((await peer.closed).code, 1001);
  await new Promise<void>((r) => server.close(() => r()));
});

test('close timeout: a peer that never answers our close is aborted; terminate says timeout', async (t) => {
  const rec = recorder();
  const srv = await listen({
    routes: {
      '/': {
        handler: {
          ...rec.handler,
          handleIn: (_m, s, session) => {
            session.close(1000);
            return ok(s);
          },
        },
        state: null,
        closeTimeout: 100,
      },
    },
  });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  c.socket.write(clientFrame(Opcode.Text, 'close please'));
  const started = Date.now();
  await c.ended; // we never answer; the server gives up
  const r = await rec.terminated;
  t.is(r.kind, 'timeout');
  t.false(r.wasClean);
  t.true(Date.now() - started < 2000);
  await srv.close();
});

test('idle timeout closes with 1001', async (t) => {
  const rec = recorder();
  const srv = await listen({
    routes: { '/': { handler: rec.handler, state: null, idleTimeout: 100 } },
  });
  t.teardown(() => srv.close());
  const peer = await wsClient(`${srv.url}/`);
  const closed = await peer.closed;
  t.is(closed.code, 1001);
  t.is(closed.reason, 'idle timeout');
  t.is((await rec.terminated).kind, 'timeout');
  await srv.close();
});

test('a busy handler pauses reading instead of queueing without bound', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let calls = 0;
  const srv = await listen({
    routes: {
      '/': {
        state: null,
        maxQueued: 4,
        handler: {
          handleIn: async (msg, s) => {
            calls++;
            if (calls === 1) await gate;
            return reply(s, msg.data);
          },
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  const frame = clientFrame(Opcode.Binary, Buffer.alloc(16 * 1024, 1));
  let written = 0;
  // write until the kernel buffers fill up because the server stopped reading
  for (let i = 0; i < 4000 && c.socket.writableLength < 4 * 1024 * 1024; i++) {
    c.socket.write(frame);
    written++;
  }
  await delay(300);
  t.is(calls, 1, 'the handler is still busy with the first message');
  t.true(c.socket.writableLength > 0, 'the server stopped reading, so our writes back up');
  release();
  // everything written arrives, in order, once the handler frees up
  const total = written * (frame.length - 6);
  let echoed = 0;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    echoed = Buffer.concat(c.received).length;
    if (echoed >= total) break;
    await delay(20);
  }
  t.is(calls, written);
  t.true(echoed >= total);
  c.socket.destroy();
  await srv.close();
});

test('hibernate releases the protocol while idle and the session carries on', async (t) => {
  const srv = await listen({
    routes: {
      '/': {
        state: 0,
        handler: {
          handleIn: (msg, n: number) => reply(n + 1, `${msg.data}#${n + 1}`, { hibernate: true }),
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const peer = await wsClient(`${srv.url}/`);
  for (const word of ['a', 'b', 'c']) {
    peer.ws.send(word);
  }
  const got = [
    (await peer.next()).data.toString(),
    (await peer.next()).data.toString(),
    (await peer.next()).data.toString(),
  ];
  t.deepEqual(got, ['a#1', 'b#2', 'c#3']);
  peer.ws.close(1000);
  t.is((await peer.closed).code, 1000);
  await srv.close();
});
