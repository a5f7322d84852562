import test from 'ava';
import fc from 'fast-check';
import { H3_EXCESSIVE_LOAD, H3Error } from '../../src/h3/errors.js';
import {
  decodeVarint,
  decodeVarintBig,
  encodeVarint,
  VARINT_MAX,
  varintLength,
  writeVarint,
} from '../../src/h3/varint.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

// RFC 9000 Appendix A.1: "the eight-byte sequence 0xc2197c5eff14e88c decodes to the
// decimal value 151,288,809,941,952,652; the four-byte sequence 0x9d7f3e7d decodes to
// 494,878,333; the two-byte sequence 0x7bbd decodes to 15,293; and the single byte 0x25
// decodes to 37 (as does the two-byte sequence 0x4025)."
test('RFC 9000 A.1: 8-byte sample decodes exactly as bigint', (t) => {
  t.deepEqual(decodeVarintBig(hex('c2197c5eff14e88c'), 0), {
    value: 151288809941952652n,
    length: 8,
  });
  t.is(toHex(encodeVarint(151288809941952652n)), 'c2197c5eff14e88c');
});

test('RFC 9000 A.1: 8-byte sample is above 2^53-1, so the number decoder refuses it', (t) => {
  const err = t.throws(() => decodeVarint(hex('c2197c5eff14e88c'), 0), { instanceOf: H3Error });
  t.is(err?.h3Code, H3_EXCESSIVE_LOAD);
  t.is(err?.code, 'H3_ERR');
});

test('RFC 9000 A.1: 4-, 2- and 1-byte samples, and the non-minimal 0x4025', (t) => {
  t.deepEqual(decodeVarint(hex('9d7f3e7d'), 0), { value: 494878333, length: 4 });
  t.deepEqual(decodeVarint(hex('7bbd'), 0), { value: 15293, length: 2 });
  t.deepEqual(decodeVarint(hex('25'), 0), { value: 37, length: 1 });
  t.deepEqual(decodeVarint(hex('4025'), 0), { value: 37, length: 2 });
  t.deepEqual(decodeVarintBig(hex('4025'), 0), { value: 37n, length: 2 });
  t.is(toHex(encodeVarint(494878333)), '9d7f3e7d');
  t.is(toHex(encodeVarint(15293)), '7bbd');
  t.is(toHex(encodeVarint(37)), '25');
});

test('encoders pick the shortest length at each boundary', (t) => {
  const cases: [number | bigint, string][] = [
    [0, '00'],
    [63, '3f'],
    [64, '4040'],
    [16383, '7fff'],
    [16384, '80004000'],
    [1073741823, 'bfffffff'],
    [1073741824, 'c000000040000000'],
    [Number.MAX_SAFE_INTEGER, 'c01fffffffffffff'],
    [VARINT_MAX, 'ffffffffffffffff'],
    [(1n << 62n) - 4n, 'fffffffffffffffc'],
  ];
  for (const [value, expected] of cases) {
    t.is(toHex(encodeVarint(value)), expected, String(value));
    t.is(varintLength(value), expected.length / 2, String(value));
  }
  t.deepEqual(decodeVarint(hex('c01fffffffffffff'), 0), {
    value: Number.MAX_SAFE_INTEGER,
    length: 8,
  });
  t.throws(() => decodeVarint(hex('c020000000000000'), 0), { instanceOf: H3Error });
  t.deepEqual(decodeVarintBig(hex('ffffffffffffffff'), 0), { value: VARINT_MAX, length: 8 });
});

test('encoders reject values outside the range', (t) => {
  for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, Infinity]) {
    t.throws(() => encodeVarint(bad), { instanceOf: RangeError }, String(bad));
  }
  t.throws(() => encodeVarint(-1n), { instanceOf: RangeError });
  t.throws(() => encodeVarint(VARINT_MAX + 1n), { instanceOf: RangeError });
});

test('writeVarint writes at an offset and returns the offset past it', (t) => {
  const buf = new Uint8Array(10).fill(0xee);
  t.is(writeVarint(buf, 3, 15293), 5);
  t.is(toHex(buf), 'eeeeee7bbdeeeeeeeeee');
  t.deepEqual(decodeVarint(buf, 3), { value: 15293, length: 2 });
});

test('decoders return null until the whole integer is there', (t) => {
  for (const s of ['c2197c5eff14e88c', '9d7f3e7d', '7bbd', '25']) {
    const bytes = hex(s);
    for (let n = 0; n < bytes.length; n++) {
      t.is(decodeVarint(bytes.subarray(0, n), 0), null);
      t.is(decodeVarintBig(bytes.subarray(0, n), 0), null);
    }
  }
  t.is(decodeVarint(hex('25'), 1), null);
});

test('property: number round trip with the shortest length', (t) => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.nat(4), (value, pad) => {
      const buf = new Uint8Array(pad + 8);
      const end = writeVarint(buf, pad, value);
      const decoded = decodeVarint(buf, pad);
      const shortest = value < 64 ? 1 : value < 16384 ? 2 : value < 2 ** 30 ? 4 : 8;
      return (
        decoded !== null &&
        decoded.value === value &&
        decoded.length === shortest &&
        end - pad === shortest
      );
    }),
  );
  t.pass();
});

test('property: bigint round trip over the whole 62-bit range', (t) => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: VARINT_MAX }), (value) => {
      const bytes = encodeVarint(value);
      const decoded = decodeVarintBig(bytes, 0);
      return decoded !== null && decoded.value === value && decoded.length === varintLength(value);
    }),
  );
  t.pass();
});
