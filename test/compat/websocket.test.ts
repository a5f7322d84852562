// omniws/ws's WebSocket as a client (HTTP/1.1) against the real `ws` server and servers
// made by hand: the behaviours of ws's own test/websocket.test.js that apply, as our own
// tests.

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { WebSocketServer as RealServer } from 'ws';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { acceptKey } from '../../src/h1/upgrade.js';
import { httpServer, type Recorder, record } from './helpers.js';

const CLIENT_EVENTS = ['open', 'close', 'error', 'message', 'upgrade', 'ping', 'pong', 'redirect'];
const connections = new WeakMap<RealServer, Recorder>();

/** A real `ws` server, closed at teardown; its connections are recorded. */
async function realServer(
  t: import('ava').ExecutionContext,
  opts: ConstructorParameters<typeof RealServer>[0] = {},
): Promise<{ wss: RealServer; url: string }> {
  const wss = new RealServer({ port: 0, host: '127.0.0.1', ...opts });
  connections.set(wss, record(wss, ['connection']));
  await once(wss, 'listening');
  t.teardown(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

/** An omniws/ws client whose events are recorded (`ev`); `opened` is its 'open'. */
function client(...args: ConstructorParameters<typeof WebSocket>) {
  const ws = new WebSocket(...args);
  const ev = record(ws, CLIENT_EVENTS);
  return Object.assign(ws, { ev, opened: ev.next('open') });
}

/** The real server's next socket, its events recorded, its messages echoed when asked. */
async function accepted(wss: RealServer, echo = false) {
  const [peer, req] = await connections
    .get(wss)!
    .next<[import('ws').WebSocket, http.IncomingMessage]>('connection');
  const ev = record(peer, ['message', 'close', 'ping', 'pong']);
  if (echo) peer.on('message', (d, isBinary) => peer.send(d, { binary: isBinary }));
  return Object.assign(peer, { ev, req });
}

// ── the constructor ─────────────────────────────────────────────────────────

test('the constructor throws ws’s errors for bad URLs, subprotocols and versions', (t) => {
  t.throws(() => new WebSocket('foo'), { instanceOf: SyntaxError, message: 'Invalid URL: foo' });
  t.throws(() => new WebSocket('bad-scheme://websocket-echo.com'), {
    instanceOf: SyntaxError,
    message: 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"',
  });
  t.throws(() => new WebSocket('ws+unix:'), { message: "The URL's pathname is empty" });
  t.throws(() => new WebSocket('wss://websocket-echo.com#foo'), {
    message: 'The URL contains a fragment identifier',
  });
  for (const protocols of [['a', 'a'], ['a b'], [''], [1 as unknown as string]]) {
    t.throws(() => new WebSocket('ws://localhost', protocols), {
      instanceOf: SyntaxError,
      message: 'An invalid or duplicated subprotocol was specified',
    });
  }
  t.throws(() => new WebSocket('ws://localhost', { protocolVersion: 1000 }), {
    instanceOf: RangeError,
    message: 'Unsupported protocol version: 1000 (supported versions: 8, 13)',
  });
});

test('http:, https: and URL objects are taken; url is the ws: URL', async (t) => {
  const { wss, url } = await realServer(t);
  const port = new URL(url).port;
  const ws = client(new URL(`http://127.0.0.1:${port}/a?b`));
  t.is(ws.url, `ws://127.0.0.1:${port}/a?b`);
  t.is(ws.readyState, WebSocket.CONNECTING);
  const peer = await accepted(wss);
  await ws.opened;
  t.is(ws.readyState, WebSocket.OPEN);
  peer.close();
  await ws.ev.next('close');
  t.is(ws.readyState, WebSocket.CLOSED);
  const secure = new WebSocket('https://127.0.0.1:1');
  secure.on('error', () => {});
  t.is(secure.url, 'wss://127.0.0.1:1/');
  secure.terminate();
});

test('the ready-state constants are enumerable on the class and its instances', (t) => {
  const names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
  for (const [i, name] of names.entries()) {
    t.is((WebSocket as unknown as Record<string, number>)[name], i);
    t.is(Object.getOwnPropertyDescriptor(WebSocket, name)?.enumerable, true);
    t.is(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.enumerable, true);
    t.is(Object.getOwnPropertyDescriptor(WebSocket.prototype, name)?.writable, false);
  }
  for (const attr of [
    'binaryType',
    'bufferedAmount',
    'extensions',
    'isPaused',
    'protocol',
    'readyState',
    'url',
  ]) {
    const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, attr);
    t.true(d?.enumerable && d.configurable, attr);
  }
});

// ── attributes ──────────────────────────────────────────────────────────────

test('binaryType: nodebuffer by default; arraybuffer, fragments and blob; text stays a Buffer', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  t.is(ws.binaryType, 'nodebuffer');
  (ws as { binaryType: string }).binaryType = 'nope';
  t.is(ws.binaryType, 'nodebuffer');
  const peer = await accepted(wss);
  await ws.opened;
  const got: [unknown, boolean][] = [];
  ws.on('message', (data, isBinary) => got.push([data, isBinary]));
  for (const type of ['nodebuffer', 'arraybuffer', 'fragments', 'blob'] as const) {
    ws.binaryType = type;
    peer.send(Buffer.from('hi'));
    peer.send('text');
    while (got.length < 2) await ws.ev.next('message');
    const [[bin, isBinary], [text, textIsBinary]] = got.splice(0, 2) as [
      [unknown, boolean],
      [unknown, boolean],
    ];
    t.true(isBinary);
    t.false(textIsBinary);
    t.true(Buffer.isBuffer(text), `text with ${type}`);
    t.is(String(text), 'text');
    if (type === 'nodebuffer') t.deepEqual(bin, Buffer.from('hi'));
    if (type === 'arraybuffer') t.deepEqual(Buffer.from(bin as ArrayBuffer), Buffer.from('hi'));
    if (type === 'fragments') t.deepEqual(bin, [Buffer.from('hi')]);
    if (type === 'blob') t.is(await (bin as Blob).text(), 'hi');
  }
  ws.close();
});

