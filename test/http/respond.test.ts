// respond() and serveExchange() against a recording ResponseWriter: what is the same on
// every HTTP version (date, content-length, no body for HEAD/204/304, the stream's send
// and its backpressure, the loop's mailbox and ends, error statuses), without sockets.
// Then, on the wire: close() ends running loops on every version.

import test from 'ava';
import { Body } from '../../src/server/body.js';
import {
  createHandleContext,
  type HandleContext,
  shutdownLoops,
} from '../../src/server/context.js';
import { type Exchange, serveExchange } from '../../src/server/exchange.js';
import {
  buffered,
  type HeaderMap,
  type LoopEnd,
  loop,
  type Request,
  type RequestHandler,
  type Response,
  stream,
  type WebSocketRoute,
  websocket,
} from '../../src/server/handler.js';
import { type BodyMode, type ResponseWriter, respond } from '../../src/server/respond.js';
import { WebSocketError } from '../../src/ws/errors.js';
import { ok, stop } from '../../src/ws/handler.js';
import type { UpgradeInfo } from '../../src/ws/negotiate.js';
import type { HttpVersion } from '../../src/ws/transport.js';
import { makeCerts, removeCerts, serveOn, TRANSPORTS } from './helpers.js';

class FakeWriter implements ResponseWriter {
  readonly http: HttpVersion;
  aborted = false;
  calls: string[] = [];
  headArgs: { status: number; headers: HeaderMap; mode: BodyMode } | undefined;
  chunks: string[] = [];
  trailers: HeaderMap | undefined;
  full = false;
  #drain: (() => void)[] = [];
  #abortCbs: (() => void)[] = [];
  constructor(http: HttpVersion = '1.1') {
    this.http = http;
  }
  head(status: number, headers: HeaderMap, mode: BodyMode): void {
    this.calls.push('head');
    this.headArgs = { status, headers, mode };
  }
  write(chunk: Uint8Array): boolean {
    this.calls.push('write');
    this.chunks.push(Buffer.from(chunk).toString());
    return !this.full;
  }
  drained(): Promise<void> {
    if (!this.full || this.aborted) return Promise.resolve();
    return new Promise((r) => this.#drain.push(r));
  }
  drain(): void {
    this.full = false;
    for (const r of this.#drain.splice(0)) r();
  }
  end(trailers?: HeaderMap): void {
    this.calls.push('end');
    this.trailers = trailers;
  }
  abort(): void {
    this.calls.push('abort');
    this.aborted = true;
  }
  onAbort(cb: () => void): void {
    this.#abortCbs.push(cb);
  }
  peerGone(): void {
    this.aborted = true;
    for (const r of this.#drain.splice(0)) r();
    for (const cb of this.#abortCbs.splice(0)) cb();
  }
}

function request(method = 'GET', upgrade = false, http: HttpVersion = '1.1'): Request {
  return {
    http,
    method,
    path: '/p?q=1',
    pathname: '/p',
    query: new URLSearchParams('q=1'),
    authority: 'localhost',
    headers: {},
    secure: false,
    remoteAddress: '127.0.0.1',
    remotePort: 1,
    upgrade,
    tls: undefined,
    body: new Body(null, 0, 100),
  };
}

function context(errors: Error[] = [], handle?: RequestHandler): HandleContext {
  return createHandleContext({ onError: (e) => errors.push(e), ...(handle && { handle }) });
}

const tick = () => new Promise((r) => setImmediate(r));

test('buffered: date and content-length added, the body written, then the end', async (t) => {
  const w = new FakeWriter();
  await respond(w, request(), buffered(200, { 'x-a': '1' }, 'héllo'), context());
  t.deepEqual(w.calls, ['head', 'write', 'end']);
  t.is(w.headArgs?.mode, 'body');
  t.is(w.headArgs?.headers['content-length'], '6');
  t.regex(String(w.headArgs?.headers.date), /GMT$/);
  t.deepEqual(w.chunks, ['héllo']);
});

test('a date the handler set is kept', async (t) => {
  const w = new FakeWriter();
  await respond(w, request(), buffered(200, { date: 'Thu, 01 Jan 1970 00:00:00 GMT' }), context());
  t.is(w.headArgs?.headers.date, 'Thu, 01 Jan 1970 00:00:00 GMT');
});

test('HEAD, 204, 304: the head ends the response', async (t) => {
  for (const [method, res] of [
    ['HEAD', buffered(200, {}, 'twelve bytes')],
    ['GET', buffered(204, {}, 'dropped')],
    ['GET', buffered(304, {}, 'dropped')],
    ['HEAD', stream(200, {}, () => t.fail('a HEAD stream is not produced'))],
  ] as const) {
    const w = new FakeWriter();
    await respond(w, request(method), res, context());
    t.deepEqual(w.calls, ['head', 'end']);
    t.is(w.headArgs?.mode, 'empty');
    const length = w.headArgs?.headers['content-length'];
    if (res.status === 204 || res.status === 304) t.is(length, undefined);
    else if (res.type === 'buffered') t.is(length, '12');
  }
});

test('stream: send waits for the drain when the writer is full; the last send carries the trailers', async (t) => {
  const w = new FakeWriter();
  let resumed = false;
  const done = respond(
    w,
    request(),
    stream(200, {}, async (send) => {
      w.full = true;
      await send('a');
      resumed = true;
      await send('b', { fin: { 'x-sum': 2 } });
    }),
    context(),
  );
  await tick();
  t.false(resumed, 'send waits while the writer is above its high-water mark');
  w.drain();
  await done;
  t.true(resumed);
  t.deepEqual(w.chunks, ['a', 'b']);
  t.deepEqual(w.trailers, { 'x-sum': '2' });
  t.is(w.headArgs?.mode, 'stream');
  t.deepEqual(w.calls, ['head', 'write', 'write', 'end']);
});

test('stream: returning without fin ends it; send after fin rejects; trailers are checked like headers', async (t) => {
  const w = new FakeWriter();
  await respond(
    w,
    request(),
    stream(200, {}, async (send) => void (await send('x'))),
    context(),
  );
  t.deepEqual(w.calls, ['head', 'write', 'end']);

  const errors: Error[] = [];
  const w2 = new FakeWriter();
  let late: WebSocketError | undefined;
  await respond(
    w2,
    request(),
    stream(200, {}, async (send) => {
      await send('x', 'fin');
      late = await send('y').then(
        () => undefined,
        (e: WebSocketError) => e,
      );
    }),
    context(errors),
  );
  t.is(late?.code, 'WS_ERR_INVALID_STATE');

  const w3 = new FakeWriter('2');
  await respond(
    w3,
    request(),
    stream(200, {}, (send) => send('x', { fin: { connection: 'close' } })),
    context(errors),
  );
  t.deepEqual(
    w3.calls,
    ['head', 'abort'],
    'a connection-specific trailer on h2 cuts the stream off',
  );
  t.is((errors.at(-1) as WebSocketError).code, 'HTTP_ERR_INVALID_HEADER');
});

test('stream: the peer leaving rejects send with HTTP_ERR_ABORTED, which is not an error of ours', async (t) => {
  const errors: Error[] = [];
  const w = new FakeWriter();
  let seen: WebSocketError | undefined;
  const done = respond(
    w,
    request(),
    stream(200, {}, async (send) => {
      w.full = true;
      try {
        await send('a');
      } catch (err) {
        seen = err as WebSocketError;
        throw err;
      }
    }),
    context(errors),
  );
  await tick();
  w.peerGone();
  await done;
  t.is(seen?.code, 'HTTP_ERR_ABORTED');
  t.deepEqual(errors, []);
  t.false(w.calls.includes('end'));
});

test('loop: infos posted before the start wait; stop ends the response; terminate sees normal', async (t) => {
  const w = new FakeWriter();
  const ends: LoopEnd[] = [];
  const l = loop(200, { 'content-type': 'text/event-stream' }, 0, {
    handleInfo(info, push, n) {
      push(`${String(info)};`);
      return n + 1 === 3 ? stop(n + 1) : ok(n + 1);
    },
    terminate: (reason, n) => ends.push({ ...reason, n } as LoopEnd),
  });
  t.true(l.post('a'));
  const done = respond(w, request(), l, context());
  await tick();
  t.true(l.post('b'));
  t.true(l.post('c'));
  await done;
  t.deepEqual(w.chunks, ['a;', 'b;', 'c;']);
  t.deepEqual(w.calls, ['head', 'write', 'write', 'write', 'end']);
  t.deepEqual(ends, [{ kind: 'normal', n: 3 } as LoopEnd]);
  t.false(l.post('d'), 'a finished loop takes no more infos');
  await t.throwsAsync(respond(new FakeWriter(), request(), l, context()), {
    message: /runs once/,
  });
});

test('loop: the peer leaving → terminate remote; shutdown → terminate shutdown and the end; a throwing handleInfo → error and cut off', async (t) => {
  const ends: string[] = [];
  const make = (fail = false) =>
    loop(200, {}, null, {
      handleInfo(_info, push, s) {
        if (fail) throw new Error('boom');
        push('x');
        return ok(s);
      },
      terminate: (r) => ends.push(r.kind),
    });

  const w1 = new FakeWriter();
  const l1 = make();
  const d1 = respond(w1, request(), l1, context());
  l1.post(1);
  await tick();
  w1.peerGone();
  await d1;
  t.false(w1.calls.includes('end'));

  const ctx = context();
  const w2 = new FakeWriter();
  const d2 = respond(w2, request(), make(), ctx);
  await tick();
  t.is(ctx.loops.size, 1);
  shutdownLoops(ctx);
  await d2;
  t.is(w2.calls.at(-1), 'end');
  t.is(ctx.loops.size, 0);

  const errors: Error[] = [];
  const w3 = new FakeWriter();
  const l3 = make(true);
  l3.post(1);
  await respond(w3, request(), l3, context(errors));
  t.is(w3.calls.at(-1), 'abort');
  t.is(errors[0]?.message, 'boom');

  const w4 = new FakeWriter();
  const l4 = loop(200, {}, null, { handleInfo: () => 'nope' as never });
  l4.post(1);
  const errors4: Error[] = [];
  await respond(w4, request(), l4, context(errors4));
  t.is((errors4[0] as WebSocketError).code, 'WS_ERR_HANDLER');

  t.deepEqual(ends, ['remote', 'shutdown', 'error']);
});

function exchange(req: Request, w: FakeWriter, accepted: unknown[]): Exchange {
  return {
    request: req,
    writer: () => w,
    validate: () => ({
      ok: true,
      info: {} as UpgradeInfo,
      responseHeaders: {},
    }),
    open: (route: WebSocketRoute, _accepted: unknown, headers: HeaderMap) =>
      void accepted.push({ route, headers }),
  };
}

test('serveExchange: declined → decline() or 404; thrown statuses → that status; other throws → 500 + onError', async (t) => {
  const errors: Error[] = [];
  const cases: [RequestHandler, number][] = [
    [() => undefined, 404],
    [
      () => {
        throw new WebSocketError('HTTP_ERR_BODY_TOO_LARGE', 'big', { status: 413 });
      },
      413,
    ],
    [
      () => {
        throw Object.assign(new Error('x'), { status: 413 });
      },
      500,
    ],
    [
      () => {
        throw new Error('plain');
      },
      500,
    ],
  ];
  for (const [handle, status] of cases) {
    const w = new FakeWriter();
    await serveExchange(exchange(request(), w, []), context(errors, handle));
    t.is(w.headArgs?.status, status);
  }
  t.deepEqual(
    errors.map((e) => e.message),
    ['x', 'plain'],
    'only WebSocketErrors carry a status to the wire',
  );
  let declined = 0;
  const w = new FakeWriter();
  await serveExchange(
    exchange(request(), w, []),
    context([], () => undefined),
    () => {
      declined++;
      return true;
    },
  );
  t.is(declined, 1);
  t.deepEqual(w.calls, []);
});

test('serveExchange: websocket() → accept (with checked headers) on an upgrade; 426 / 405 without one; 503 when closing', async (t) => {
  const handler = { handleIn: (_m: unknown, s: null) => ok(s) };
  const answer: RequestHandler = () => websocket(handler, null, { headers: { 'x-a': '1' } });
  const accepted: { route: WebSocketRoute; headers: HeaderMap }[] = [];
  await serveExchange(
    exchange(request('GET', true), new FakeWriter(), accepted),
    context([], answer),
  );
  t.is(accepted.length, 1);
  t.is(accepted[0]?.route.handler, handler);
  t.deepEqual(accepted[0]?.headers, { 'x-a': '1' });

  for (const [http, status, header] of [
    ['1.1', 426, 'upgrade'],
    ['2', 405, 'allow'],
    ['3', 405, 'allow'],
  ] as const) {
    const w = new FakeWriter(http);
    await serveExchange(exchange(request('GET', false, http), w, accepted), context([], answer));
    t.is(w.headArgs?.status, status);
    t.truthy(w.headArgs?.headers[header]);
  }
  const closing = context([], answer);
  closing.closing = true;
  const w = new FakeWriter();
  await serveExchange(exchange(request('GET', true), w, accepted), closing);
  t.is(w.headArgs?.status, 503);
  t.is(accepted.length, 1);
});

test('a response whose headers fail the check is answered 500 instead (nothing of it was written)', async (t) => {
  const errors: Error[] = [];
  const bad: Response = { status: 200, headers: { 'transfer-encoding': 'chunked' } };
  const w = new FakeWriter('3');
  await serveExchange(
    exchange(request('GET', false, '3'), w, []),
    context(errors, () => bad),
  );
  t.is(w.headArgs?.status, 500);
  t.is((errors[0] as WebSocketError).code, 'HTTP_ERR_INVALID_HEADER');
});

test('on the wire: close() ends running loops (terminate sees shutdown) and clients get a complete response', async (t) => {
  const certs = await makeCerts('http-respond');
  try {
    for (const name of TRANSPORTS) {
      const ends: string[] = [];
      let started!: () => void;
      const running = new Promise<void>((r) => {
        started = r;
      });
      const s = await serveOn(name, certs, {
        handle: () => {
          const l = loop(200, {}, null, {
            handleInfo(info, push, st) {
              push(String(info));
              started();
              return ok(st);
            },
            terminate: (r) => ends.push(r.kind),
          });
          l.post('first;');
          return l;
        },
      });
      const res = s.fetch({ path: '/' });
      await running;
      await s.close();
      const r = await res;
      t.is(r.body.toString(), 'first;', name);
      t.true(r.complete, name);
      t.deepEqual(ends, ['shutdown'], name);
    }
  } finally {
    await removeCerts(certs);
  }
});
