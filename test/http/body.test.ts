// The request body reader, without sockets: backpressure on its source, the size limit,
// draining what is left, an empty body, a body that breaks off.

import test from 'ava';
import { BODY_HIGH_WATER, Body, type BodySink, type BodySource } from '../../src/server/body.js';
import { WebSocketError } from '../../src/ws/errors.js';

interface FakeSource extends BodySource {
  sink: BodySink | null;
  paused: boolean;
  pauses: number;
  resumes: number;
  started: number;
}

function fakeSource(): FakeSource {
  const s: FakeSource = {
    sink: null,
    paused: false,
    pauses: 0,
    resumes: 0,
    started: 0,
    start(sink) {
      s.started++;
      s.sink = sink;
    },
    pause() {
      s.paused = true;
      s.pauses++;
    },
    resume() {
      s.paused = false;
      s.resumes++;
    },
  };
  return s;
}

test('nothing is read from the source before the handler reads', (t) => {
  const src = fakeSource();
  const body = new Body(src, 10, 1000);
  t.is(src.started, 0);
  t.false(body.complete);
  t.is(body.length, 10);
});

test('backpressure: the source pauses above the high-water mark and resumes as the reader catches up', async (t) => {
  const src = fakeSource();
  const body = new Body(src, undefined, 1 << 30);
  const first = body.read();
  const chunk = new Uint8Array(16 * 1024);
  const n = Math.ceil((BODY_HIGH_WATER * 2) / chunk.length);
  for (let i = 0; i < n; i++) src.sink!.data(chunk);
  t.true(src.paused, 'paused once more than the high-water mark waits');
  t.is(src.pauses, 1);
  t.is((await first)?.length, chunk.length);
  let read = 1;
  while (src.paused) {
    await body.read();
    read++;
  }
  t.is(src.resumes, 1);
  t.true(read > 1 && read < n, `resumed after ${read} of ${n} chunks were read`);
  src.sink!.end();
  let rest = 0;
  while ((await body.read()) !== null) rest++;
  t.is(read + rest, n);
  t.true(body.complete);
  t.is(body.received, n * chunk.length);
});

test('buffer(): the whole body; above the limit HTTP_ERR_BODY_TOO_LARGE with status 413', async (t) => {
  const src = fakeSource();
  const body = new Body(src, undefined, 100);
  const whole = body.buffer();
  await Promise.resolve();
  src.sink!.data(Buffer.from('hello '));
  src.sink!.data(Buffer.from('world'));
  src.sink!.end();
  t.is((await whole).toString(), 'hello world');

  const src2 = fakeSource();
  const big = new Body(src2, undefined, 100);
  const p = big.buffer();
  await Promise.resolve();
  src2.sink!.data(new Uint8Array(60));
  src2.sink!.data(new Uint8Array(60));
  const err = await t.throwsAsync(p, { instanceOf: WebSocketError });
  t.is(err?.code, 'HTTP_ERR_BODY_TOO_LARGE');
  t.is(err?.status, 413);
});

test('buffer(): an announced content-length above the limit fails without reading', async (t) => {
  const src = fakeSource();
  const body = new Body(src, 5000, 1000);
  const err = await t.throwsAsync(body.buffer(), { instanceOf: WebSocketError });
  t.is(err?.code, 'HTTP_ERR_BODY_TOO_LARGE');
  t.is(src.started, 0);
  const tight = new Body(fakeSource(), 5000, 1_000_000);
  await t.throwsAsync(tight.buffer(4999));
});

test('text() and json()', async (t) => {
  const src = fakeSource();
  const body = new Body(src, undefined, 100);
  const p = body.json();
  await Promise.resolve();
  src.sink!.data(Buffer.from('{"a":[1,'));
  src.sink!.data(Buffer.from('2]}'));
  src.sink!.end();
  t.deepEqual(await p, { a: [1, 2] });
});

test('for await … of: chunks in order, then done', async (t) => {
  const src = fakeSource();
  const body = new Body(src, undefined, 100);
  const seen: string[] = [];
  const done = (async () => {
    for await (const c of body) seen.push(Buffer.from(c).toString());
  })();
  await Promise.resolve();
  src.sink!.data(Buffer.from('a'));
  src.sink!.data(Buffer.from('b'));
  src.sink!.end();
  await done;
  t.deepEqual(seen, ['a', 'b']);
});

test('an empty body (no source, or content-length 0) is complete and reads as nothing', async (t) => {
  const none = new Body(null, undefined, 100);
  t.true(none.complete);
  t.is(none.length, 0);
  t.is(await none.read(), null);
  t.is((await none.buffer()).length, 0);
  const src = fakeSource();
  const zero = new Body(src, 0, 100);
  t.true(zero.complete);
  t.is(await zero.text(), '');
  t.is(src.started, 0);
});

test('a body that breaks off: reading rejects with HTTP_ERR_ABORTED', async (t) => {
  const src = fakeSource();
  const body = new Body(src, 100, 1000);
  const p = body.buffer();
  await Promise.resolve();
  src.sink!.data(new Uint8Array(10));
  src.sink!.error(new Error('reset'));
  const err = await t.throwsAsync(p, { instanceOf: WebSocketError });
  t.is(err?.code, 'HTTP_ERR_ABORTED');
});

test('discard(): true when the rest ends within the bound, false past it; it resumes a paused source', async (t) => {
  const src = fakeSource();
  const body = new Body(src, undefined, 1 << 30);
  const first = body.read();
  for (let i = 0; i < 10; i++) src.sink!.data(new Uint8Array(16 * 1024));
  await first;
  t.true(src.paused);
  const drained = body.discard(1000);
  t.false(src.paused);
  src.sink!.data(new Uint8Array(500));
  src.sink!.end();
  t.true(await drained);

  const src2 = fakeSource();
  const body2 = new Body(src2, undefined, 1 << 30);
  const over = body2.discard(1000);
  t.is(src2.started, 1);
  src2.sink!.data(new Uint8Array(600));
  src2.sink!.data(new Uint8Array(600));
  t.false(await over);
  t.is(await body2.read(), null, 'a discarded body reads as ended');
});
