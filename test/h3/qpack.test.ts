import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import {
  H3_EXCESSIVE_LOAD,
  H3_MESSAGE_ERROR,
  H3Error,
  QPACK_DECODER_STREAM_ERROR,
  QPACK_DECOMPRESSION_FAILED,
  QPACK_ENCODER_STREAM_ERROR,
  QpackError,
} from '../../src/h3/errors.js';
import { encodeHuffman } from '../../src/h3/huffman.js';
import {
  DecoderStreamParser,
  decodeFieldSection,
  encodeFieldSection,
  fieldSectionSize,
  type Header,
  parseEncoderStream,
  readPrefixedInt,
  STATIC_TABLE,
  writePrefixedInt,
} from '../../src/h3/qpack.js';
import { WebSocketError } from '../../src/ws/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** An 8-bit prefix string literal, Huffman-coded (H = 1). */
function huffmanString(s: string, prefixBits = 8, flags = 0): Uint8Array {
  const coded = encodeHuffman(s);
  const head = new Uint8Array(8);
  const n = writePrefixedInt(
    head,
    0,
    coded.length,
    prefixBits - 1,
    flags | (1 << (prefixBits - 1)),
  );
  return concat(head.subarray(0, n), coded);
}

function throwsH3(t: ExecutionContext, fn: () => unknown, h3Code: number, message?: RegExp) {
  const err = t.throws(fn, message ? { instanceOf: H3Error, message } : { instanceOf: H3Error });
  t.is(err?.h3Code, h3Code, err?.message);
  return err;
}

function throwsQpack(t: ExecutionContext, fn: () => unknown, h3Code: number) {
  const err = t.throws(fn, { instanceOf: QpackError });
  t.is(err?.h3Code, h3Code, err?.message);
  t.is(err?.code, 'QPACK_ERR');
  t.is(err?.scope, 'connection');
}

test('RFC 9204 Appendix A: 99 entries, spot-checked', (t) => {
  t.is(STATIC_TABLE.length, 99);
  t.deepEqual(STATIC_TABLE[0], [':authority', '']);
  t.deepEqual(STATIC_TABLE[1], [':path', '/']);
  t.deepEqual(STATIC_TABLE[15], [':method', 'CONNECT']);
  t.deepEqual(STATIC_TABLE[17], [':method', 'GET']);
  t.deepEqual(STATIC_TABLE[25], [':status', '200']);
  t.deepEqual(STATIC_TABLE[29], ['accept', '*/*']);
  t.deepEqual(STATIC_TABLE[73], ['access-control-allow-credentials', 'FALSE']);
  t.deepEqual(STATIC_TABLE[85], [
    'content-security-policy',
    "script-src 'none'; object-src 'none'; base-uri 'none'",
  ]);
  t.deepEqual(STATIC_TABLE[98], ['x-frame-options', 'sameorigin']);
});

test('RFC 7541 C.1: prefixed integers', (t) => {
  const out = new Uint8Array(8);
  t.is(toHex(out.subarray(0, writePrefixedInt(out, 0, 10, 5, 0))), '0a'); // C.1.1
  t.is(toHex(out.subarray(0, writePrefixedInt(out, 0, 1337, 5, 0))), '1f9a0a'); // C.1.2
  t.is(toHex(out.subarray(0, writePrefixedInt(out, 0, 42, 8, 0))), '2a'); // C.1.3
  t.deepEqual(readPrefixedInt(hex('1f9a0a'), 0, 5), { value: 1337, next: 3 });
  t.deepEqual(readPrefixedInt(hex('ea'), 0, 5), { value: 10, next: 1 }); // flag bits ignored
  t.is(readPrefixedInt(hex('1f9a'), 0, 5), null);
  // 2^62-1 with an 8-bit prefix decodes; 2^62 does not.
  const out2 = new Uint8Array(12);
  const n = writePrefixedInt(out2, 0, 2 ** 62 - 1024, 8, 0);
  t.deepEqual(readPrefixedInt(out2, 0, 8), { value: 2 ** 62 - 1024, next: n });
  throwsQpack(
    t,
    () => readPrefixedInt(hex('ff 81 80 80 80 80 80 80 80 40'), 0, 8),
    QPACK_DECOMPRESSION_FAILED,
  );
});