test('protocol and extensions say what the server agreed', async (t) => {
  const { wss, url } = await realServer(t, {
    perMessageDeflate: true,
    handleProtocols: (p) => [...p].pop() ?? false,
  });
  const ws = client(url, ['foo', 'bar']);
  await accepted(wss);
  await ws.opened;
  t.is(ws.protocol, 'bar');
  t.is(ws.extensions, 'permessage-deflate');
  ws.close();
  const plain = client(url, { perMessageDeflate: false });
  await accepted(wss);
  await plain.opened;
  t.is(plain.protocol, '');
  t.is(plain.extensions, '');
  plain.close();
});

test('isPaused follows pause() and resume(), which do nothing while connecting or closed', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  ws.pause();
  t.false(ws.isPaused);
  const peer = await accepted(wss);
  await ws.opened;
  ws.pause();
  t.true(ws.isPaused);
  ws.resume();
  t.false(ws.isPaused);
  peer.close();
  await ws.ev.next('close');
  ws.pause();
  t.false(ws.isPaused);
});

test('a paused socket holds its messages until resume()', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  const got: string[] = [];
  ws.on('message', (d) => got.push(String(d)));
  ws.pause();
  peer.send('one');
  peer.send('two');
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(got, []);
  ws.resume();
  while (got.length < 2) await ws.ev.next('message');
  t.deepEqual(got, ['one', 'two']);
  ws.close();
});

// ── events ──────────────────────────────────────────────────────────────────

test("'upgrade' gives the 101; 'ping' and 'pong' give their payloads", async (t) => {
  const { wss, url } = await realServer(t);
  wss.on('headers', (h) => h.push('Set-Cookie: a=1'));
  const ws = client(url);
  const [res] = await ws.ev.next<[http.IncomingMessage]>('upgrade');
  t.is(res.statusCode, 101);
  t.deepEqual(res.headers['set-cookie'], ['a=1']);
  const peer = await accepted(wss);
  await ws.opened;
  peer.ping('hey');
  const [ping] = await ws.ev.next<[Buffer]>('ping');
  t.is(ping.toString(), 'hey');
  // the engine answered the ping by itself
  const [autoPong] = await peer.ev.next<[Buffer]>('pong');
  t.is(autoPong.toString(), 'hey');
  peer.pong('ho');
  const [pong] = await ws.ev.next<[Buffer]>('pong');
  t.is(pong.toString(), 'ho');
  ws.close();
});

