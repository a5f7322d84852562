// Tests of src/h1/upgrade.ts: the RFC 6455 §4 opening handshake over HTTP/1.1 as
// pure functions. The server's checks map to HTTP statuses (405 + Allow, 505, 400,
// 426 + Upgrade, 426 + Sec-WebSocket-Version, 403); the client's checks of the
// answer follow RFC 6455 §4.1.

import test from 'ava';
import {
  acceptKey,
  buildH1Request,
  GUID,
  type H1RequestHead,
  validateH1Request,
  validateH1Response,
} from '../../src/h1/upgrade.js';

/** RFC 6455 §1.3 / §4.2.2 example key and the accept value the RFC derives from it. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function request(
  headers: Record<string, string | string[] | undefined> = {},
  rest: Partial<H1RequestHead> = {},
): H1RequestHead {
  const h: Record<string, string | string[] | undefined> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': KEY,
    'sec-websocket-version': '13',
    ...headers,
  };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  return { method: 'GET', httpVersion: '1.1', url: '/chat', headers: h, ...rest };
}

test('acceptKey: the RFC 6455 §1.3 / §4.2.2 example', (t) => {
  t.is(GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  t.is(acceptKey(KEY), ACCEPT);
  // the SHA-1 the RFC spells out before base64
  t.is(Buffer.from(ACCEPT, 'base64').toString('hex'), 'b37a4f2cc0624f1690f64606cf385945b2bec4ea');
});

// ── validateH1Request ───────────────────────────────────────────────────────

test('a valid request: 101 headers with the accept key, info filled in', (t) => {
  const r = validateH1Request(request({ origin: 'http://example.com' }));
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.responseHeaders, {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': ACCEPT,
  });
  t.deepEqual(r.info, {
    path: '/chat',
    authority: 'server.example.com',
    origin: 'http://example.com',
    subprotocol: undefined,
    extensions: '',
    offeredSubprotocols: [],
    offeredExtensions: [],
  });
});

test('a method other than GET: 405 with Allow: GET', (t) => {
  for (const method of ['POST', 'HEAD', 'CONNECT', 'get']) {
    t.like(validateH1Request(request({}, { method })), {
      ok: false,
      status: 405,
      headers: { allow: 'GET' },
    });
  }
});

test('an HTTP version below 1.1: 505', (t) => {
  for (const httpVersion of ['1.0', '0.9']) {
    t.like(
      validateH1Request(request({}, { httpVersion })),
      { ok: false, status: 505 },
      httpVersion,
    );
  }
  t.true(validateH1Request(request({}, { httpVersion: '1.2' })).ok);
});

test('a version node:http could never report is refused too, not let through', (t) => {
  for (const httpVersion of ['', 'x', 'HTTP/1.1', '1', '.1']) {
    t.like(
      validateH1Request(request({}, { httpVersion })),
      { ok: false, status: 505 },
      httpVersion,
    );
  }
});

test('no Host: 400', (t) => {
  t.like(validateH1Request(request({ host: undefined })), { ok: false, status: 400 });
  t.like(validateH1Request(request({ host: '' })), { ok: false, status: 400 });
});

test('missing or wrong Upgrade: 426 with Upgrade: websocket', (t) => {
  for (const upgrade of [undefined, '', 'h2c', 'websocket2', 'websocket/13']) {
    t.like(
      validateH1Request(request({ upgrade })),
      { ok: false, status: 426, headers: { upgrade: 'websocket' } },
      String(upgrade),
    );
  }
});

test('missing Connection: Upgrade token: 426 with Upgrade: websocket', (t) => {
  for (const connection of [undefined, '', 'keep-alive', 'close', 'Upgraded']) {
    t.like(
      validateH1Request(request({ connection })),
      { ok: false, status: 426, headers: { upgrade: 'websocket' } },
      String(connection),
    );
  }
});

test('Upgrade and Connection are case-insensitive token lists', (t) => {
  for (const [upgrade, connection] of [
    ['WebSocket', 'upgrade'],
    ['websocket', 'keep-alive, Upgrade'],
    ['h2c, websocket', 'UPGRADE,keep-alive'],
  ] as const) {
    t.true(validateH1Request(request({ upgrade, connection })).ok, `${upgrade} / ${connection}`);
  }
  // repeated Connection fields
  t.true(validateH1Request(request({ connection: ['keep-alive', 'Upgrade'] })).ok);
});

test('a missing or malformed Sec-WebSocket-Key: 400', (t) => {
  const fifteen = Buffer.alloc(15, 1).toString('base64');
  const seventeen = Buffer.alloc(17, 1).toString('base64');
  for (const key of [
    undefined,
    '',
    'not base64 at all!!',
    '!!!!!!!!!!!!!!!!!!!!!!==',
    fifteen,
    seventeen,
    KEY.slice(0, -2),
    `${KEY}, ${KEY}`,
  ]) {
    t.like(
      validateH1Request(request({ 'sec-websocket-key': key })),
      { ok: false, status: 400 },
      String(key),
    );
  }
  t.true(validateH1Request(request({ 'sec-websocket-key': ` ${KEY} ` })).ok, 'trimmed');
  t.true(
    validateH1Request(request({ 'sec-websocket-key': Buffer.alloc(16, 0xff).toString('base64') }))
      .ok,
  );
});

test('an unsupported Sec-WebSocket-Version: 426 with Sec-WebSocket-Version: 13', (t) => {
  for (const version of ['8', '7', '14', '', undefined, '13, 8']) {
    t.like(
      validateH1Request(request({ 'sec-websocket-version': version })),
      { ok: false, status: 426, headers: { 'sec-websocket-version': '13' } },
      String(version),
    );
  }
});

test('origin refused (false or throwing): 403', (t) => {
  t.like(
    validateH1Request(request({ origin: 'https://evil.example' }), { checkOrigin: () => false }),
    {
      ok: false,
      status: 403,
    },
  );
  t.like(
    validateH1Request(request({ origin: 'https://evil.example' }), {
      checkOrigin: () => {
        throw new Error('db down');
      },
    }),
    { ok: false, status: 403 },
  );
  t.true(
    validateH1Request(request({ origin: 'https://ok.example' }), { checkOrigin: () => true }).ok,
  );
});

test('subprotocol chosen by server preference; none chosen → no header; malformed → 400', (t) => {
  const h = { 'sec-websocket-protocol': 'chat, superchat' };
  const r = validateH1Request(request(h), { subprotocols: ['superchat', 'chat'] });
  if (!r.ok) return t.fail(r.error);
  t.is(r.responseHeaders['sec-websocket-protocol'], 'superchat');
  t.is(r.info.subprotocol, 'superchat');
  t.deepEqual(r.info.offeredSubprotocols, ['chat', 'superchat']);
  const none = validateH1Request(request(h), { subprotocols: ['mqtt'] });
  if (!none.ok) return t.fail(none.error);
  t.false('sec-websocket-protocol' in none.responseHeaders);
  t.like(validateH1Request(request({ 'sec-websocket-protocol': 'chat,' })), {
    ok: false,
    status: 400,
  });
});

test('the extensions hook result is echoed; malformed extensions → 400', (t) => {
  const r = validateH1Request(
    request({ 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' }),
    { negotiateExtensions: () => 'permessage-deflate' },
  );
  t.like(r, {
    ok: true,
    responseHeaders: { 'sec-websocket-extensions': 'permessage-deflate' },
    info: { extensions: 'permessage-deflate' },
  });
  t.like(
    validateH1Request(request({ 'sec-websocket-extensions': 'permessage-deflate;;' }), {
      negotiateExtensions: () => 'permessage-deflate',
    }),
    { ok: false, status: 400 },
  );
});

test('checks run in order: the first failing one decides the status', (t) => {
  // a POST without anything else is a 405, not a 400 or 426
  t.like(validateH1Request({ method: 'POST', httpVersion: '1.0', url: '/', headers: {} }), {
    status: 405,
  });
  t.like(validateH1Request({ method: 'GET', httpVersion: '1.0', url: '/', headers: {} }), {
    status: 505,
  });
});

// ── client side ──────────────────────────────────────────────────────────────

test('buildH1Request: the mandatory headers, a fresh 16-byte key, options', (t) => {
  const a = buildH1Request('example.com:8080');
  const b = buildH1Request('example.com:8080');
  t.not(a.key, b.key);
  t.is(Buffer.from(a.key, 'base64').length, 16);
  t.deepEqual(a.headers, {
    host: 'example.com:8080',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': a.key,
    'sec-websocket-version': '13',
  });
  const c = buildH1Request(
    'h',
    {
      subprotocols: ['chat', 'superchat'],
      extensions: 'permessage-deflate',
      origin: 'https://o.example',
      headers: { Authorization: 'Bearer x', Upgrade: 'h2c', 'Sec-WebSocket-Version': '8' },
    },
    KEY,
  );
  t.is(c.key, KEY);
  t.like(c.headers, {
    authorization: 'Bearer x',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': KEY,
    'sec-websocket-protocol': 'chat, superchat',
    'sec-websocket-extensions': 'permessage-deflate',
    origin: 'https://o.example',
  });
});

test('validateH1Response: a good answer is ok', (t) => {
  t.deepEqual(
    validateH1Response(
      101,
      { upgrade: 'WebSocket', connection: 'upgrade', 'sec-websocket-accept': ACCEPT },
      KEY,
    ),
    { ok: true, subprotocol: undefined, extensions: '' },
  );
});

test('validateH1Response: wrong status, missing Upgrade/Connection, wrong accept → errors', (t) => {
  const good = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };
  t.like(validateH1Response(200, good, KEY), { ok: false });
  t.like(validateH1Response(426, good, KEY), { ok: false });
  t.like(validateH1Response(101, { ...good, upgrade: undefined }, KEY), { ok: false });
  t.like(validateH1Response(101, { ...good, upgrade: 'h2c' }, KEY), { ok: false });
  t.like(validateH1Response(101, { ...good, connection: 'keep-alive' }, KEY), { ok: false });
  t.like(validateH1Response(101, { ...good, 'sec-websocket-accept': undefined }, KEY), {
    ok: false,
  });
  t.like(validateH1Response(101, { ...good, 'sec-websocket-accept': acceptKey('other') }, KEY), {
    ok: false,
  });
  t.like(validateH1Response(101, { ...good, 'sec-websocket-accept': KEY }, KEY), { ok: false });
});

test('validateH1Response: a subprotocol or extension that was not offered → errors', (t) => {
  const good = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT };
  t.like(validateH1Response(101, { ...good, 'sec-websocket-protocol': 'chat' }, KEY), {
    ok: false,
  });
  t.like(
    validateH1Response(101, { ...good, 'sec-websocket-protocol': 'mqtt' }, KEY, {
      subprotocols: ['chat'],
    }),
    { ok: false },
  );
  t.like(
    validateH1Response(101, { ...good, 'sec-websocket-protocol': 'chat' }, KEY, {
      subprotocols: ['chat'],
    }),
    { ok: true, subprotocol: 'chat' },
  );
  t.like(
    validateH1Response(101, { ...good, 'sec-websocket-extensions': 'permessage-deflate' }, KEY),
    {
      ok: false,
    },
  );
  t.like(
    validateH1Response(101, { ...good, 'sec-websocket-extensions': 'permessage-deflate' }, KEY, {
      acceptExtensions: (e) => e.length === 1 && e[0]!.name === 'permessage-deflate',
    }),
    { ok: true, extensions: 'permessage-deflate' },
  );
});

test('a full handshake: buildH1Request → validateH1Request → validateH1Response', (t) => {
  const { key, headers } = buildH1Request('example.com', { subprotocols: ['v1', 'v2'] });
  const server = validateH1Request(
    { method: 'GET', httpVersion: '1.1', url: '/ws?x=1', headers },
    { subprotocols: ['v2'] },
  );
  if (!server.ok) return t.fail(server.error);
  t.is(server.info.path, '/ws?x=1');
  t.deepEqual(
    validateH1Response(101, server.responseHeaders, key, { subprotocols: ['v1', 'v2'] }),
    {
      ok: true,
      subprotocol: 'v2',
      extensions: '',
    },
  );
});
