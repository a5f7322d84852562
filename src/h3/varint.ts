// QUIC variable-length integers (RFC 9000 §16), as HTTP/3 uses them for frame types,
// lengths, settings, stream types and ids. Encoders always pick the shortest form.
// Numbers are exact up to 2^53-1: `decodeVarint` throws on anything larger, so use it
// for lengths and counts. For fields where a peer may legitimately send up to 2^62-1
// (GOAWAY ids, reserved "0x1f * N + 0x21" types and settings, which are to be ignored),
// use `decodeVarintBig`. Decoders return null when the input ends mid-integer; the
// caller keeps the bytes and tries again with more.

import { H3_EXCESSIVE_LOAD, H3Error } from './errors.js';

/** 2^62 - 1, the largest value a varint can carry. */
export const VARINT_MAX = (1n << 62n) - 1n;

export interface Varint {
  value: number;
  /** Bytes the encoding took: 1, 2, 4 or 8. */
  length: number;
}

export interface BigVarint {
  value: bigint;
  length: number;
}

const TWO_32 = 2 ** 32;

function checkNumber(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `varint value must be an integer in [0, 2^53-1] (use bigint above), got ${value}`,
    );
  }
}

/** Bytes the shortest encoding of `value` takes: 1, 2, 4 or 8. */
export function varintLength(value: number | bigint): number {
  if (typeof value === 'bigint') {
    if (value < 0n || value > VARINT_MAX) {
      throw new RangeError(`varint value out of range [0, 2^62-1]: ${value}`);
    }
    return value <= 1073741823n ? varintLength(Number(value)) : 8;
  }
  checkNumber(value);
  // RFC 9000 §16, Table 4: 6, 14, 30 or 62 usable bits.
  if (value <= 63) return 1;
  if (value <= 16383) return 2;
  if (value <= 1073741823) return 4;
  return 8;
}

/**
 * Writes the shortest encoding of `value` into `buf` at `offset` and returns the offset
 * just past it. The caller guarantees room (see `varintLength`).
 */
export function writeVarint(buf: Uint8Array, offset: number, value: number | bigint): number {
  const len = varintLength(value);
  if (len === 8) {
    const v = BigInt(value);
    const hi = Number(v >> 32n) | 0xc0000000;
    const lo = Number(v & 0xffffffffn);
    buf[offset] = hi >>> 24;
    buf[offset + 1] = hi >>> 16;
    buf[offset + 2] = hi >>> 8;
    buf[offset + 3] = hi;
    buf[offset + 4] = lo >>> 24;
    buf[offset + 5] = lo >>> 16;
    buf[offset + 6] = lo >>> 8;
    buf[offset + 7] = lo;
    return offset + 8;
  }
  const v = Number(value);
  if (len === 1) {
    buf[offset] = v;
    return offset + 1;
  }
  if (len === 2) {
    buf[offset] = (v >>> 8) | 0x40;
    buf[offset + 1] = v;
    return offset + 2;
  }
  buf[offset] = (v >>> 24) | 0x80;
  buf[offset + 1] = v >>> 16;
  buf[offset + 2] = v >>> 8;
  buf[offset + 3] = v;
  return offset + 4;
}

/** The shortest encoding of `value` in a new array. */
export function encodeVarint(value: number | bigint): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/**
 * Decodes the varint at `offset`; null if `buf` ends before it does. Non-minimal
 * encodings are accepted (RFC 9000 §16: "Values do not need to be encoded on the
 * minimum number of bytes necessary"). Throws an H3Error (H3_EXCESSIVE_LOAD) for a
 * value above 2^53-1: no length or count we act on can be that large.
 */
export function decodeVarint(buf: Uint8Array, offset: number): Varint | null {
  if (offset >= buf.length) return null;
  const first = buf[offset]!;
  const length = 1 << (first >> 6);
  if (offset + length > buf.length) return null;
  switch (length) {
    case 1:
      return { value: first, length };
    case 2:
      return { value: ((first & 0x3f) << 8) | buf[offset + 1]!, length };
    case 4:
      return {
        value:
          (first & 0x3f) * 0x1000000 +
          ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!),
        length,
      };
    default: {
      const hi =
        (first & 0x3f) * 0x1000000 +
        ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
      if (hi > 0x1fffff) {
        throw new H3Error(H3_EXCESSIVE_LOAD, 'variable-length integer above 2^53-1');
      }
      const lo =
        buf[offset + 4]! * 0x1000000 +
        ((buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!);
      return { value: hi * TWO_32 + lo, length };
    }
  }
}

/** Like `decodeVarint`, but exact over the whole 62-bit range. */
export function decodeVarintBig(buf: Uint8Array, offset: number): BigVarint | null {
  if (offset >= buf.length) return null;
  const first = buf[offset]!;
  const length = 1 << (first >> 6);
  if (offset + length > buf.length) return null;
  if (length < 8) {
    const small = decodeVarint(buf, offset)!;
    return { value: BigInt(small.value), length };
  }
  const hi =
    (first & 0x3f) * 0x1000000 +
    ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!);
  const lo =
    buf[offset + 4]! * 0x1000000 +
    ((buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!);
  return { value: (BigInt(hi) << 32n) | BigInt(lo), length };
}