test("a protocol error of the peer: 'error' with ws's code, then 'close' 1006", async (t) => {
  const server = http.createServer();
  server.on('upgrade', (req, socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`,
    );
    // opcode 0x5 is reserved (RFC 6455 §5.2)
    socket.write(Buffer.from([0x85, 0x00]));
    socket.on('data', () => {});
    socket.on('error', () => {});
    // ends its side once the client has failed the connection and ended its own
    socket.on('end', () => socket.end());
  });
  const { port } = await httpServer(t, server);
  const ws = client(`ws://127.0.0.1:${port}`);
  const [err] = await ws.ev.next<[Error & { code?: string }]>('error');
  t.true(err instanceof RangeError);
  t.is(err.code, 'WS_ERR_INVALID_OPCODE');
  t.regex(err.message, /^Invalid WebSocket frame: /);
  t.is(ws.ev.pending('close'), 1, "'close' right after 'error'");
  const [code, reason] = await ws.ev.next<[number, Buffer]>('close');
  t.is(code, 1006);
  t.is(reason.length, 0);
});

test("'redirect' and followRedirects: the next URL is followed, up to maxRedirects", async (t) => {
  const { wss, url } = await realServer(t);
  const server = http.createServer((req, res) => {
    const n = Number(req.url?.slice(1) ?? 0);
    res.writeHead(302, { Location: n > 0 ? `/${n - 1}` : url });
    res.end();
  });
  const { port } = await httpServer(t, server);
  server.on('upgrade', (req, socket) => {
    const n = Number(req.url?.slice(1) ?? 0);
    socket.end(
      `HTTP/1.1 302 Found\r\nLocation: ${n > 0 ? `/${n - 1}` : url}\r\nContent-Length: 0\r\n\r\n`,
    );
  });
  // not followed by default
  const plain = client(`ws://127.0.0.1:${port}/0`);
  const [err] = await plain.ev.next<[Error]>('error');
  t.is(err.message, 'Unexpected server response: 302');
  // followed, with a 'redirect' per hop
  const followed = client(`ws://127.0.0.1:${port}/1`, { followRedirects: true });
  const hops: string[] = [];
  followed.on('redirect', (to: string) => hops.push(to));
  await accepted(wss);
  await followed.opened;
  t.deepEqual(hops, [`ws://127.0.0.1:${port}/0`, `${url}/`]);
  t.is(followed.url, `${url}/`);
  followed.close();
  // one hop too many
  const limited = client(`ws://127.0.0.1:${port}/3`, { followRedirects: true, maxRedirects: 2 });
  const [tooMany] = await limited.ev.next<[Error]>('error');
  t.is(tooMany.message, 'Maximum redirects exceeded');
});

// ── failed handshakes ───────────────────────────────────────────────────────

function answering(lines: (req: http.IncomingMessage) => string): http.Server {
  const server = http.createServer();
  server.on('upgrade', (req, socket) => {
    socket.on('error', () => {});
    socket.end(lines(req));
  });
  return server;
}

test('a 101 that ws would refuse fails with ws’s messages', async (t) => {
  const good = (req: http.IncomingMessage) =>
    `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n`;
  const cases: [(req: http.IncomingMessage) => string, string[], string][] = [
    [
      () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n',
      [],
      'Invalid Upgrade header',
    ],
    [
      () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n',
      [],
      'Invalid Sec-WebSocket-Accept header',
    ],
    [
      (r) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}Sec-WebSocket-Protocol: foo\r\n\r\n`,
      [],
      'Server sent a subprotocol but none was requested',
    ],
    [
      (r) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}Sec-WebSocket-Protocol: baz\r\n\r\n`,
      ['foo', 'bar'],
      'Server sent an invalid subprotocol',
    ],
    [
      (r) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}\r\n`,
      ['foo'],
      'Server sent no subprotocol',
    ],
    [
      (r) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}Sec-WebSocket-Extensions: foo\r\n\r\n`,
      [],
      'Server indicated an extension that was not requested',
    ],
    [
      (r) =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}Sec-WebSocket-Extensions: permessage-deflate; foo=bar\r\n\r\n`,
      [],
      'Invalid Sec-WebSocket-Extensions header',
    ],
  ];
  for (const [answer, protocols, message] of cases) {
    const { port } = await httpServer(t, answering(answer));
    const ws = client(`ws://127.0.0.1:${port}`, protocols);
    ws.on('open', () => t.fail('no open'));
    const [err] = await ws.ev.next<[Error]>('error');
    t.is(err.message, message);
    await ws.ev.next('close');
    t.is(ws.readyState, WebSocket.CLOSED);
  }
  const { port } = await httpServer(t, answering(good));
  const noOffer = client(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  noOffer.on('upgrade', () => {});
  const server2 = answering(
    (r) =>
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${good(r)}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
  );
  const { port: port2 } = await httpServer(t, server2);
  const refused = client(`ws://127.0.0.1:${port2}`, { perMessageDeflate: false });
  const [err] = await refused.ev.next<[Error]>('error');
  t.is(err.message, 'Server sent a Sec-WebSocket-Extensions header but no extension was requested');
  noOffer.terminate();
});

test("a refusal: 'error' (Unexpected server response) or, when listened for, 'unexpected-response' with the body", async (t) => {
  const { port } = await httpServer(
    t,
    answering(
      () => 'HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 3\r\n\r\nfoo',
    ),
  );
  const ws = client(`ws://127.0.0.1:${port}`);
  const [err] = await ws.ev.next<[Error]>('error');
  t.is(err.message, 'Unexpected server response: 401');
  const [code, reason] = await ws.ev.next<[number, Buffer]>('close');
  t.is(code, 1006);
  t.is(reason.length, 0);

  const listened = client(`ws://127.0.0.1:${port}`);
  const unexpected = once(listened, 'unexpected-response') as Promise<
    [http.ClientRequest, http.IncomingMessage]
  >;
  const [req, res] = await unexpected;
  t.true(req instanceof http.ClientRequest);
  t.is(res.statusCode, 401);
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk;
  t.is(body, 'foo');
  t.is(listened.ev.pending('error'), 0, 'no error when unexpected-response is listened for');
  t.is(listened.readyState, WebSocket.CONNECTING);
  // the application ends it: close() while connecting
  listened.close();
  const [closed] = await listened.ev.next<[Error]>('error');
  t.is(closed.message, 'WebSocket was closed before the connection was established');
  t.is((await listened.ev.next<[number]>('close'))[0], 1006);
});

test('handshakeTimeout: Opening handshake has timed out', async (t) => {
  const server = http.createServer();
  server.on('upgrade', (_req, socket) => socket.on('end', () => socket.end()));
  const { port } = await httpServer(t, server);
  const ws = client(`ws://127.0.0.1:${port}`, { handshakeTimeout: 100 });
  const [err] = await ws.ev.next<[Error]>('error');
  t.is(err.message, 'Opening handshake has timed out');
});

test('close() and terminate() while connecting: error, then close 1006', async (t) => {
  const { url } = await realServer(t, {
    verifyClient: (_info, cb) => setTimeout(() => cb(true), 200),
  });
  for (const how of ['close', 'terminate'] as const) {
    const ws = client(url);
    ws.on('open', () => t.fail('no open'));
    const events: string[] = [];
    ws.on('error', (err: Error) => events.push(`error: ${err.message}`));
    setTimeout(() => ws[how](), 50);
    const [code] = await ws.ev.next<[number]>('close');
    t.is(code, 1006);
    t.deepEqual(events, ['error: WebSocket was closed before the connection was established']);
    t.is(ws.readyState, WebSocket.CLOSED);
  }
});

test("close() from a listener of 'upgrade' stops the WebSocket before 'open'", async (t) => {
  const { url } = await realServer(t);
  const ws = client(url);
  ws.on('upgrade', () => ws.close());
  ws.on('open', () => t.fail('no open'));
  const [err] = await ws.ev.next<[Error]>('error');
  t.is(err.message, 'WebSocket was closed before the connection was established');
  await ws.ev.next('close');
  t.is(ws.readyState, WebSocket.CLOSED);
});

test('an unreachable server: the socket error, then close 1006', async (t) => {
  const { port } = await httpServer(t);
  const probe = http.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  t.not(closedPort, port);
  const ws = client(`ws://127.0.0.1:${closedPort}`);
  const [err] = await ws.ev.next<[NodeJS.ErrnoException]>('error');
  t.is(err.code, 'ECONNREFUSED');
  t.is((await ws.ev.next<[number]>('close'))[0], 1006);
});

// ── ping / pong / send ──────────────────────────────────────────────────────

test('ping, pong and send throw while connecting', (t) => {
  const ws = new WebSocket('ws://127.0.0.1:1');
  ws.on('error', () => {});
  for (const m of ['ping', 'pong', 'send'] as const) {
    t.throws(() => (ws[m] as (d: string) => void)('x'), {
      message: 'WebSocket is not open: readyState 0 (CONNECTING)',
    });
  }
  ws.terminate();
});

test('after close: ping, pong and send count in bufferedAmount and call back with an error', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  await accepted(wss);
  await ws.opened;
  ws.close();
  t.is(ws.readyState, WebSocket.CLOSING);
  const errors: string[] = [];
  await new Promise<void>((resolve) => {
    ws.send('hi', (err) => errors.push(String(err?.message)));
    ws.ping('ab', undefined, (err) => errors.push(String(err?.message)));
    ws.pong(Buffer.from('c'), (err) => {
      errors.push(String(err?.message));
      resolve();
    });
  });
  t.deepEqual(errors, Array(3).fill('WebSocket is not open: readyState 2 (CLOSING)'));
  t.true(ws.bufferedAmount >= 5);
  await ws.ev.next('close');
  ws.send('more', (err) => errors.push(String(err?.message)));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(errors[3], 'WebSocket is not open: readyState 3 (CLOSED)');
});

