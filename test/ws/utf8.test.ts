// Tests of src/ws/utf8.ts: sequences split across chunks, fail-fast on the chunk
// holding the first bad byte (RFC 6455 §8.1), and properties against Node's
// `buffer.isUtf8` and an independent RFC 3629 §4 reference automaton.

import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import test from 'ava';
import fc from 'fast-check';
import { isValidUtf8, Utf8Validator } from '../../src/ws/utf8.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/**
 * Push chunks until one is refused. Returns the index of the refused chunk (-1 if
 * none) and whether the validator was at a code point boundary at the end.
 */
function feed(chunks: readonly Uint8Array[]): { refused: number; complete: boolean } {
  const v = new Utf8Validator();
  for (let i = 0; i < chunks.length; i++) {
    if (!v.push(chunks[i]!)) return { refused: i, complete: false };
  }
  return { refused: -1, complete: v.complete };
}

/**
 * RFC 3629 §4, written independently of the code under test: the index of the first
 * byte after which the input can no longer be the start of valid UTF-8 (-1 if none),
 * and how many bytes are still owed at the end.
 */
function reference(bytes: Uint8Array): { firstInvalid: number; pending: number } {
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (need > 0) {
      if (b < lo || b > hi) return { firstInvalid: i, pending: 0 };
      need--;
      lo = 0x80;
      hi = 0xbf;
      continue;
    }
    if (b <= 0x7f) continue;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) need = 2;
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    else return { firstInvalid: i, pending: 0 };
  }
  return { firstInvalid: -1, pending: need };
}

/** Split `bytes` at cut points derived from `cutSeeds` (empty chunks included). */
function chunk(bytes: Uint8Array, cutSeeds: readonly number[]): Uint8Array[] {
  const cuts = cutSeeds.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  const bounds = [0, ...cuts, bytes.length];
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) out.push(bytes.subarray(bounds[i], bounds[i + 1]));
  return out;
}

// ── sequences split across chunks ───────────────────────────────────────────

const cases: { name: string; chunks: string[]; refused: number; complete?: boolean }[] = [
  { name: '€ as E2 | 82 | AC', chunks: ['e2', '82', 'ac'], refused: -1, complete: true },
  { name: '😀 as F0 9F | 98 | 80', chunks: ['f09f', '98', '80'], refused: -1, complete: true },
  {
    name: 'U+10FFFF as F4 | 8F BF | BF',
    chunks: ['f4', '8fbf', 'bf'],
    refused: -1,
    complete: true,
  },
  { name: 'U+FFFF (a noncharacter, still valid)', chunks: ['ef', 'bfbf'], refused: -1 },
  { name: 'ends inside a sequence: E2 82', chunks: ['61e2', '82'], refused: -1, complete: false },
  {
    name: 'a carried sequence completed, then another started',
    chunks: ['e2', '82ac41e282', 'ac'],
    refused: -1,
    complete: true,
  },
  { name: 'surrogate ED A0 80: refused at A0', chunks: ['ed', 'a0', '80'], refused: 1 },
  { name: 'above U+10FFFF F4 90: refused at 90', chunks: ['f4', '90', '8080'], refused: 1 },
  { name: 'overlong E0 80 80: refused at the first 80', chunks: ['e0', '80', '80'], refused: 1 },
  { name: 'overlong F0 80: refused at 80', chunks: ['f0', '808080'], refused: 1 },
  { name: 'overlong C0 AF: refused at C0', chunks: ['c0', 'af'], refused: 0 },
  { name: 'C1 is never valid', chunks: ['41c1', 'bf'], refused: 0 },
  { name: 'F5 is refused at once', chunks: ['f5'], refused: 0 },
  { name: 'FF is refused at once', chunks: ['48656c6c6f', 'ff'], refused: 1 },
  { name: 'a lone continuation byte', chunks: ['6162', '63', '80', '6465'], refused: 2 },
  {
    name: 'valid prefix + FF + more, FF in the middle of a chunk',
    chunks: ['48656c', '6c6fff6d6f', '7265'],
    refused: 1,
  },
  { name: 'FF right after a completed carry', chunks: ['e2', '82acff'], refused: 1 },
  { name: 'a sequence interrupted by ASCII', chunks: ['e282', '41'], refused: 1 },
  { name: 'a trailing lead byte followed by ASCII', chunks: ['e2', '41'], refused: 1 },
  { name: 'a 4-byte sequence interrupted at its 4th byte', chunks: ['f09f98', '41'], refused: 1 },
  { name: 'a stray continuation after a complete 2-byte char', chunks: ['c280', '80'], refused: 1 },
  {
    name: 'an incomplete sequence ending a chunk is checked at once',
    chunks: ['4142e080'],
    refused: 0,
  },
  { name: 'empty chunks are fine anywhere', chunks: ['', 'e2', '', '82ac', ''], refused: -1 },
];

