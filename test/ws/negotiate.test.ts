// Tests of src/ws/negotiate.ts: token lists, Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions (RFC 6455 §4, §9.1), the negotiation shared by every
// HTTP version and the client's checks of the negotiated response.

import test from 'ava';
import {
  type ExtensionOffer,
  formatExtension,
  hasToken,
  headerValue,
  isToken,
  parseExtensions,
  parseSubprotocols,
} from '../../src/ws/headers.js';
import {
  negotiateCommon,
  selectSubprotocol,
  validateNegotiatedResponse,
} from '../../src/ws/negotiate.js';

// ── header values and tokens ────────────────────────────────────────────────

test('headerValue joins repeated fields with ", " and maps absence to ""', (t) => {
  t.is(headerValue(undefined), '');
  t.is(headerValue('a'), 'a');
  t.is(headerValue(['foo', 'bar; baz=2']), 'foo, bar; baz=2');
});

test('hasToken is case-insensitive and matches whole list elements only', (t) => {
  t.true(hasToken('Upgrade', 'upgrade'));
  t.true(hasToken('keep-alive, Upgrade', 'upgrade'));
  t.true(hasToken('keep-alive,\tUPGRADE ', 'Upgrade'));
  t.true(hasToken('WebSocket', 'websocket'));
  t.false(hasToken('', 'upgrade'));
  t.false(hasToken('keep-alive', 'upgrade'));
  t.false(hasToken('Upgrade2', 'upgrade'));
  t.false(hasToken('websocket/13', 'websocket'));
});

test('isToken follows RFC 7230 tchar', (t) => {
  t.true(isToken("chat.v2!#$%&'*+-^_`|~"));
  for (const bad of ['', 'a b', 'a,b', 'a;b', '"a"', 'a=b', 'a/b', 'é', 'a\tb']) {
    t.false(isToken(bad), bad);
  }
});

// ── Sec-WebSocket-Protocol ──────────────────────────────────────────────────

test('parseSubprotocols', (t) => {
  t.deepEqual(parseSubprotocols(''), []);
  t.deepEqual(parseSubprotocols('  '), []);
  t.deepEqual(parseSubprotocols('chat'), ['chat']);
  t.deepEqual(parseSubprotocols('chat, superchat'), ['chat', 'superchat']);
  t.deepEqual(parseSubprotocols('chat,superchat ,\tv2.json'), ['chat', 'superchat', 'v2.json']);
  for (const bad of ['chat,', ',chat', 'chat,,x', 'a b', '"chat"', 'chat;q=1', 'a/b']) {
    t.is(parseSubprotocols(bad), null, bad);
  }
});

test('selectSubprotocol follows the server preference, not the client order', (t) => {
  t.is(
    selectSubprotocol(['chat', 'superchat'], { subprotocols: ['superchat', 'chat'] }),
    'superchat',
  );
  t.is(selectSubprotocol(['chat', 'superchat'], { subprotocols: ['chat', 'superchat'] }), 'chat');
  t.is(selectSubprotocol(['chat'], { subprotocols: ['mqtt'] }), undefined);
  t.is(selectSubprotocol(['chat'], {}), undefined);
  t.is(selectSubprotocol([], { subprotocols: ['chat'] }), undefined);
});

test('selectSubprotocol: a custom choice must be one of the offers', (t) => {
  const offered = ['a', 'b'];
  t.is(selectSubprotocol(offered, { selectSubprotocol: (o) => o.at(-1) }), 'b');
  t.is(selectSubprotocol(offered, { selectSubprotocol: () => 'c' }), undefined);
  t.is(
    selectSubprotocol(offered, { selectSubprotocol: () => undefined, subprotocols: ['a'] }),
    undefined,
  );
  let called = false;
  selectSubprotocol([], {
    selectSubprotocol: () => {
      called = true;
      return 'a';
    },
  });
  t.false(called, 'not asked when nothing was offered');
});

// ── Sec-WebSocket-Extensions ────────────────────────────────────────────────

const ext = (name: string, ...params: [string, string | true][]): ExtensionOffer => ({
  name,
  params,
});

test('parseExtensions: empty and simple values', (t) => {
  t.deepEqual(parseExtensions(''), []);
  t.deepEqual(parseExtensions(' \t'), []);
  t.deepEqual(parseExtensions('permessage-deflate'), [ext('permessage-deflate')]);
  t.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits'), [
    ext('permessage-deflate', ['client_max_window_bits', true]),
  ]);
});