test('ping and pong: no data, data, numbers; above 125 bytes throws', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  const pings: string[] = [];
  peer.on('ping', (d) => pings.push(d.toString()));
  const pongs: string[] = [];
  peer.on('pong', (d) => pongs.push(d.toString()));
  ws.ping();
  ws.ping('hi');
  ws.ping(42);
  ws.pong(Buffer.from('x'));
  while (pings.length < 3 || pongs.length < 1) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(pings, ['', 'hi', '42']);
  t.deepEqual(pongs, ['x']);
  t.throws(() => ws.ping(Buffer.alloc(126)), {
    instanceOf: RangeError,
    message: 'The data size must not be greater than 125 bytes',
  });
  t.throws(() => ws.pong(Buffer.alloc(126)), { instanceOf: RangeError });
  ws.close();
});

test('send: text, numbers, Buffers, TypedArrays, ArrayBuffers, Blobs, falsy data, in order', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  const got: [string, boolean][] = [];
  peer.on('message', (d: Buffer, isBinary: boolean) => got.push([d.toString('hex'), isBinary]));
  ws.send('hi');
  ws.send(42);
  ws.send(Buffer.from([1, 2]));
  ws.send(new Uint16Array([0x0403]));
  ws.send(new Blob([Buffer.from([5])]));
  ws.send(new Uint8Array([6, 7, 8]).buffer);
  ws.send('', {});
  ws.send(undefined);
  ws.send('as binary', { binary: true });
  while (got.length < 9) await peer.ev.next('message');
  t.deepEqual(got, [
    [Buffer.from('hi').toString('hex'), false],
    [Buffer.from('42').toString('hex'), false],
    ['0102', true],
    ['0304', true],
    ['05', true],
    ['060708', true],
    ['', false],
    ['', true],
    [Buffer.from('as binary').toString('hex'), true],
  ]);
  t.throws(() => ws.send({} as never), { instanceOf: TypeError });
  ws.close();
});

