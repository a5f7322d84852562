// The WHATWG WebSocket: the web-platform-tests behaviours that need no browser
// (websockets/Create-*, Close-*, Send-*, binaryType-*, bufferedAmount-*, readyState),
// over HTTP/1.1, HTTP/2 and (once connect() can) HTTP/3.

import test, { type ExecutionContext } from 'ava';
import { CloseEvent, WebSocket, type WebSocketOptions } from '../../src/client/whatwg.js';
import type { ServerOptions } from '../../src/server/options.js';
import { type Handler, type Message, reply, stop } from '../../src/ws/handler.js';
import {
  cleanup,
  deadPort,
  startServer,
  type TestServer,
  until,
  type Version,
  versionName,
  versions,
} from '../client/servers.js';

test.after.always(cleanup);

interface Seen {
  messages: Message[];
}

function serverOptions(seen: Seen): ServerOptions {
  const handler: Handler<null> = {
    handleIn(m, s) {
      seen.messages.push(m);
      if (m.type === 'text' && m.data.startsWith('stop ')) {
        const [, code, ...reason] = m.data.split(' ');
        return stop(s, Number(code), reason.join(' '));
      }
      if (m.type === 'text' && m.data.startsWith('binary ')) {
        return reply(s, Buffer.from(m.data.slice(7)));
      }
      return reply(s, m.data);
    },
  };
  return {
    subprotocols: ['chat', 'superchat'],
    route: (req) => (req.pathname === '/forbidden' ? { status: 403 } : { handler, state: null }),
  };
}

async function server(t: ExecutionContext, v: Version) {
  const seen: Seen = { messages: [] };
  const s = await startServer(v, serverOptions(seen));
  t.teardown(() => s.close());
  return { s, seen };
}

interface Recorded {
  ws: WebSocket;
  log: string[];
  messages: unknown[];
  close: Promise<CloseEvent>;
  opened: Promise<void>;
}