test('parseExtensions: multiple offers of the same extension', (t) => {
  t.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits, permessage-deflate'), [
    ext('permessage-deflate', ['client_max_window_bits', true]),
    ext('permessage-deflate'),
  ]);
  t.deepEqual(
    parseExtensions(
      'permessage-deflate; server_max_window_bits=10; client_no_context_takeover,permessage-deflate;server_max_window_bits=15',
    ),
    [
      ext(
        'permessage-deflate',
        ['server_max_window_bits', '10'],
        ['client_no_context_takeover', true],
      ),
      ext('permessage-deflate', ['server_max_window_bits', '15']),
    ],
  );
});

test('parseExtensions: the RFC 6455 §9.1 examples, as one field and as repeated fields', (t) => {
  const expected = [ext('foo'), ext('bar', ['baz', '2'])];
  t.deepEqual(parseExtensions('foo, bar; baz=2'), expected);
  t.deepEqual(parseExtensions(headerValue(['foo', 'bar; baz=2'])), expected);
  t.deepEqual(parseExtensions('mux; max-channels=4; flow-control, deflate-stream'), [
    ext('mux', ['max-channels', '4'], ['flow-control', true]),
    ext('deflate-stream'),
  ]);
});

test('parseExtensions: quoted values are unquoted and must then be tokens', (t) => {
  t.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits="10"'), [
    ext('permessage-deflate', ['client_max_window_bits', '10']),
  ]);
  t.deepEqual(parseExtensions('x; a="b\\c"'), [ext('x', ['a', 'bc'])], 'quoted-pair unescaped');
  t.deepEqual(parseExtensions('x; a = "1" ; b=2 , y'), [
    ext('x', ['a', '1'], ['b', '2']),
    ext('y'),
  ]);
  for (const bad of ['x; a="b c"', 'x; a=""', 'x; a="1', 'x; a="1\\', 'x; a="a,b"', 'x; a="é"']) {
    t.is(parseExtensions(bad), null, bad);
  }
});

test('parseExtensions: bad grammar → null', (t) => {
  for (const bad of [
    ',',
    'a,',
    ',a',
    'a,,b',
    ';a',
    'a;',
    'a; ;b',
    'a b',
    'a; b c',
    'a; b=',
    'a; b=c=d',
    'a; b=c d',
    'a; =c',
    'a=b',
    '"a"',
    'a; b=(c)',
    'a; b="c"d',
  ]) {
    t.is(parseExtensions(bad), null, bad);
  }
});

test('formatExtension writes what parseExtensions reads', (t) => {
  const offers = [
    ext(
      'permessage-deflate',
      ['server_max_window_bits', '10'],
      ['client_no_context_takeover', true],
    ),
    ext('x'),
  ];
  const text = offers.map(formatExtension).join(', ');
  t.is(text, 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover, x');
  t.deepEqual(parseExtensions(text), offers);
});

// ── negotiateCommon ─────────────────────────────────────────────────────────

test('negotiateCommon with no options accepts and adds no headers', (t) => {
  const r = negotiateCommon(
    { 'sec-websocket-protocol': 'chat', 'sec-websocket-extensions': 'foo' },
    {},
  );
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.responseHeaders, {});
  t.deepEqual(r.info, {
    origin: undefined,
    subprotocol: undefined,
    extensions: '',
    offeredSubprotocols: ['chat'],
    offeredExtensions: [ext('foo')],
  });
});

test('negotiateCommon: origin policy, 403 when it says no or throws', (t) => {
  const seen: (string | undefined)[] = [];
  const checkOrigin = (o: string | undefined) => {
    seen.push(o);
    return o === 'https://good.example';
  };
  t.true(negotiateCommon({ origin: 'https://good.example' }, { checkOrigin }).ok);
  t.like(negotiateCommon({ origin: 'https://evil.example' }, { checkOrigin }), {
    ok: false,
    status: 403,
  });
  t.like(negotiateCommon({}, { checkOrigin }), { ok: false, status: 403 });
  t.deepEqual(seen, ['https://good.example', 'https://evil.example', undefined]);
  t.like(
    negotiateCommon(
      { origin: 'x' },
      {
        checkOrigin: () => {
          throw new Error('policy down');
        },
      },
    ),
    { ok: false, status: 403 },
  );
});