test('send with fin: false: the fragments arrive as one message, the first says text or binary', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  ws.send('fra', { fin: false });
  ws.send(Buffer.from('gm'), { fin: false });
  ws.send('ent');
  const [data, isBinary] = await peer.ev.next<[Buffer, boolean]>('message');
  t.is(data.toString(), 'fragment');
  t.false(isBinary);
  ws.close();
});

test('a big binary message, and the callback once it is written', async (t) => {
  const { wss, url } = await realServer(t, { maxPayload: 64 * 1024 * 1024 });
  const ws = client(url);
  const peer = await accepted(wss, true);
  await ws.opened;
  const big = Buffer.alloc(5 * 1024 * 1024, 7);
  const written = new Promise<Error | undefined>((resolve) => ws.send(big, resolve));
  t.true(ws.bufferedAmount > 0);
  t.is(await written, undefined);
  const [echo] = await ws.ev.next<[Buffer]>('message', 20_000);
  t.true(echo.equals(big));
  peer.close();
});

// ── close / terminate ───────────────────────────────────────────────────────

test('close(code, reason) reaches the peer; bad codes and long reasons throw like ws', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  for (const bad of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000, '1000']) {
    t.throws(() => ws.close(bad as number), {
      instanceOf: TypeError,
      message: 'First argument must be a valid error code number',
    });
  }
  t.throws(() => ws.close(1000, 'x'.repeat(124)), {
    instanceOf: RangeError,
    message: 'The message must not be greater than 123 bytes',
  });
  t.is(ws.readyState, WebSocket.OPEN);
  ws.close(4001, 'bye');
  t.is(ws.readyState, WebSocket.CLOSING);
  const [code, reason] = await peer.ev.next<[number, Buffer]>('close');
  t.is(code, 4001);
  t.is(reason.toString(), 'bye');
  const [myCode, myReason] = await ws.ev.next<[number, Buffer]>('close');
  // the close frame this side sent (the peer echoed it)
  t.is(myCode, 4001);
  t.is(myReason.toString(), 'bye');
  // a second close() does nothing
  ws.close();
  t.is(ws.readyState, WebSocket.CLOSED);
});