function record(
  t: ExecutionContext,
  srv: TestServer,
  path = '/echo',
  protocols?: string | string[],
  extra: WebSocketOptions = {},
): Recorded {
  const ws = new WebSocket(`${srv.url}${path}`, protocols, {
    ...srv.client,
    closeTimeout: 500,
    ...extra,
  });
  const log: string[] = [];
  const messages: unknown[] = [];
  ws.addEventListener('open', () => log.push(`open ${ws.readyState}`));
  ws.addEventListener('message', (e) => messages.push(e.data));
  ws.addEventListener('error', () => log.push(`error ${ws.readyState}`));
  const close = new Promise<CloseEvent>((resolve) => {
    ws.addEventListener('close', (e) => {
      log.push(`close ${ws.readyState}`);
      resolve(e);
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    close.then(() => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  t.teardown(async () => {
    if (ws.readyState === WebSocket.OPEN) ws.close();
    if (ws.readyState !== WebSocket.CLOSED) await close;
  });
  return { ws, log, messages, close, opened };
}

/** ava's t.throws wants native errors; DOMException is not one. */
function throwsDom(t: ExecutionContext, fn: () => unknown, name: string, what?: string) {
  try {
    fn();
  } catch (e) {
    t.true(e instanceof DOMException, what);
    t.is((e as DOMException).name, name, what);
    return;
  }
  t.fail(`${what ?? 'the call'} did not throw`);
}

// ── constructor (websockets/Create-*.any.js) ───────────────────────────────────

test('constructor: no argument is a TypeError', (t) => {
  t.throws(() => Reflect.construct(WebSocket, []), { instanceOf: TypeError });
});

test('constructor: URLs that do not parse, relative URLs, other schemes, fragments → SyntaxError', (t) => {
  for (const url of [
    'ws://foo bar.com/',
    'wss://foo bar.com',
    'ws://',
    'not a url',
    '/relative',
    'ftp://127.0.0.1/',
    'file:///etc/passwd',
    'data:text/plain,x',
    'ws://127.0.0.1/#',
    'ws://127.0.0.1/echo#frag',
    'https://127.0.0.1/#x',
  ]) {
    throwsDom(t, () => new WebSocket(url), 'SyntaxError', url);
  }
});

test('constructor: protocols that repeat (ignoring case) or are not tokens → SyntaxError', (t) => {
  for (const p of [
    ['chat', 'chat'],
    ['chat', 'CHAT'],
    [''],
    ['a b'],
    ['a,b'],
    ['a;b'],
    ['é'],
    ['\u0000'],
    ['{}'],
  ]) {
    throwsDom(t, () => new WebSocket('ws://127.0.0.1:1/', p), 'SyntaxError', JSON.stringify(p));
  }
});

test('constructor: http(s) URLs become ws(s); constants; EventTarget', async (t) => {
  const port = await deadPort();
  const ws = new WebSocket(`http://127.0.0.1:${port}/path?q=1`);
  t.is(ws.url, `ws://127.0.0.1:${port}/path?q=1`);
  t.is(ws.readyState, WebSocket.CONNECTING);
  t.is(ws.protocol, '');
  t.is(ws.extensions, '');
  t.is(ws.binaryType, 'blob');
  t.is(ws.bufferedAmount, 0);
  const wss = new WebSocket(`https://127.0.0.1:${port}/`);
  t.is(wss.url, `wss://127.0.0.1:${port}/`);
  t.deepEqual(
    [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
    [0, 1, 2, 3],
  );
  t.deepEqual([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED], [0, 1, 2, 3]);
  t.true(ws instanceof EventTarget);
  t.is(Object.prototype.toString.call(ws), '[object WebSocket]');
  await Promise.all(
    [ws, wss].map((w) => new Promise((resolve) => w.addEventListener('close', resolve))),
  );
  t.is(ws.readyState, WebSocket.CLOSED);
});

test('constructor: a refused connection fires error, then close 1006 (not clean)', async (t) => {
  const port = await deadPort();
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const log: string[] = [];
  ws.onerror = () => log.push(`error ${ws.readyState}`);
  const e = await new Promise<CloseEvent>((resolve) => {
    ws.onclose = (ev) => resolve(ev);
  });
  t.deepEqual(log, ['error 3']);
  t.true(e instanceof CloseEvent);
  t.is(e.code, 1006);
  t.false(e.wasClean);
});

// ── over every HTTP version ───────────────────────────────────────────────────

for (const v of versions()) {
  const name = versionName(v);

  test(`${name}: readyState CONNECTING → OPEN → CLOSING → CLOSED, clean close with code and reason`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    t.is(r.ws.readyState, WebSocket.CONNECTING);
    await r.opened;
    t.is(r.ws.readyState, WebSocket.OPEN);
    r.ws.close(1000, 'Clean Close');
    t.is(r.ws.readyState, WebSocket.CLOSING);
    const e = await r.close;
    t.deepEqual(r.log, ['open 1', 'close 3']);
    t.is(e.code, 1000);
    t.is(e.reason, 'Clean Close');
    t.true(e.wasClean);
    // close() once CLOSED does nothing
    r.ws.close();
    t.is(r.ws.readyState, WebSocket.CLOSED);
  });

  test(`${name}: send before open throws InvalidStateError`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    throwsDom(t, () => r.ws.send('too early'), 'InvalidStateError');
    t.is(r.ws.bufferedAmount, 0);
    await r.opened;
  });

  test(`${name}: close() codes other than 1000 and 3000–4999 → InvalidAccessError; reasons over 123 bytes → SyntaxError`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    // the checks come first, in any state
    throwsDom(t, () => r.ws.close(1001), 'InvalidAccessError', 'while connecting');
    await r.opened;
    for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535, -1]) {
      throwsDom(t, () => r.ws.close(code), 'InvalidAccessError', String(code));
    }
    for (const code of [Number.NaN, Number.POSITIVE_INFINITY, 'Close with only reason']) {
      throwsDom(t, () => r.ws.close(code as number), 'InvalidAccessError', String(code));
    }
    throwsDom(t, () => r.ws.close(1000, 'x'.repeat(124)), 'SyntaxError', '124 bytes');
    throwsDom(t, () => r.ws.close(1000, '€'.repeat(42)), 'SyntaxError', '126 bytes of UTF-8');
    t.is(r.ws.readyState, WebSocket.OPEN);
    const reason = `${'€'.repeat(41)}`; // 123 bytes
    r.ws.close(4999, reason);
    const e = await r.close;
    t.is(e.code, 4999);
    t.is(e.reason, reason);
    t.true(e.wasClean);
  });

  test(`${name}: close(3000) and close(undefined) are allowed`, async (t) => {
    const { s } = await server(t, v);
    const a = record(t, s);
    const b = record(t, s);
    await Promise.all([a.opened, b.opened]);
    a.ws.close(3000);
    b.ws.close(undefined);
    t.is((await a.close).code, 3000);
    t.true((await b.close).wasClean);
  });

  test(`${name}: close() while connecting fails the connection: error, then close 1006`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    r.ws.close();
    t.is(r.ws.readyState, WebSocket.CLOSING);
    const e = await r.close;
    t.deepEqual(r.log, ['error 3', 'close 3']);
    t.is(e.code, 1006);
    t.false(e.wasClean);
  });

  test(`${name}: a refused handshake (403) fires error, then close 1006`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s, '/forbidden');
    const e = await r.close;
    t.deepEqual(r.log, ['error 3', 'close 3']);
    t.is(e.code, 1006);
    t.false(e.wasClean);
  });

  test(`${name}: the server closes: code, reason, wasClean`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    await r.opened;
    r.ws.send('stop 4001 server says bye');
    const e = await r.close;
    t.is(e.code, 4001);
    t.is(e.reason, 'server says bye');
    t.true(e.wasClean);
    t.is(r.ws.readyState, WebSocket.CLOSED);
  });

  test(`${name}: binaryType blob (default), arraybuffer, nodebuffer; other values set blob`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s);
    await r.opened;
    t.is(r.ws.binaryType, 'blob');
    r.ws.send('binary abc');
    await until(() => r.messages.length === 1);
    const blob = r.messages[0] as Blob;
    t.true(blob instanceof Blob);
    t.is(await blob.text(), 'abc');
    r.ws.binaryType = 'arraybuffer';
    t.is(r.ws.binaryType, 'arraybuffer');
    r.ws.send('binary def');
    await until(() => r.messages.length === 2);
    t.true(r.messages[1] instanceof ArrayBuffer);
    t.is(Buffer.from(r.messages[1] as ArrayBuffer).toString(), 'def');
    r.ws.binaryType = 'nodebuffer';
    t.is(r.ws.binaryType as string, 'nodebuffer');
    r.ws.send('binary ghi');
    await until(() => r.messages.length === 3);
    t.true(Buffer.isBuffer(r.messages[2]));
    t.is(String(r.messages[2]), 'ghi');
    r.ws.binaryType = 'notBlobOrArrayBuffer' as 'blob';
    t.is(r.ws.binaryType, 'blob');
    // text stays text whatever binaryType says
    r.ws.send('plain');
    await until(() => r.messages.length === 4);
    t.is(r.messages[3], 'plain');
  });

  test(`${name}: bufferedAmount counts UTF-8 bytes until sent; after close() send counts and sends nothing`, async (t) => {
    const { s, seen } = await server(t, v);
    const r = record(t, s);
    await r.opened;
    r.ws.send('héllo');
    t.is(r.ws.bufferedAmount, 6);
    r.ws.send(new Uint8Array(10));
    t.is(r.ws.bufferedAmount, 16);
    await until(() => r.messages.length === 2);
    await until(() => r.ws.bufferedAmount === 0, 5000, 'bufferedAmount back to 0');
    r.ws.close();
    r.ws.send('abc');
    t.is(r.ws.bufferedAmount, 3);
    r.ws.send(new ArrayBuffer(4));
    t.is(r.ws.bufferedAmount, 7);
    await r.close;
    r.ws.send('de');
    t.is(r.ws.bufferedAmount, 9);
    t.deepEqual(
      seen.messages.map((m) => m.type),
      ['text', 'binary'],
    );
  });

  test(`${name}: send Blob, ArrayBuffer and views (only their bytes), in order`, async (t) => {
    const { s, seen } = await server(t, v);
    const r = record(t, s);
    await r.opened;
    const big = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
    r.ws.send(new Blob(['blob', Buffer.from([0xff])]));
    t.is(r.ws.bufferedAmount, 5);
    r.ws.send('after the blob');
    r.ws.send(big.buffer);
    r.ws.send(new DataView(big.buffer, 2, 3));
    r.ws.send(big.subarray(6));
    r.ws.send(new Uint16Array([0x0102]));
    await until(() => seen.messages.length === 6);
    const got = seen.messages.map((m) => (m.type === 'text' ? m.data : m.data.toString('hex')));
    t.deepEqual(got, [
      `${Buffer.from('blob').toString('hex')}ff`,
      'after the blob',
      '0001020304050607',
      '020304',
      '0607',
      Buffer.from(new Uint16Array([0x0102]).buffer).toString('hex'),
    ]);
  });

  test(`${name}: strings are USVStrings: a lone surrogate arrives as U+FFFD; null as "null"`, async (t) => {
    const { s, seen } = await server(t, v);
    const r = record(t, s);
    await r.opened;
    r.ws.send('a\uD800b');
    r.ws.send(null as unknown as string);
    await until(() => seen.messages.length === 2 && r.messages.length === 2);
    t.deepEqual(
      seen.messages.map((m) => (m.type === 'text' ? m.data : '')),
      ['a\uFFFDb', 'null'],
    );
    t.deepEqual(r.messages.slice(0, 2), ['a\uFFFDb', 'null']);
  });

  test(`${name}: protocol is the server's choice; MessageEvent origin; on* attributes`, async (t) => {
    const { s } = await server(t, v);
    const r = record(t, s, '/echo', ['superchat', 'chat']);
    t.is(r.ws.protocol, '');
    await r.opened;
    t.is(r.ws.protocol, 'chat');
    t.is(r.ws.extensions, '');
    const first: string[] = [];
    const second: MessageEvent[] = [];
    const f1 = (e: MessageEvent) => first.push(String(e.data));
    r.ws.onmessage = f1;
    t.is(r.ws.onmessage, f1);
    r.ws.onmessage = (e) => second.push(e);
    r.ws.send('one');
    await until(() => second.length === 1);
    t.deepEqual(first, []);
    t.is(second[0]!.data, 'one');
    t.is(second[0]!.origin, new URL(s.url).origin);
    r.ws.onmessage = null;
    t.is(r.ws.onmessage, null);
    r.ws.send('two');
    await until(() => r.messages.length === 2);
    t.is(second.length, 1);
  });

  test(`${name}: options in place of protocols, as undici's WebSocketInit`, async (t) => {
    const { s } = await server(t, v);
    const ws = new WebSocket(`${s.url}/echo`, {
      ...s.client,
      protocols: 'superchat',
      headers: [['x-test', '1']],
    });
    await new Promise((resolve) => ws.addEventListener('open', resolve));
    t.is(ws.protocol, 'superchat');
    ws.close();
    await new Promise((resolve) => ws.addEventListener('close', resolve));
  });
}
