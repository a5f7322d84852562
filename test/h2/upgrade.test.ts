import test from 'ava';
import {
  buildH2Request,
  classifyH2Request,
  validateH2Request,
  validateH2Response,
} from '../../src/h2/upgrade.js';
import { validateExtendedConnect } from '../../src/ws/extended-connect.js';

// What Chromium sends for `new WebSocket('wss://localhost:8443/echo')` on an h2 connection
const chromium = {
  ':method': 'CONNECT',
  ':protocol': 'websocket',
  ':scheme': 'https',
  ':path': '/echo?room=1',
  ':authority': 'localhost:8443',
  'sec-websocket-version': '13',
  origin: 'https://localhost:8443',
  'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
};

test('a browser-shaped extended CONNECT is accepted with no Key and no Accept', (t) => {
  const r = validateH2Request(chromium);
  if (!r.ok) return t.fail(r.error);
  t.is(r.info.path, '/echo?room=1');
  t.is(r.info.authority, 'localhost:8443');
  t.is(r.info.origin, 'https://localhost:8443');
  t.is(r.info.subprotocol, undefined);
  // no extension negotiator configured: the offer is parsed and declined
  t.is(r.info.offeredExtensions[0]?.name, 'permessage-deflate');
  t.is(r.info.extensions, '');
  t.deepEqual(r.responseHeaders, {});
});

test('subprotocol and extension choices go into the response headers', (t) => {
  const r = validateH2Request(
    { ...chromium, 'sec-websocket-protocol': 'chat.v1, chat.v2' },
    { subprotocols: ['chat.v2', 'chat.v1'], negotiateExtensions: () => 'permessage-deflate' },
  );
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.responseHeaders, {
    'sec-websocket-protocol': 'chat.v2',
    'sec-websocket-extensions': 'permessage-deflate',
  });
  t.deepEqual(r.info.offeredSubprotocols, ['chat.v1', 'chat.v2']);
});

test('a Sec-WebSocket-Key on h2 is neither needed nor checked', (t) => {
  t.true(validateH2Request({ ...chromium, 'sec-websocket-key': 'not base64 at all' }).ok);
});

const failures: [string, Record<string, string | undefined>, number, Record<string, string>?][] = [
  ['GET is not a WebSocket on h2', { ':method': 'GET' }, 405, { allow: 'CONNECT' }],
  ['plain CONNECT (no :protocol)', { ':protocol': undefined }, 400],
  ['another :protocol', { ':protocol': 'webtransport' }, 501],
  ['missing :scheme', { ':scheme': undefined }, 400],
  ['bad :scheme', { ':scheme': 'ws' }, 400],
  ['missing :path', { ':path': undefined }, 400],
  ['relative :path', { ':path': 'echo' }, 400],
  ['missing :authority', { ':authority': undefined }, 400],
  [
    'missing version',
    { 'sec-websocket-version': undefined },
    400,
    { 'sec-websocket-version': '13' },
  ],
  ['version 8', { 'sec-websocket-version': '8' }, 400, { 'sec-websocket-version': '13' }],
  ['malformed subprotocol list', { 'sec-websocket-protocol': 'a,,b' }, 400],
  ['malformed extensions', { 'sec-websocket-extensions': 'x; =1' }, 400],
];

for (const [name, change, status, headers] of failures) {
  test(`rejects: ${name} → ${status}`, (t) => {
    const h: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...chromium, ...change })) if (v !== undefined) h[k] = v;
    const r = validateH2Request(h);
    if (r.ok) return t.fail('accepted');
    t.is(r.status, status);
    t.deepEqual(r.headers, headers);
    t.is(typeof r.error, 'string');
  });
}

test('the origin hook refuses with 403 and sees undefined when Origin is absent', (t) => {
  const seen: (string | undefined)[] = [];
  const checkOrigin = (o: string | undefined) => {
    seen.push(o);
    return o === 'https://good.example';
  };
  const bad = validateH2Request(chromium, { checkOrigin });
  t.false(bad.ok);
  if (!bad.ok) t.is(bad.status, 403);
  const { origin: _drop, ...noOrigin } = chromium;
  t.false(validateH2Request(noOrigin, { checkOrigin }).ok);
  t.true(validateH2Request({ ...chromium, origin: 'https://good.example' }, { checkOrigin }).ok);
  t.deepEqual(seen, ['https://localhost:8443', undefined, 'https://good.example']);
});

test(':protocol is matched without regard to case', (t) => {
  t.true(validateExtendedConnect({ ...chromium, ':protocol': 'WebSocket' }).ok);
  t.is(classifyH2Request({ ...chromium, ':protocol': 'WebSocket' }), 'websocket');
});

test('classification: ours, another protocol, or not an extended CONNECT at all', (t) => {
  t.is(classifyH2Request(chromium), 'websocket');
  t.is(classifyH2Request({ ...chromium, ':protocol': 'connect-udp' }), 'other-protocol');
  t.is(classifyH2Request({ ':method': 'CONNECT', ':authority': 'x:1' }), 'not-extended-connect');
  t.is(classifyH2Request({ ':method': 'GET', ':path': '/echo' }), 'not-extended-connect');
});

test('the validator never throws on arrays or odd values', (t) => {
  const r = validateH2Request({
    ...chromium,
    'sec-websocket-protocol': ['a', 'b'],
    'sec-websocket-version': ['13'],
  });
  t.true(r.ok);
});

test('client request: pseudo-headers for RFC 8441 §5 and RFC 6455 fields', (t) => {
  const h = buildH2Request(
    { secure: true, authority: 'example.com:8443', path: '/chat?x=1' },
    {
      subprotocols: ['a', 'b'],
      extensions: 'permessage-deflate',
      origin: 'https://example.com',
      headers: { Authorization: 'Bearer t', ':method': 'GET' },
    },
  );
  t.deepEqual(h, {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/chat?x=1',
    ':authority': 'example.com:8443',
    authorization: 'Bearer t',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'a, b',
    'sec-websocket-extensions': 'permessage-deflate',
    origin: 'https://example.com',
  });
  t.false('sec-websocket-key' in h);
  t.is(buildH2Request({ secure: false, authority: 'h:1', path: '/' })[':scheme'], 'http');
});

test('client response: any 2xx opens without an Accept, anything else fails', (t) => {
  t.deepEqual(validateH2Response(200, {}), { ok: true, subprotocol: undefined, extensions: '' });
  t.true(validateH2Response(204, {}).ok);
  t.deepEqual(validateH2Response(101, {}), { ok: false, error: 'unexpected status 101' });
  t.false(validateH2Response(401, {}).ok);
  t.false(validateH2Response(501, {}).ok);
});

test('client response: a subprotocol that was not offered fails', (t) => {
  t.deepEqual(validateH2Response(200, { 'sec-websocket-protocol': 'b' }, { subprotocols: ['b'] }), {
    ok: true,
    subprotocol: 'b',
    extensions: '',
  });
  t.false(validateH2Response(200, { 'sec-websocket-protocol': 'c' }, { subprotocols: ['b'] }).ok);
  t.false(validateH2Response(200, { 'sec-websocket-extensions': 'permessage-deflate' }).ok);
});