test('close codes 1013 and 1014 may be sent', async (t) => {
  const { wss, url } = await realServer(t);
  for (const code of [1013, 1014]) {
    const ws = client(url);
    const peer = await accepted(wss);
    await ws.opened;
    ws.close(code);
    t.is((await peer.ev.next<[number]>('close'))[0], code);
  }
});

test('the server closes: close with its code and reason, wasClean in the CloseEvent', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  const events: { code: number; reason: string; wasClean: boolean }[] = [];
  ws.onclose = (e: { code: number; reason: string; wasClean: boolean }) => events.push(e);
  peer.close(4000, 'done');
  const [code, reason] = await ws.ev.next<[number, Buffer]>('close');
  t.is(code, 4000);
  t.is(reason.toString(), 'done');
  t.like(events[0], { code: 4000, reason: 'done', wasClean: true });
});

test('terminate(): close 1006 at once, the peer sees 1006 too', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  const peer = await accepted(wss);
  await ws.opened;
  ws.terminate();
  t.is(ws.readyState, WebSocket.CLOSING);
  const [code] = await ws.ev.next<[number]>('close');
  t.is(code, 1006);
  t.is((await peer.ev.next<[number]>('close'))[0], 1006);
  ws.terminate();
  t.is(ws.readyState, WebSocket.CLOSED);
});

// ── the WHATWG emulation ────────────────────────────────────────────────────

test('on… attributes and addEventListener wrap events; removeEventListener only removes its own', async (t) => {
  const ws = new WebSocket('ws://127.0.0.1:1');
  ws.on('error', () => {});
  const noop = () => {};
  t.is(ws.onmessage as unknown, null);
  ws.onmessage = noop;
  t.is(ws.onmessage, noop);
  t.is(ws.listenerCount('message'), 1);
  (ws as { onmessage: unknown }).onmessage = 'not a function';
  t.is(ws.onmessage as unknown, null);
  t.is(ws.listenerCount('message'), 0);

  const seen: unknown[] = [];
  const listener = (e: { type: string; data: unknown; target: unknown }) =>
    seen.push([e.type, e.data, e.target]);
  ws.addEventListener('message', listener);
  ws.addEventListener('message', listener);
  t.is(ws.listenerCount('message'), 1);
  ws.addEventListener('nope', listener);
  t.is(ws.listenerCount('nope'), 0);
  ws.emit('message', Buffer.from('text'), false);
  ws.emit('message', Buffer.from('bin'), true);
  t.deepEqual(seen, [
    ['message', 'text', ws],
    ['message', Buffer.from('bin'), ws],
  ]);
  ws.on('message', listener as never);
  ws.removeEventListener('message', listener);
  t.is(ws.listenerCount('message'), 1, 'the one added with on() stays');
  const once = { handleEvent: (e: { type: string }) => seen.push(e.type) };
  ws.addEventListener('open', once, { once: true });
  ws.emit('open');
  ws.emit('open');
  t.is(seen.filter((s) => s === 'open').length, 1);
  ws.terminate();
});

