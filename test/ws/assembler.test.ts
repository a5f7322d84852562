// Tests of src/ws/assembler.ts: a message assembled from pieces of any size, cut from
// chunks of any size, is the exact concatenation; the memory kept alive stays within a
// small multiple of the payload however the message is fragmented (a view per tiny
// fragment, or a small view pinning its whole chunk, is what it must not do); and the
// number of pieces held grows with the large pieces only.

import test from 'ava';
import fc from 'fast-check';
import { MessageAssembler } from '../../src/ws/assembler.js';

/** Pieces as a transport delivers them: views into chunks that may hold other bytes too. */
const piecesArb = fc.array(
  fc.record({
    chunk: fc.integer({ min: 1, max: 70_000 }),
    start: fc.nat(),
    len: fc.oneof(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 70_000 })),
  }),
  { maxLength: 60 },
);

test('the message is the concatenation of its pieces, and memory stays within 4x the payload', (t) => {
  fc.assert(
    fc.property(piecesArb, fc.integer(), (specs, seed) => {
      const a = new MessageAssembler();
      const expected: Buffer[] = [];
      let big = 0;
      let s = seed >>> 0;
      for (const { chunk, start, len } of specs) {
        const buf = Buffer.alloc(chunk);
        for (let i = 0; i < chunk; i += 997) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          buf[i] = s & 0xff;
        }
        const from = start % chunk;
        const piece = buf.subarray(from, Math.min(chunk, from + len));
        if (piece.length >= 1024) big++;
        expected.push(Buffer.from(piece));
        a.push(piece);
        const f = a.footprint();
        if (f.bytes > 4 * a.length + 8192) return false;
        if (f.parts > 2 * big + 32) return false;
      }
      const whole = Buffer.concat(expected);
      if (a.length !== whole.length) return false;
      const got = a.take();
      return got.equals(whole) && a.empty && a.footprint().parts === 0;
    }),
    { numRuns: 200 },
  );
  t.pass();
});

test('100 000 one-byte fragments: linear time, a few buffers, not one view each', (t) => {
  const a = new MessageAssembler();
  const chunk = Buffer.alloc(7 * 100_000, 0x61);
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) a.push(chunk.subarray(i * 7 + 6, i * 7 + 7));
  const f = a.footprint();
  t.true(f.parts < 40, `${f.parts} pieces held`);
  t.true(f.bytes < 4 * 100_000 + 8192, `${f.bytes} bytes held`);
  t.true(a.take().equals(Buffer.alloc(100_000, 0x61)));
  t.true(performance.now() - started < 1000);
});

test('large pieces that fill their chunk are kept as views (no copy); the single piece is returned as is', (t) => {
  const a = new MessageAssembler();
  const c1 = Buffer.alloc(65536, 1);
  const c2 = Buffer.alloc(65536, 2);
  a.push(c1);
  a.push(c2.subarray(0, 40_000));
  t.is(a.footprint().parts, 2);
  t.is(a.footprint().bytes, 2 * 65536);
  const b = new MessageAssembler();
  b.push(c1);
  t.is(b.take(), c1);
});

test('a small piece does not pin its large chunk', (t) => {
  const a = new MessageAssembler();
  a.push(Buffer.alloc(65536).subarray(100, 101));
  t.true(a.footprint().bytes < 4096 + 1);
});