test('encoder: indexed static field lines after the 0x00 0x00 prefix', (t) => {
  t.is(toHex(encodeFieldSection([[':method', 'GET']])), '0000d1'); // index 17
  t.is(toHex(encodeFieldSection([[':path', '/']])), '0000c1'); // index 1
  t.is(toHex(encodeFieldSection([[':status', '200']])), '0000d9'); // index 25
  t.is(toHex(encodeFieldSection([[':method', 'CONNECT']])), '0000cf'); // index 15
  t.is(toHex(encodeFieldSection([['x-frame-options', 'sameorigin']])), '0000ff23'); // 98 = 63 + 35
  t.is(toHex(encodeFieldSection([])), '0000');
});

test('encoder: literal with static name reference, Huffman value', (t) => {
  // cache-control is index 36 (>= 15): 0101 1111, then 36 - 15 = 21.
  t.is(toHex(encodeFieldSection([['cache-control', 'private']])), '00005f1585aec3771a4b');
});

test('encoder: literal name and value, both Huffman (RFC 7541 C.4.3 strings)', (t) => {
  // 001 N=0 H=1 NameLen(3+) = 8 -> 0x2f 0x01; value 9 bytes -> 0x89.
  t.is(
    toHex(encodeFieldSection([['custom-key', 'custom-value']])),
    '00002f0125a849e95ba97d7f8925a849e95bb8e8b4bf',
  );
});

test('encoder: Huffman only when shorter; never with huffman: false', (t) => {
  // :method's lowest static index is 15 (0x7f 0x00); 'GET' codes to 21 bits = 3 bytes,
  // not shorter than the raw 3.
  t.is(toHex(encodeFieldSection([[':method', 'GET', true]])), '00007f0003474554');
  // RFC 9204 Appendix B.1, byte for byte.
  t.is(
    toHex(encodeFieldSection([[':path', '/index.html']], { huffman: false })),
    '0000510b2f696e6465782e68746d6c',
  );
  t.is(
    toHex(encodeFieldSection([['custom-key', 'v']], { huffman: false })),
    '0000 2703 637573746f6d2d6b6579 0176'.replace(/\s/g, ''),
  );
});

test('encoder: N bit keeps a field literal even when the static table has it', (t) => {
  // 01 N=1 T=1: 0x70 | 1 for :path, then raw '/'.
  t.is(toHex(encodeFieldSection([[':path', '/', true]])), '000071012f');
  // Literal name with N: 001 N=1 H.
  t.is(
    toHex(encodeFieldSection([['custom-key', 'v', true]], { huffman: false })),
    '0000 3703 637573746f6d2d6b6579 0176'.replace(/\s/g, ''),
  );
});

test('encoder: names are lowercased before encoding', (t) => {
  t.is(toHex(encodeFieldSection([['Content-Type', 'text/plain']])), '0000f5'); // index 53
  t.deepEqual(decodeFieldSection(encodeFieldSection([['X-Foo', 'Bar']]), NO_LIMIT), [
    ['x-foo', 'Bar'],
  ]);
});

test('encoder: refuses what a peer would treat as malformed', (t) => {
  const bad: Header[][] = [
    [
      ['a', 'b'],
      [':path', '/'],
    ],
    [['x', 'a\r\nset-cookie: evil']],
    [['x', 'nul\0']],
    [['bad name', 'v']],
    [['', 'v']],
    [['x', 'snow\u2603man']],
  ];
  for (const headers of bad) {
    const err = t.throws(() => encodeFieldSection(headers), { instanceOf: WebSocketError });
    t.is(err?.code, 'WS_ERR_INVALID_ARGUMENT');
  }
});

test('RFC 9204 Appendix B.1: literal field line with name reference', (t) => {
  t.deepEqual(decodeFieldSection(hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'), NO_LIMIT), [
    [':path', '/index.html'],
  ]);
});

