import test from 'ava';
import fc from 'fast-check';
import { H3Error, QPACK_DECOMPRESSION_FAILED, QpackError } from '../../src/h3/errors.js';
import {
  decodeHuffman,
  encodeHuffman,
  huffmanEncodedLength,
  writeHuffman,
} from '../../src/h3/huffman.js';
import { WebSocketError } from '../../src/ws/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const latin1 = (u: Uint8Array): string => Buffer.from(u).toString('latin1');

// Huffman-coded string literals of RFC 7541 Appendix C.4 (requests) and C.6 (responses).
const VECTORS: [string, string][] = [
  ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'], // C.4.1
  ['no-cache', 'a8eb 1064 9cbf'], // C.4.2
  ['custom-key', '25a8 49e9 5ba9 7d7f'], // C.4.3
  ['custom-value', '25a8 49e9 5bb8 e8b4 bf'], // C.4.3
  ['302', '6402'], // C.6.1
  ['private', 'aec3 771a 4b'], // C.6.1
  ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'], // C.6.1
  ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'], // C.6.1
  ['307', '640e ff'], // C.6.2
  ['Mon, 21 Oct 2013 20:13:22 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff'], // C.6.3
  ['gzip', '9bd9 ab'], // C.6.3
  [
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  ], // C.6.3
];

for (const [text, coded] of VECTORS) {
  test(`RFC 7541 Appendix C: ${JSON.stringify(text)}`, (t) => {
    const expected = coded.replace(/\s/g, '');
    t.is(toHex(encodeHuffman(text)), expected);
    t.is(toHex(encodeHuffman(Buffer.from(text, 'latin1'))), expected);
    t.is(huffmanEncodedLength(text), expected.length / 2);
    t.is(latin1(decodeHuffman(hex(coded))), text);
  });
}

function assertDecodeError(t: import('ava').ExecutionContext, input: Uint8Array, message: RegExp) {
  const err = t.throws(() => decodeHuffman(input), { instanceOf: QpackError, message });
  t.true(err instanceof H3Error);
  t.is(err?.h3Code, QPACK_DECOMPRESSION_FAILED);
  t.is(err?.code, 'QPACK_ERR');
}

test('RFC 7541 §5.2: padding of up to 7 bits of ones is accepted', (t) => {
  // 'a' is 00011 (5 bits): 3 bits of padding.
  t.is(latin1(decodeHuffman(hex('1f'))), 'a');
  // '0' is 00000: five of them are 25 bits, leaving 7 bits of padding.
  t.is(toHex(encodeHuffman('00000')), '0000007f');
  t.is(latin1(decodeHuffman(hex('0000007f'))), '00000');
  t.is(decodeHuffman(new Uint8Array(0)).length, 0);
});

test('RFC 7541 §5.2: padding longer than 7 bits is an error', (t) => {
  assertDecodeError(t, hex('ff'), /longer than 7 bits/);
  // 'aaaaaaaa' is 40 bits, byte-aligned; one more byte of ones is 8 bits of padding.
  const aligned = encodeHuffman('aaaaaaaa');
  t.is(aligned.length, 5);
  assertDecodeError(t, Uint8Array.from([...aligned, 0xff]), /longer than 7 bits/);
});

test('RFC 7541 §5.2: padding that is not the EOS prefix (all ones) is an error', (t) => {
  assertDecodeError(t, hex('18'), /not all ones/); // 'a' then 000
  assertDecodeError(t, hex('00'), /not all ones/); // '0' then 000
  assertDecodeError(t, hex('f1e3 c2e5 f23a 6ba0 ab90 f4fe'), /not all ones/);
});

test('RFC 7541 §5.2: an encoded EOS symbol is an error', (t) => {
  // EOS is 30 ones; two bits of padding complete the 4 bytes.
  assertDecodeError(t, hex('ffffffff'), /EOS/);
  // After a symbol, too: 'a' (00011) + EOS + padding.
  assertDecodeError(t, hex('1fff ffff ff'), /EOS/);
});

test('strings are latin1: char codes above 255 are refused', (t) => {
  t.is(toHex(encodeHuffman('\u00ff')), toHex(encodeHuffman(Uint8Array.of(0xff))));
  t.throws(() => encodeHuffman('\u0100'), { instanceOf: WebSocketError });
  t.throws(() => huffmanEncodedLength('€'), { instanceOf: WebSocketError });
});

test('writeHuffman writes at an offset and returns the offset past it', (t) => {
  const out = new Uint8Array(10);
  t.is(writeHuffman('no-cache', out, 2), 8);
  t.is(toHex(out), '0000a8eb10649cbf0000');
});

test('every symbol, including the 30-bit ones, round-trips', (t) => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  t.is(toHex(decodeHuffman(encodeHuffman(all))), toHex(all));
  const reversed = all.slice().reverse();
  t.is(toHex(decodeHuffman(encodeHuffman(reversed))), toHex(reversed));
});

test('property: decode(encode(bytes)) is the identity, lengths agree', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const coded = encodeHuffman(bytes);
      return (
        coded.length === huffmanEncodedLength(bytes) && toHex(decodeHuffman(coded)) === toHex(bytes)
      );
    }),
  );
  t.pass();
});

test('property: arbitrary input decodes or throws a QpackError, nothing else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        decodeHuffman(bytes);
      } catch (err) {
        return err instanceof QpackError && err.h3Code === QPACK_DECOMPRESSION_FAILED;
      }
      return true;
    }),
  );
  t.pass();
});
