// The Huffman code of RFC 7541 Appendix B, which QPACK string literals use (RFC 9204
// §4.1.2). Encodes octets (a string is taken as latin1: one char, one octet, codes
// 0-255 only) and decodes with a table-driven automaton, 4 bits per step, built once
// at module load from the code table below. Decoding rejects what RFC 7541 §5.2
// rejects and throws a QpackError (QPACK_DECOMPRESSION_FAILED); callers decoding an
// encoder-stream literal remap the code.

import { WebSocketError } from '../ws/errors.js';
import { QPACK_DECOMPRESSION_FAILED, QpackError } from './errors.js';

// Generated from /work/shared/rfc/rfc7541-huffman-code.txt (RFC 7541 Appendix B).
// Index = symbol (0-255, 256 = EOS); code is MSB-first, `HUFFMAN_LENGTHS[i]` bits long.
const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8,
  0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed,
  0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4,
  0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, 0x14, 0x3f8, 0x3f9,
  0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, 0x0, 0x1,
  0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa,
  0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
  0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, 0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, 0x2b,
  0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd,
  0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, 0x3fffd6,
  0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed,
  0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8,
  0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc,
  0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf,
  0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee,
  0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, 0x3ffffe2,
  0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3,
  0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8,
  0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6,
  0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4,
  0xfffff5, 0x3ffffea, 0x7ffff4, 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8,
  0x7ffffe9, 0x7ffffea, 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0,
  0x3ffffee, 0x3fffffff,
];
const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6,
  7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23,
  23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22,
  22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
  23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27,
  27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25,
  24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS = 256;

// Decoding automaton. A state is an internal node of the code tree (0 = root); for each
// state and next 4 input bits, TRANSITIONS holds the state reached, and the symbol
// completed on the way if any. Every code is at least 5 bits long, so 4 bits complete
// at most one symbol.
const T_EMIT = 0x100;
const T_EOS = 0x20000;
const TRANSITIONS = new Uint32Array(256 * 16);
// ACCEPTING[state]: input may end here. RFC 7541 §5.2: padding is "the most significant
// bits of the code corresponding to the EOS symbol" and "A padding strictly longer than
// 7 bits MUST be treated as a decoding error."
const ACCEPTING = new Uint8Array(256);
const ALL_ONES = new Uint8Array(256);

{
  // Children of internal node i: > 0 internal node, < 0 leaf -(symbol + 1), 0 unset.
  const zero = new Int16Array(256);
  const one = new Int16Array(256);
  const depth = new Uint8Array(256);
  ALL_ONES[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const bit = (code >>> i) & 1;
      const kids = bit ? one : zero;
      let next = kids[node]!;
      if (next === 0) {
        next = nodes++;
        kids[node] = next;
        depth[next] = depth[node]! + 1;
        ALL_ONES[next] = ALL_ONES[node]! & bit;
      }
      node = next;
    }
    (code & 1 ? one : zero)[node] = -(sym + 1);
  }
  for (let s = 0; s < 256; s++) {
    ACCEPTING[s] = s === 0 || (ALL_ONES[s] === 1 && depth[s]! <= 7) ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = s;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const next = ((nibble >>> i) & 1 ? one : zero)[node]!;
        if (next < 0) {
          const sym = -next - 1;
          entry = sym === EOS ? T_EOS : T_EMIT | (sym << 9);
          node = 0;
        } else {
          node = next;
        }
      }
      TRANSITIONS[(s << 4) | nibble] = entry | node;
    }
  }
}

function fail(message: string): never {
  throw new QpackError(QPACK_DECOMPRESSION_FAILED, `Huffman: ${message}`);
}

/** Decodes a Huffman-coded string literal to its octets. */
export function decodeHuffman(input: Uint8Array): Uint8Array {
  // The shortest code is 5 bits, so n input bytes yield at most 8n/5 symbols.
  const out = new Uint8Array(((input.length * 8) / 5) | 0);
  let o = 0;
  let state = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    let t = TRANSITIONS[(state << 4) | (byte >>> 4)]!;
    if (t & T_EMIT) out[o++] = t >>> 9;
    else if (t & T_EOS) eosFound();
    state = t & 0xff;
    t = TRANSITIONS[(state << 4) | (byte & 0x0f)]!;
    if (t & T_EMIT) out[o++] = t >>> 9;
    else if (t & T_EOS) eosFound();
    state = t & 0xff;
  }
  if (ACCEPTING[state] === 0) {
    fail(ALL_ONES[state] === 1 ? 'padding longer than 7 bits' : 'padding is not all ones');
  }
  return out.subarray(0, o);
}

function eosFound(): never {
  // RFC 7541 §5.2: "A Huffman-encoded string literal containing the EOS symbol MUST be
  // treated as a decoding error."
  fail('EOS symbol in string literal');
}

function badChar(input: string, i: number): never {
  throw new WebSocketError(
    'WS_ERR_INVALID_ARGUMENT',
    `Huffman: char code ${input.charCodeAt(i)} at ${i} is not latin1 (0-255)`,
  );
}

/** Bytes the Huffman coding of `input` takes, padding included. */
export function huffmanEncodedLength(input: string | Uint8Array): number {
  let bits = 0;
  if (typeof input === 'string') {
    for (let i = 0; i < input.length; i++) {
      const c = input.charCodeAt(i);
      if (c > 255) badChar(input, i);
      bits += HUFFMAN_LENGTHS[c]!;
    }
  } else {
    for (let i = 0; i < input.length; i++) bits += HUFFMAN_LENGTHS[input[i]!]!;
  }
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman coding of `input` into `out` at `offset`, padded with the most
 * significant bits of EOS (all ones), and returns the offset past it. The caller
 * guarantees `huffmanEncodedLength(input)` bytes of room.
 */
export function writeHuffman(input: string | Uint8Array, out: Uint8Array, offset: number): number {
  const isString = typeof input === 'string';
  let acc = 0; // pending bits, right-aligned; fewer than 8 between symbols
  let bits = 0;
  let o = offset;
  for (let i = 0; i < input.length; i++) {
    const c = isString ? input.charCodeAt(i) : input[i]!;
    if (c > 255) badChar(input as string, i);
    let code = HUFFMAN_CODES[c]!;
    let len = HUFFMAN_LENGTHS[c]!;
    if (len > 24) {
      // Keep the accumulator within 31 bits: emit the high part first.
      const high = len - 16;
      acc = (acc << high) | (code >>> 16);
      bits += high;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = acc >>> bits;
      }
      acc &= (1 << bits) - 1;
      code &= 0xffff;
      len = 16;
    }
    acc = (acc << len) | code;
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      out[o++] = acc >>> bits;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[o++] = (acc << (8 - bits)) | (0xff >>> bits);
  return o;
}

/** The Huffman coding of `input` in a new array. */
export function encodeHuffman(input: string | Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(input));
  writeHuffman(input, out, 0);
  return out;
}