test('decoder: static indexed lines and a non-zero Delta Base with Sign 0', (t) => {
  t.deepEqual(decodeFieldSection(hex('0000 d1 c1 d9'), NO_LIMIT), [
    [':method', 'GET'],
    [':path', '/'],
    [':status', '200'],
  ]);
  // RFC 9204 §4.5.1.2: "A field section that was encoded without references to the
  // dynamic table can use any value for the Base".
  t.deepEqual(decodeFieldSection(hex('00 7f ff ff 03 d1'), NO_LIMIT), [[':method', 'GET']]);
});

test('decoder: the N bit is reported as a third element', (t) => {
  t.deepEqual(decodeFieldSection(hex('0000 7f02 03 474554'), NO_LIMIT), [[':method', 'GET', true]]);
  t.deepEqual(decodeFieldSection(hex('0000 33 637573 01 76'), NO_LIMIT), [['cus', 'v', true]]);
  t.deepEqual(decodeFieldSection(hex('0000 23 637573 01 76'), NO_LIMIT), [['cus', 'v']]);
});

test('decoder: Chromium-like extended CONNECT request (static refs + Huffman literals)', (t) => {
  const ua =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
  const bytes = concat(
    hex('0000'),
    hex('cf'), // :method CONNECT, static 15
    hex('d7'), // :scheme https, static 23
    hex('50'), // :authority, name ref static 0
    huffmanString('localhost:8443'),
    hex('51'), // :path, name ref static 1
    huffmanString('/chat?room=1'),
    huffmanString(':protocol', 4, 0x20), // literal name
    huffmanString('websocket'),
    huffmanString('sec-websocket-version', 4, 0x20),
    hex('02 3133'), // raw '13'
    hex('5f4b'), // origin, name ref static 90 = 15 + 75
    huffmanString('https://localhost:8443'),
    huffmanString('sec-websocket-extensions', 4, 0x20),
    huffmanString('permessage-deflate; client_max_window_bits'),
    hex('5f50'), // user-agent, name ref static 95
    huffmanString(ua),
    hex('df'), // accept-encoding: gzip, deflate, br, static 31
    hex('5f39'), // accept-language, name ref static 72
    huffmanString('en-US,en;q=0.9'),
    hex('e7'), // cache-control: no-cache, static 39
    huffmanString('pragma', 4, 0x20),
    huffmanString('no-cache'),
  );
  const expected: Header[] = [
    [':method', 'CONNECT'],
    [':scheme', 'https'],
    [':authority', 'localhost:8443'],
    [':path', '/chat?room=1'],
    [':protocol', 'websocket'],
    ['sec-websocket-version', '13'],
    ['origin', 'https://localhost:8443'],
    ['sec-websocket-extensions', 'permessage-deflate; client_max_window_bits'],
    ['user-agent', ua],
    ['accept-encoding', 'gzip, deflate, br'],
    ['accept-language', 'en-US,en;q=0.9'],
    ['cache-control', 'no-cache'],
    ['pragma', 'no-cache'],
  ];
  t.deepEqual(decodeFieldSection(bytes, NO_LIMIT), expected);
  // Our encoder makes the same choices here, except for '13', which Huffman does not shorten.
  t.is(toHex(encodeFieldSection(expected)), toHex(bytes));
});