test('an echo through the real ws server: MessageEvent data is a string for text', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url);
  await accepted(wss, true);
  const data = new Promise<unknown>((resolve) => {
    ws.onmessage = (e: { data: unknown }) => resolve(e.data);
  });
  await ws.opened;
  ws.send('héllo');
  t.is(await data, 'héllo');
  ws.close();
});

test('permessage-deflate is offered by default and can be turned off', async (t) => {
  const { wss, url } = await realServer(t, { perMessageDeflate: true });
  const ws = client(url);
  const peer = await accepted(wss, true);
  t.regex(
    String(peer.req.headers['sec-websocket-extensions']),
    /^permessage-deflate; client_max_window_bits/,
  );
  await ws.opened;
  t.is(ws.extensions, 'permessage-deflate');
  ws.send('x'.repeat(5000));
  t.is(String((await ws.ev.next<[Buffer]>('message'))[0]), 'x'.repeat(5000));
  peer.close();
  const off = client(url, { perMessageDeflate: false });
  await accepted(wss);
  await off.opened;
  t.is(off.extensions, '');
  off.close();
});

test('request headers: custom ones, origin, userinfo as Basic auth', async (t) => {
  const { wss, url } = await realServer(t);
  const port = new URL(url).port;
  const ws = client(`ws://user:p%40ss@127.0.0.1:${port}`, {
    headers: { 'X-Custom': 'yes' },
    origin: 'https://example.com',
  });
  const { req } = await accepted(wss);
  t.is(req.headers['x-custom'], 'yes');
  t.is(req.headers.origin, 'https://example.com');
  t.is(req.headers.authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  await ws.opened;
  ws.close();
  // protocolVersion 8 sends Sec-WebSocket-Origin
  const v8 = client(url, { protocolVersion: 8, origin: 'https://old.example' });
  const { req: req8 } = await accepted(wss);
  t.is(req8.headers['sec-websocket-version'], '8');
  t.is(req8.headers['sec-websocket-origin'], 'https://old.example');
  await v8.opened;
  v8.close();
});

test('finishRequest customizes the request before it is sent', async (t) => {
  const { wss, url } = await realServer(t);
  const ws = client(url, {
    finishRequest: (req: http.ClientRequest, socket: WebSocket) => {
      t.true(socket instanceof WebSocket);
      req.setHeader('Cookie', 'foo=bar');
      req.end();
    },
  });
  const { req } = await accepted(wss);
  t.is(req.headers.cookie, 'foo=bar');
  await ws.opened;
  ws.close();
});

test('ws+unix: URLs connect over a Unix domain socket', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-ipc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'ws.sock');
  const server = http.createServer();
  const wss = new RealServer({ server });
  const conns = record(wss, ['connection']);
  server.listen(path);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const ws = client(`ws+unix:${path}:/room?x=1`);
  const [peer, req] =
    await conns.next<[import('ws').WebSocket, http.IncomingMessage]>('connection');
  t.is(req.url, '/room?x=1');
  await ws.opened;
  peer.send('over a unix socket');
  t.is(String((await ws.ev.next<[Buffer]>('message'))[0]), 'over a unix socket');
  ws.close();
  await ws.ev.next('close');
});

test('the entry point: ws’s names, and the default export with ws’s statics', async (t) => {
  const entry = await import('../../src/exports/ws.js');
  t.is(entry.WebSocket, WebSocket);
  t.is(entry.default as unknown, WebSocket);
  t.is(entry.default.Server, entry.WebSocketServer);
  t.is(entry.default.WebSocketServer, entry.WebSocketServer);
  t.is(entry.default.createWebSocketStream, entry.createWebSocketStream);
  t.is(entry.default.WebSocket, WebSocket);
  t.is(entry.default.OPEN, 1);
});
