// Fuzzing the HTTP/3 codecs beyond test/h3's random-bytes properties (which mostly stop
// at the first byte): mutations of VALID inputs, so the decoders get deep before they
// meet the damage. QPACK decodeFieldSection gets encoded field sections with bytes
// flipped, cut, inserted or repeated; the FrameDecoder gets valid request and control
// streams (with their validators, as the connection runs them) mutated the same way and
// cut into random chunks. Only an H3Error may escape; what decodes stays within the
// field-section size limit and yields only latin1 strings.

import test from 'ava';
import fc from 'fast-check';
import { H3Error } from '../../src/h3/errors.js';
import {
  ControlStreamValidator,
  encodeDataHeader,
  encodeFrame,
  encodeGoaway,
  encodeHeadersFrame,
  encodeSettings,
  FrameDecoder,
  RequestStreamValidator,
} from '../../src/h3/frames.js';
import {
  decodeFieldSection,
  encodeFieldSection,
  fieldSectionSize,
  type Header,
  STATIC_TABLE,
} from '../../src/h3/qpack.js';
import { runs } from './gen.js';

const tchar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz");
const name = fc.oneof(
  fc.string({ unit: tchar, minLength: 1, maxLength: 16 }),
  fc.constantFrom(...STATIC_TABLE.map(([n]) => n)),
);
const value = fc.oneof(
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: 40,
  }),
  fc.constantFrom(...STATIC_TABLE.map(([, v]) => v)),
);
const headers: fc.Arbitrary<Header[]> = fc
  .array(fc.tuple(name, value, fc.boolean()), { maxLength: 12 })
  .map((l) =>
    l
      .map(([n, v, never]) => (never ? [n, v, true] : [n, v]) as Header)
      // the encoder refuses a pseudo-header after a regular field
      .sort((a, b) => Number(!a[0].startsWith(':')) - Number(!b[0].startsWith(':'))),
  );

type Mutation = { at: number; kind: 'flip' | 'cut' | 'insert' | 'dup'; byte: number };
const mutations = fc.array(
  fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('flip', 'cut', 'insert', 'dup') as fc.Arbitrary<Mutation['kind']>,
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  { minLength: 1, maxLength: 4 },
);

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(input);
  for (const m of ms) {
    const i = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[i] = b[i]! ^ (m.byte || 1);
    else if (m.kind === 'cut') b = b.subarray(0, i);
    else if (m.kind === 'insert')
      b = Buffer.concat([b.subarray(0, i), Uint8Array.of(m.byte), b.subarray(i)]);
    else b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + 8), b.subarray(i)]);
  }
  return b;
}

function onlyH3Error(fn: () => void): boolean {
  try {
    fn();
  } catch (err) {
    if (err instanceof H3Error) return true;
    throw err;
  }
  return true;
}

test('QPACK: mutated field sections decode within the limit or throw an H3Error', (t) => {
  fc.assert(
    fc.property(
      headers,
      fc.boolean(),
      mutations,
      fc.integer({ min: 64, max: 4096 }),
      (h, huffman, ms, max) => {
        const bytes = mutate(encodeFieldSection(h, { huffman }), ms);
        return onlyH3Error(() => {
          const out = decodeFieldSection(bytes, max);
          if (fieldSectionSize(out) > max) throw new Error('decoded past maxFieldSectionSize');
          for (const [n, v] of out) {
            if (typeof n !== 'string' || typeof v !== 'string') throw new Error('not a string');
            if (/[^\x00-\xff]/.test(n + v)) throw new Error('a char above latin1');
          }
        });
      },
    ),
    { numRuns: runs(3000) },
  );
  t.pass();
});

function chunks(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

const requestStream = fc
  .tuple(headers, fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 4 }), fc.boolean())
  .map(([h, bodies, trailers]) =>
    Buffer.concat([
      encodeHeadersFrame(encodeFieldSection(h)),
      ...bodies.flatMap((b) => [encodeDataHeader(b.length), b]),
      encodeFrame(0x21, Uint8Array.of(1, 2)),
      ...(trailers ? [encodeHeadersFrame(encodeFieldSection([['x-t', '1']]))] : []),
    ]),
  );

const controlStream = fc
  .tuple(
    fc.array(fc.tuple(fc.integer({ min: 6, max: 0x40 }), fc.nat()), { maxLength: 4 }),
    fc.nat(),
  )
  .map(([settings, goaway]) => {
    const unique = [...new Map(settings.filter(([id]) => id > 5).map(([id, v]) => [id, v]))];
    return Buffer.concat([
      encodeSettings(unique),
      encodeGoaway(goaway * 4),
      encodeFrame(0x21, Uint8Array.of()),
    ]);
  });

test('FrameDecoder: mutated request and control streams, in any chunks, only throw H3Error', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        requestStream.map((b) => ({ b, control: false })),
        controlStream.map((b) => ({ b, control: true })),
      ),
      mutations,
      fc.array(fc.nat(), { maxLength: 6 }),
      fc.constantFrom('client', 'server') as fc.Arbitrary<'client' | 'server'>,
      ({ b, control }, ms, cuts, role) => {
        const bytes = mutate(b, ms);
        const validator = control
          ? new ControlStreamValidator(role)
          : new RequestStreamValidator(role);
        const d = new FrameDecoder({ validator, maxFrameSize: 16 * 1024 });
        return onlyH3Error(() => {
          for (const c of chunks(bytes, cuts)) {
            for (const e of d.push(c)) {
              if (e.type === 'headers') decodeFieldSection(e.fieldSection, 16 * 1024);
            }
          }
          d.end();
        });
      },
    ),
    { numRuns: runs(3000) },
  );
  t.pass();
});