test('negotiateCommon: subprotocol by server preference, header only when one is chosen', (t) => {
  const h = { 'sec-websocket-protocol': 'chat, superchat' };
  const r = negotiateCommon(h, { subprotocols: ['superchat', 'chat'] });
  t.like(r, { ok: true, responseHeaders: { 'sec-websocket-protocol': 'superchat' } });
  const none = negotiateCommon(h, { subprotocols: ['mqtt'] });
  if (!none.ok) return t.fail(none.error);
  t.false('sec-websocket-protocol' in none.responseHeaders);
  t.is(none.info.subprotocol, undefined);
  t.like(negotiateCommon({ 'sec-websocket-protocol': 'a,,b' }, {}), { ok: false, status: 400 });
  t.like(
    negotiateCommon(h, {
      selectSubprotocol: () => {
        throw new Error('bug');
      },
    }),
    { ok: false, status: 500 },
  );
});

test('negotiateCommon: the extension hook gets the offers and its answer is echoed', (t) => {
  let got: readonly ExtensionOffer[] = [];
  const r = negotiateCommon(
    { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits, x-foo' },
    {
      negotiateExtensions: (offers) => {
        got = offers;
        return 'permessage-deflate; client_max_window_bits=15';
      },
    },
  );
  t.deepEqual(got, [ext('permessage-deflate', ['client_max_window_bits', true]), ext('x-foo')]);
  t.like(r, {
    ok: true,
    info: { extensions: 'permessage-deflate; client_max_window_bits=15' },
    responseHeaders: {
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits=15',
    },
  });
});

test('negotiateCommon: extension hook declining, absent offers, throwing, malformed', (t) => {
  const declined = negotiateCommon(
    { 'sec-websocket-extensions': 'x' },
    { negotiateExtensions: () => '' },
  );
  if (!declined.ok) return t.fail(declined.error);
  t.deepEqual(declined.responseHeaders, {});
  let called = false;
  negotiateCommon(
    {},
    {
      negotiateExtensions: () => {
        called = true;
        return 'x';
      },
    },
  );
  t.false(called, 'no offers: the hook is not asked');
  t.like(
    negotiateCommon(
      { 'sec-websocket-extensions': 'x' },
      {
        negotiateExtensions: () => {
          throw new Error('bad params');
        },
      },
    ),
    { ok: false, status: 400 },
  );
  t.like(negotiateCommon({ 'sec-websocket-extensions': 'x;' }, {}), { ok: false, status: 400 });
});

// ── validateNegotiatedResponse (client side) ────────────────────────────────

test('validateNegotiatedResponse: subprotocol', (t) => {
  t.deepEqual(validateNegotiatedResponse({}, { subprotocols: ['chat'] }), {
    ok: true,
    subprotocol: undefined,
    extensions: '',
  });
  t.like(
    validateNegotiatedResponse({ 'sec-websocket-protocol': 'chat' }, { subprotocols: ['chat'] }),
    {
      ok: true,
      subprotocol: 'chat',
    },
  );
  t.like(
    validateNegotiatedResponse({ 'sec-websocket-protocol': 'mqtt' }, { subprotocols: ['chat'] }),
    {
      ok: false,
    },
  );
  t.like(validateNegotiatedResponse({ 'sec-websocket-protocol': 'chat' }, {}), { ok: false });
  t.like(
    validateNegotiatedResponse(
      { 'sec-websocket-protocol': 'chat, mqtt' },
      { subprotocols: ['chat', 'mqtt'] },
    ),
    { ok: false },
    'the server picks one',
  );
});

test('validateNegotiatedResponse: extensions', (t) => {
  const h = { 'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover' };
  t.like(validateNegotiatedResponse(h, {}), { ok: false }, 'none offered: any is refused');
  t.like(validateNegotiatedResponse(h, { acceptExtensions: () => false }), { ok: false });
  t.like(
    validateNegotiatedResponse(h, {
      acceptExtensions: () => {
        throw new Error('unknown parameter');
      },
    }),
    { ok: false },
  );
  let got: readonly ExtensionOffer[] = [];
  const r = validateNegotiatedResponse(h, {
    acceptExtensions: (e) => {
      got = e;
      return true;
    },
  });
  t.deepEqual(r, { ok: true, subprotocol: undefined, extensions: h['sec-websocket-extensions'] });
  t.deepEqual(got, [ext('permessage-deflate', ['server_no_context_takeover', true])]);
  t.like(
    validateNegotiatedResponse(
      { 'sec-websocket-extensions': 'a b' },
      { acceptExtensions: () => true },
    ),
    { ok: false },
    'malformed',
  );
});
