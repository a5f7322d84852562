// RFC 9220 handshake as pure functions: the message shape HTTP/3 adds (RFC 9114 §4.2,
// §4.3) on top of the shared extended-CONNECT validator, and the client's request.

import test from 'ava';
import type { Header } from '../../src/h3/qpack.js';
import {
  buildH3Request,
  checkH3Request,
  checkH3Response,
  classifyH3Request,
  validateH3Request,
  validateH3Response,
} from '../../src/h3/upgrade.js';

const WS: Header[] = [
  [':method', 'CONNECT'],
  [':protocol', 'websocket'],
  [':scheme', 'https'],
  [':authority', 'localhost:4433'],
  [':path', '/chat?room=1'],
  ['sec-websocket-version', '13'],
  ['origin', 'https://localhost:4433'],
  ['sec-websocket-protocol', 'chat, superchat'],
];

test('a valid RFC 9220 request is accepted with the shared validator', (t) => {
  const r = validateH3Request(WS, { subprotocols: ['superchat'] });
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.info.path, '/chat?room=1');
  t.is(r.info.authority, 'localhost:4433');
  t.is(r.info.subprotocol, 'superchat');
  t.deepEqual(r.responseHeaders, { 'sec-websocket-protocol': 'superchat' });
  // no Sec-WebSocket-Accept on HTTP/3 (RFC 8441 §5 via RFC 9220 §3)
  t.false('sec-websocket-accept' in r.responseHeaders);
});

test('the shared checks give their statuses: 405 method, 501 protocol, 400 version (+ header), 403 origin', (t) => {
  const set = (name: string, value: string) =>
    WS.map(([k, v]): Header => (k === name ? [k, value] : [k, v]));
  const post = validateH3Request(set(':method', 'POST').filter(([k]) => k !== ':protocol'));
  t.like(post, { ok: false, status: 405 });
  t.like(validateH3Request(set(':protocol', 'webtransport')), { ok: false, status: 501 });
  t.like(validateH3Request(set('sec-websocket-version', '8')), {
    ok: false,
    status: 400,
    headers: { 'sec-websocket-version': '13' },
  });
  t.like(validateH3Request(WS, { checkOrigin: () => false }), { ok: false, status: 403 });
});

test('malformed HTTP/3 messages are 400: repeated, unknown or response pseudo-headers, connection-specific fields, te, Host ≠ :authority', (t) => {
  const cases: [string, Header[]][] = [
    ['repeated :path', [...WS, [':path', '/other']]],
    ['unknown pseudo-header', [...WS.slice(0, 5), [':foo', 'x'], ...WS.slice(5)]],
    ['response pseudo-header', [...WS.slice(0, 5), [':status', '200'], ...WS.slice(5)]],
    ['connection', [...WS, ['connection', 'upgrade']]],
    ['upgrade', [...WS, ['upgrade', 'websocket']]],
    ['transfer-encoding', [...WS, ['transfer-encoding', 'chunked']]],
    ['keep-alive', [...WS, ['keep-alive', '5']]],
    ['te', [...WS, ['te', 'gzip']]],
    ['host mismatch', [...WS, ['host', 'example.com']]],
  ];
  for (const [name, fields] of cases) {
    const r = validateH3Request(fields);
    t.like(r, { ok: false, status: 400 }, name);
  }
  t.true(validateH3Request([...WS, ['te', 'trailers'], ['host', 'localhost:4433']]).ok);
});

test('checkH3Request: plain requests need :scheme and :path; CONNECT without :protocol has neither', (t) => {
  const get: Header[] = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'a'],
    [':path', '/'],
  ];
  t.true(checkH3Request(get).ok);
  t.false(checkH3Request(get.filter(([k]) => k !== ':path')).ok);
  t.false(checkH3Request(get.filter(([k]) => k !== ':method')).ok);
  t.false(checkH3Request([...get, [':protocol', 'websocket']]).ok);
  const connect: Header[] = [
    [':method', 'CONNECT'],
    [':authority', 'example.com:443'],
  ];
  t.true(checkH3Request(connect).ok);
  t.false(checkH3Request([...connect, [':path', '/']]).ok);
  t.false(checkH3Request([[':method', 'CONNECT']]).ok);
});

test('cookies split across fields are joined with "; "; repeated fields become lists', (t) => {
  const r = checkH3Request([
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'a'],
    [':path', '/'],
    ['cookie', 'a=1'],
    ['cookie', 'b=2'],
    ['x-list', 'one'],
    ['x-list', 'two'],
  ]);
  t.true(r.ok);
  if (!r.ok) return;
  t.is(r.headers.cookie, 'a=1; b=2');
  t.deepEqual(r.headers['x-list'], ['one', 'two']);
});

test('classifyH3Request tells WebSockets from other CONNECTs and requests', (t) => {
  const h = (fields: Header[]) => {
    const r = checkH3Request(fields);
    return r.ok ? r.headers : {};
  };
  t.is(classifyH3Request(h(WS)), 'websocket');
  t.is(
    classifyH3Request(h(WS.map(([k, v]): Header => (k === ':protocol' ? [k, 'x'] : [k, v])))),
    'other-protocol',
  );
  t.is(
    classifyH3Request(
      h([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'a'],
        [':path', '/'],
      ]),
    ),
    'not-extended-connect',
  );
});

test('buildH3Request: pseudo-headers first, https, no Host or connection-specific fields', (t) => {
  const fields = buildH3Request(
    { authority: 'localhost:4433', path: '/echo?x' },
    {
      subprotocols: ['a', 'b'],
      origin: 'https://o',
      headers: { Host: 'evil', Connection: 'close', 'X-Extra': '1' },
    },
  );
  t.deepEqual(fields.slice(0, 5), [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'https'],
    [':path', '/echo?x'],
    [':authority', 'localhost:4433'],
  ]);
  const names = fields.map(([k]) => k);
  t.false(names.includes('host'));
  t.false(names.includes('connection'));
  t.true(names.includes('x-extra'));
  t.true(checkH3Request(fields).ok);
  t.true(validateH3Request(fields).ok);
});

test('checkH3Response and validateH3Response', (t) => {
  const ok = checkH3Response([
    [':status', '200'],
    ['sec-websocket-protocol', 'b'],
  ]);
  t.true(ok.ok);
  t.is(ok.status, 200);
  t.false(checkH3Response([[':status', '20']]).ok);
  t.false(checkH3Response([['x', 'y']]).ok);
  t.false(
    checkH3Response([
      [':status', '200'],
      [':path', '/'],
    ]).ok,
  );
  t.like(validateH3Response(200, { 'sec-websocket-protocol': 'b' }, { subprotocols: ['a', 'b'] }), {
    ok: true,
    subprotocol: 'b',
  });
  t.false(validateH3Response(200, { 'sec-websocket-protocol': 'c' }, { subprotocols: ['a'] }).ok);
  t.false(validateH3Response(404, {}).ok);
});