test('decoder: Required Insert Count other than 0 is QPACK_DECOMPRESSION_FAILED', (t) => {
  throwsQpack(t, () => decodeFieldSection(hex('0100 d1'), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
  throwsQpack(t, () => decodeFieldSection(hex('ff01 00 d1'), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
});

test('decoder: Sign bit 1 (negative Base) is QPACK_DECOMPRESSION_FAILED', (t) => {
  throwsQpack(t, () => decodeFieldSection(hex('0080 d1'), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
});

test('decoder: any dynamic table reference is QPACK_DECOMPRESSION_FAILED', (t) => {
  for (const s of [
    '0000 80', // indexed, T=0
    '0000 40 00', // literal with name reference, T=0
    '0000 60 00', // same with N=1
    '0000 10', // indexed with post-base index
    '0000 00 00', // literal with post-base name reference
    '0000 08 00', // same with N=1
  ]) {
    throwsQpack(t, () => decodeFieldSection(hex(s), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
  }
});

test('decoder: static index out of range is QPACK_DECOMPRESSION_FAILED', (t) => {
  t.deepEqual(decodeFieldSection(hex('0000 ff23'), NO_LIMIT), [['x-frame-options', 'sameorigin']]);
  throwsQpack(t, () => decodeFieldSection(hex('0000 ff24'), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
  throwsQpack(
    t,
    () => decodeFieldSection(hex('0000 5f54 00'), NO_LIMIT),
    QPACK_DECOMPRESSION_FAILED,
  );
});

test('decoder: truncated input is QPACK_DECOMPRESSION_FAILED', (t) => {
  for (const s of [
    '',
    '00',
    '00 7f',
    '0000 ff',
    '0000 51',
    '0000 5f',
    '0000 51 05 6162',
    '0000 23 6162',
    '0000 23 616263',
  ]) {
    throwsQpack(t, () => decodeFieldSection(hex(s), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
  }
});

test('decoder: integers over 62 bits and bad Huffman are QPACK_DECOMPRESSION_FAILED', (t) => {
  const long = `0000 ff ${'80'.repeat(12)} 01`;
  throwsQpack(t, () => decodeFieldSection(hex(long), NO_LIMIT), QPACK_DECOMPRESSION_FAILED);
  throwsQpack(
    t,
    () => decodeFieldSection(hex('0000 51 81 ff'), NO_LIMIT),
    QPACK_DECOMPRESSION_FAILED,
  );
  throwsQpack(
    t,
    () => decodeFieldSection(hex('0000 51 84 ffffffff'), NO_LIMIT),
    QPACK_DECOMPRESSION_FAILED,
  );
});

test('decoder: RFC 9114 §4.2.2 size limit (name + value + 32 per field)', (t) => {
  const bytes = encodeFieldSection([
    [':path', '/'],
    ['x-a', 'bc'],
  ]);
  const size = 5 + 1 + 32 + 3 + 2 + 32;
  t.is(
    fieldSectionSize([
      [':path', '/'],
      ['x-a', 'bc'],
    ]),
    size,
  );
  t.is(decodeFieldSection(bytes, size).length, 2);
  const err = throwsH3(t, () => decodeFieldSection(bytes, size - 1), H3_EXCESSIVE_LOAD);
  t.is(err?.scope, 'stream');
  t.false(err instanceof QpackError);
});

test('decoder: malformed field sections are H3_MESSAGE_ERROR stream errors', (t) => {
  const cases: [string, RegExp][] = [
    ['0000 23 416263 00', /uppercase/], // name 'Abc'
    ['0000 23 612062 00', /invalid character/], // name 'a b'
    ['0000 20 00', /empty field name/],
    ['0000 21 61 01 62 c1', /after a regular field/], // a: b, then :path /
    ['0000 51 03 610d62', /CR, LF or NUL/],
    ['0000 51 03 610a62', /CR, LF or NUL/],
    ['0000 51 03 610062', /CR, LF or NUL/],
  ];
  for (const [s, message] of cases) {
    const err = throwsH3(t, () => decodeFieldSection(hex(s), NO_LIMIT), H3_MESSAGE_ERROR, message);
    t.is(err?.scope, 'stream');
  }
});

test('decoder: values are latin1, one char per octet', (t) => {
  const bytes = hex('0000 5f1d 04 e9ff8061'); // content-type: name ref static 44 = 15 + 29
  t.deepEqual(decodeFieldSection(bytes, NO_LIMIT), [['content-type', '\u00e9\u00ff\u0080a']]);
  t.is(
    toHex(encodeFieldSection([['content-type', '\u00e9\u00ff\u0080a']], { huffman: false })),
    toHex(bytes),
  );
});

// --- property tests -------------------------------------------------------------

const tchar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz");
const tokenName = fc.string({ unit: tchar, minLength: 1, maxLength: 20 });
const staticName = fc.constantFrom(...STATIC_TABLE.map(([n]) => n));
const latin1Value = fc.string({
  unit: fc
    .integer({ min: 0, max: 255 })
    .filter((c) => c !== 0 && c !== 10 && c !== 13)
    .map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
const staticValue = fc.constantFrom(...STATIC_TABLE.map(([, v]) => v));
const field = fc.tuple(
  fc.oneof(
    tokenName,
    staticName,
    tokenName.map((n) => `:${n}`),
  ),
  fc.oneof(latin1Value, staticValue),
  fc.boolean(),
);
const headerList = fc.array(field, { maxLength: 20 }).map((fields) => {
  const list: Header[] = fields.map(([n, v, never]) => (never ? [n, v, true] : [n, v]));
  // Pseudo-headers first, as RFC 9114 §4.3 requires.
  return [...list.filter(([n]) => n.startsWith(':')), ...list.filter(([n]) => !n.startsWith(':'))];
});

test('property: decode(encode(headers)) returns the headers, with or without Huffman', (t) => {
  fc.assert(
    fc.property(headerList, fc.boolean(), (headers, huffman) => {
      const bytes = encodeFieldSection(headers, { huffman });
      t.deepEqual(decodeFieldSection(bytes, fieldSectionSize(headers)), headers);
      return true;
    }),
  );
});

test('property: Huffman never makes a field section longer', (t) => {
  fc.assert(
    fc.property(
      headerList,
      (headers) =>
        encodeFieldSection(headers).length <=
        encodeFieldSection(headers, { huffman: false }).length,
    ),
  );
  t.pass();
});

test('property (fuzz): arbitrary bytes decode or throw an H3Error, nothing else', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (body, prefix) => {
      const bytes = prefix ? concat(hex('0000'), body) : body;
      try {
        decodeFieldSection(bytes, 4096);
      } catch (err) {
        return err instanceof H3Error;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

// --- encoder and decoder streams ------------------------------------------------------

test('encoder stream: Set Dynamic Table Capacity 0 is accepted', (t) => {
  t.notThrows(() => parseEncoderStream(hex('')));
  t.notThrows(() => parseEncoderStream(hex('20')));
  t.notThrows(() => parseEncoderStream(hex('2020')));
});

test('encoder stream: any capacity above 0, insert or duplicate is QPACK_ENCODER_STREAM_ERROR', (t) => {
  for (const s of [
    '21', // capacity 1
    '3fe11f', // capacity 4096
    '3f', // capacity >= 31, before its continuation bytes arrive
    '20 21',
    'c0 03 616263', // insert with static name reference
    '80 00', // insert with dynamic name reference
    '43 616263 00', // insert with literal name
    '00', // duplicate
  ]) {
    throwsQpack(t, () => parseEncoderStream(hex(s)), QPACK_ENCODER_STREAM_ERROR);
  }
});

test('decoder stream: Stream Cancellation is accepted across chunk boundaries', (t) => {
  const p = new DecoderStreamParser();
  t.notThrows(() => p.push(hex('40 44')));
  // Stream ID 4 + 63 = 67 split after its first byte, then 2^20.
  t.notThrows(() => p.push(hex('7f')));
  t.notThrows(() => p.push(hex('04')));
  t.notThrows(() => p.push(hex('7f c1 ff')));
  t.notThrows(() => p.push(hex('3f 40')));
});

test('decoder stream: Section Acknowledgment and Insert Count Increment are QPACK_DECODER_STREAM_ERROR', (t) => {
  for (const s of ['80', '84', '00', '01', '3f 01', '40 80']) {
    throwsQpack(t, () => new DecoderStreamParser().push(hex(s)), QPACK_DECODER_STREAM_ERROR);
  }
  // A stream ID whose continuation never ends.
  throwsQpack(
    t,
    () => new DecoderStreamParser().push(hex(`7f ${'80'.repeat(10)}`)),
    QPACK_DECODER_STREAM_ERROR,
  );
});
