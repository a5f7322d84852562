// The answers' constructors and the response header checks, without sockets.

import test from 'ava';
import {
  buffered,
  checkHeaders,
  file,
  loop,
  MAX_LOOP_QUEUE,
  mailboxOf,
  stream,
  websocket,
} from '../../src/server/handler.js';
import { WebSocketError } from '../../src/ws/errors.js';
import { ok } from '../../src/ws/handler.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as WebSocketError).code;
  }
}

test('header names: lower-case tokens only, with a hint for upper case', (t) => {
  t.deepEqual(
    checkHeaders({ 'content-type': 'text/plain', 'x-n': 5, 'set-cookie': ['a=1', 'b=2'] }),
    {
      'content-type': 'text/plain',
      'x-n': '5',
      'set-cookie': ['a=1', 'b=2'],
    },
  );
  const err = t.throws(() => checkHeaders({ 'Content-Type': 'x' }), { instanceOf: WebSocketError });
  t.is(err?.code, 'HTTP_ERR_INVALID_HEADER');
  t.regex(err?.message ?? '', /use "content-type"/);
  for (const name of ['', 'a b', 'x:y', ':status', 'é', 'a\r\nb', 'a(b)']) {
    t.is(
      code(() => checkHeaders({ [name]: 'v' })),
      'HTTP_ERR_INVALID_HEADER',
      JSON.stringify(name),
    );
  }
  for (const name of ["x-!#$%&'*+.^_`|~", '0', 'a-b'])
    t.notThrows(() => checkHeaders({ [name]: 'v' }));
});

test('header values: no CR, LF or NUL; strings and numbers only', (t) => {
  for (const v of ['a\rb', 'a\nb', 'a\0b']) {
    t.is(
      code(() => checkHeaders({ x: v })),
      'HTTP_ERR_INVALID_HEADER',
      JSON.stringify(v),
    );
    t.is(
      code(() => checkHeaders({ x: ['ok', v] })),
      'HTTP_ERR_INVALID_HEADER',
    );
  }
  t.is(
    code(() => checkHeaders({ x: true as unknown as string })),
    'HTTP_ERR_INVALID_HEADER',
  );
  t.notThrows(() => checkHeaders({ x: 'tab\tand "quotes" and ünïcode' }));
});

test('connection-specific fields: allowed on HTTP/1.1, refused on HTTP/2 and HTTP/3', (t) => {
  for (const name of [
    'connection',
    'keep-alive',
    'proxy-connection',
    'transfer-encoding',
    'upgrade',
  ]) {
    t.notThrows(() => checkHeaders({ [name]: 'x' }, '1.1'));
    t.is(
      code(() => checkHeaders({ [name]: 'x' }, '2')),
      'HTTP_ERR_INVALID_HEADER',
    );
    t.is(
      code(() => checkHeaders({ [name]: 'x' }, '3')),
      'HTTP_ERR_INVALID_HEADER',
    );
  }
});

test('constructors check status and headers at once, in the handler that made the mistake', (t) => {
  t.is(
    code(() => buffered(99)),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => buffered(101)),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => buffered(600)),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => buffered(200.5)),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => stream(200, { Bad: 'x' }, () => {})),
    'HTTP_ERR_INVALID_HEADER',
  );
  t.is(
    code(() => file(200, {}, { path: '/x', offset: -1 })),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => file(200, {}, { path: '/x', length: 1.5 })),
    'WS_ERR_INVALID_ARGUMENT',
  );
  t.is(
    code(() => websocket({ handleIn: (_m, s) => ok(s) }, null, { headers: { X: '1' } })),
    'HTTP_ERR_INVALID_HEADER',
  );
  t.deepEqual(buffered(404, { 'x-a': '1' }, 'gone'), {
    type: 'buffered',
    status: 404,
    headers: { 'x-a': '1' },
    body: 'gone',
  });
});

test('websocket(): the route is the handler, the state and the route settings', (t) => {
  const handler = { handleIn: (_m: unknown, s: number) => ok(s) };
  const res = websocket(handler, 7, {
    subprotocols: ['chat'],
    maxMessage: 10,
    headers: { 'x-a': '1' },
  });
  t.is(res.type, 'websocket');
  t.is(res.route.handler, handler);
  t.is(res.route.state, 7);
  t.deepEqual(res.route.subprotocols, ['chat']);
  t.is(res.route.maxMessage, 10);
  t.deepEqual(res.headers, { 'x-a': '1' });
});

test('loop(): post queues infos until the response runs, up to MAX_LOOP_QUEUE', (t) => {
  const l = loop(200, {}, null, { handleInfo: (_i, _p, s) => ok(s) });
  const box = mailboxOf(l);
  for (let i = 0; i < MAX_LOOP_QUEUE; i++) t.true(l.post(i));
  t.false(l.post('one too many'));
  t.is(box.queue.length, MAX_LOOP_QUEUE);
  box.ended = true;
  box.queue = [];
  t.false(l.post('after the end'));
  t.is(
    code(() =>
      mailboxOf({ type: 'loop', status: 200, state: null, handler: l.handler, post: () => true }),
    ),
    'WS_ERR_INVALID_ARGUMENT',
    'a loop answer not made by loop() has no mailbox',
  );
});