for (const c of cases) {
  test(`Utf8Validator: ${c.name}`, (t) => {
    const r = feed(c.chunks.map(hex));
    t.is(r.refused, c.refused);
    if (c.complete !== undefined) t.is(r.complete, c.complete);
    // the reference automaton agrees on which chunk holds the first bad byte
    const whole = hex(c.chunks.join(''));
    const ref = reference(whole);
    let start = 0;
    let expected = -1;
    c.chunks.forEach((h, i) => {
      const end = start + h.length / 2;
      if (expected === -1 && ref.firstInvalid >= start && ref.firstInvalid < end) expected = i;
      start = end;
    });
    t.is(expected, c.refused, 'the case table itself is right');
  });
}

test('reset() forgets a pending sequence', (t) => {
  const v = new Utf8Validator();
  t.true(v.push(hex('e282')));
  t.false(v.complete);
  v.reset();
  t.true(v.complete);
  t.true(v.push(hex('41')));
  t.true(v.complete);
});

test('isValidUtf8 on whole buffers', (t) => {
  t.true(isValidUtf8(new Uint8Array(0)));
  t.true(isValidUtf8(Buffer.from('héllo wörld €𝄞')));
  t.false(isValidUtf8(hex('e282')));
  t.false(isValidUtf8(hex('eda080')));
  t.false(isValidUtf8(hex('c0af')));
  // a view into a larger buffer: only the view is checked
  const backing = hex('ff41ff');
  t.true(isValidUtf8(backing.subarray(1, 2)));
});

// ── properties ──────────────────────────────────────────────────────────────

const INTERESTING = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec,
  0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff,
];

/** Byte strings that are often almost valid: pieces of real UTF-8 mixed with edge bytes. */
const bytesArb: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }).map((s) => [...Buffer.from(s)]),
      fc.constantFrom(...INTERESTING).map((b) => [b]),
      fc.integer({ min: 0, max: 255 }).map((b) => [b]),
    ),
    { maxLength: 40 },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

test('property: the reference automaton agrees with Node isUtf8', (t) => {
  fc.assert(
    fc.property(bytesArb, (bytes) => {
      const ref = reference(bytes);
      assert.equal(ref.firstInvalid === -1 && ref.pending === 0, isUtf8(bytes));
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: any chunking of any valid string is accepted and ends complete', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), cutsArb, (s, cuts) => {
      const r = feed(chunk(Buffer.from(s), cuts));
      assert.deepEqual(r, { refused: -1, complete: true });
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

test('property: any chunking of any bytes agrees with isUtf8 on the whole', (t) => {
  fc.assert(
    fc.property(bytesArb, cutsArb, (bytes, cuts) => {
      const r = feed(chunk(bytes, cuts));
      assert.equal(r.refused === -1 && r.complete, isUtf8(bytes));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: fail-fast, false on exactly the chunk holding the first invalid byte', (t) => {
  fc.assert(
    fc.property(bytesArb, cutsArb, (bytes, cuts) => {
      const chunks = chunk(bytes, cuts);
      const { firstInvalid, pending } = reference(bytes);
      const r = feed(chunks);
      if (firstInvalid === -1) {
        assert.deepEqual(r, { refused: -1, complete: pending === 0 });
        return;
      }
      let start = 0;
      let expected = -1;
      for (let i = 0; i < chunks.length; i++) {
        const end = start + chunks[i]!.length;
        if (firstInvalid < end) {
          expected = i;
          break;
        }
        start = end;
      }
      assert.equal(r.refused, expected);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});
