import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { H3Error } from '../../src/h3/errors.js';
import {
  ControlStreamValidator,
  DEFAULT_MAX_FRAME_SIZE,
  encodeDataHeader,
  encodeFrame,
  encodeFrameHeader,
  encodeGoaway,
  encodeHeadersFrame,
  encodeSettings,
  FRAME_CANCEL_PUSH,
  FRAME_DATA,
  FRAME_GOAWAY,
  FRAME_HEADERS,
  FRAME_MAX_PUSH_ID,
  FRAME_PUSH_PROMISE,
  FRAME_SETTINGS,
  FrameDecoder,
  type FrameEvent,
  H3_CLOSED_CRITICAL_STREAM,
  H3_EXCESSIVE_LOAD,
  H3_FRAME_ERROR,
  H3_FRAME_UNEXPECTED,
  H3_ID_ERROR,
  H3_MESSAGE_ERROR,
  H3_MISSING_SETTINGS,
  H3_NO_ERROR,
  H3_REQUEST_INCOMPLETE,
  H3_SETTINGS_ERROR,
  H3_VERSION_FALLBACK,
  isReserved,
  parseSettings,
  QPACK_DECODER_STREAM_ERROR,
  QPACK_DECOMPRESSION_FAILED,
  QPACK_ENCODER_STREAM_ERROR,
  RequestStreamValidator,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_H3_DATAGRAM,
  SETTINGS_MAX_FIELD_SECTION_SIZE,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
  STREAM_CONTROL,
  STREAM_PUSH,
  STREAM_QPACK_DECODER,
  STREAM_QPACK_ENCODER,
} from '../../src/h3/frames.js';
import { encodeVarint } from '../../src/h3/varint.js';
import { WebSocketError } from '../../src/ws/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString('hex');
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

function throwsH3(t: ExecutionContext, fn: () => unknown, h3Code: number, message?: RegExp) {
  const err = t.throws(fn, message ? { instanceOf: H3Error, message } : { instanceOf: H3Error });
  t.is(err?.h3Code, h3Code, err?.message);
  return err;
}

/** Events with DATA pieces joined per frame, bytes as hex, settings as entries. */
function normalize(events: FrameEvent[]): unknown[] {
  const out: unknown[] = [];
  let data: string | undefined;
  for (const e of events) {
    if (e.type === 'data') {
      data = (data ?? '') + toHex(e.chunk);
      if (e.last) {
        out.push({ type: 'data', payload: data });
        data = undefined;
      }
    } else if (e.type === 'headers') {
      out.push({ type: 'headers', fieldSection: toHex(e.fieldSection) });
    } else if (e.type === 'pushPromise') {
      out.push({ type: 'pushPromise', pushId: e.pushId, fieldSection: toHex(e.fieldSection) });
    } else if (e.type === 'settings') {
      out.push({ type: 'settings', settings: [...e.settings] });
    } else {
      out.push(e);
    }
  }
  if (data !== undefined) out.push({ type: 'data (partial)', payload: data });
  return out;
}

function decodeAll(chunks: Uint8Array[], decoder = new FrameDecoder()): FrameEvent[] {
  const events: FrameEvent[] = [];
  for (const c of chunks) events.push(...decoder.push(c));
  decoder.end();
  return events;
}

test('constants: RFC 9114 and RFC 9204 code points', (t) => {
  t.deepEqual(
    [
      FRAME_DATA,
      FRAME_HEADERS,
      FRAME_CANCEL_PUSH,
      FRAME_SETTINGS,
      FRAME_PUSH_PROMISE,
      FRAME_GOAWAY,
    ],
    [0x0, 0x1, 0x3, 0x4, 0x5, 0x7],
  );
  t.is(FRAME_MAX_PUSH_ID, 0xd);
  t.deepEqual(
    [STREAM_CONTROL, STREAM_PUSH, STREAM_QPACK_ENCODER, STREAM_QPACK_DECODER],
    [0, 1, 2, 3],
  );
  t.deepEqual(
    [
      SETTINGS_QPACK_MAX_TABLE_CAPACITY,
      SETTINGS_MAX_FIELD_SECTION_SIZE,
      SETTINGS_QPACK_BLOCKED_STREAMS,
      SETTINGS_ENABLE_CONNECT_PROTOCOL,
      SETTINGS_H3_DATAGRAM,
    ],
    [0x01, 0x06, 0x07, 0x08, 0x33],
  );
  t.deepEqual(
    [H3_NO_ERROR, H3_SETTINGS_ERROR, H3_MISSING_SETTINGS, H3_VERSION_FALLBACK],
    [0x100, 0x109, 0x10a, 0x110],
  );
  t.deepEqual(
    [QPACK_DECOMPRESSION_FAILED, QPACK_ENCODER_STREAM_ERROR, QPACK_DECODER_STREAM_ERROR],
    [0x200, 0x201, 0x202],
  );
});

test('isReserved: 0x1f * N + 0x21', (t) => {
  for (const v of [0x21, 0x40, 0x5f, 0x1f * 1000 + 0x21]) t.true(isReserved(v), String(v));
  for (const v of [0, 0x20, 0x22, 0x3f, 0x41]) t.false(isReserved(v), String(v));
  t.true(isReserved(0x3ffffffffffffffen)); // the largest, RFC 9114 §11.2.1
  t.false(isReserved(0x3fffffffffffffffn));
});

test('encoders: byte vectors', (t) => {
  t.is(toHex(encodeFrameHeader(FRAME_DATA, 5)), '0005');
  t.is(toHex(encodeDataHeader(1000)), '0043e8');
  t.is(toHex(encodeDataHeader(2 ** 30)), '00c000000040000000');
  t.is(toHex(encodeFrameHeader(0x21n, 0)), '2100');
  t.is(toHex(encodeHeadersFrame(hex('0000d1'))), '01030000d1');
  t.is(toHex(encodeFrame(0x40, hex('aabb'))), '404002aabb');
  t.is(toHex(encodeGoaway(0)), '070100');
  t.is(toHex(encodeGoaway(4)), '070104');
  t.is(toHex(encodeGoaway(16384)), '070480004000');
  // RFC 9114 §5.2: the largest values for a graceful shutdown.
  t.is(toHex(encodeGoaway((1n << 62n) - 4n)), '0708fffffffffffffffc');
  t.is(toHex(encodeGoaway((1n << 62n) - 1n)), '0708ffffffffffffffff');
  t.is(
    toHex(
      encodeSettings([
        [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
        [SETTINGS_MAX_FIELD_SECTION_SIZE, 16383],
        [SETTINGS_ENABLE_CONNECT_PROTOCOL, 1],
        [SETTINGS_H3_DATAGRAM, 1],
      ]),
    ),
    '04090100067fff08013301',
  );
  t.is(toHex(encodeSettings(new Map())), '0400');
  t.is(toHex(encodeSettings(new Map([[0x21, 7]]))), '04022107');
});

test('encodeSettings refuses duplicates and HTTP/2-only identifiers', (t) => {
  for (const bad of [
    [
      [6, 1],
      [6, 2],
    ],
    [[2, 0]],
    [[5n, 0]],
  ] as [number | bigint, number][][]) {
    const err = t.throws(() => encodeSettings(bad), { instanceOf: WebSocketError });
    t.is(err?.code, 'WS_ERR_INVALID_ARGUMENT');
  }
});

test('decoder: a control stream with SETTINGS, grease and GOAWAY', (t) => {
  const bytes = concat(
    hex('0409 0100 067fff 0801 3301'),
    hex('21 03 616263'), // reserved frame type 0x21
    encodeGoaway(8),
    hex('0d 01 05'), // MAX_PUSH_ID 5
    hex('03 01 02'), // CANCEL_PUSH 2
  );
  t.deepEqual(normalize(decodeAll([bytes])), [
    {
      type: 'settings',
      settings: [
        [1, 0],
        [6, 16383],
        [8, 1],
        [0x33, 1],
      ],
    },
    { type: 'unknown', frameType: 0x21, length: 3 },
    { type: 'goaway', id: 8n },
    { type: 'maxPushId', pushId: 5n },
    { type: 'cancelPush', pushId: 2n },
  ]);
});

test('decoder: a request stream with HEADERS, DATA, PUSH_PROMISE and trailers', (t) => {
  const bytes = concat(
    encodeHeadersFrame(hex('0000d1')),
    encodeDataHeader(3),
    hex('616263'),
    encodeDataHeader(0),
    hex('05 04 07 0000c1'), // PUSH_PROMISE push ID 7
    encodeHeadersFrame(hex('0000')),
  );
  t.deepEqual(normalize(decodeAll([bytes])), [
    { type: 'headers', fieldSection: '0000d1' },
    { type: 'data', payload: '616263' },
    { type: 'data', payload: '' },
    { type: 'pushPromise', pushId: 7n, fieldSection: '0000c1' },
    { type: 'headers', fieldSection: '0000' },
  ]);
});

test('decoder: DATA streams as it arrives, as views of the input, without buffering', (t) => {
  const decoder = new FrameDecoder({ maxFrameSize: 16 });
  const header = encodeDataHeader(1_000_000);
  t.deepEqual(decoder.push(header), []);
  const piece = new Uint8Array(1000).fill(7);
  const events = decoder.push(piece);
  t.is(events.length, 1);
  const [e] = events;
  if (e?.type !== 'data') return t.fail();
  t.is(e.chunk.length, 1000);
  t.is(e.chunk.buffer, piece.buffer);
  t.false(e.last);
  // Header and payload start in one chunk.
  const d2 = new FrameDecoder();
  const both = concat(encodeDataHeader(10), hex('0102'));
  t.deepEqual(normalize(d2.push(both)), [{ type: 'data (partial)', payload: '0102' }]);
  t.false(d2.atBoundary);
  throwsH3(t, () => d2.end(), H3_FRAME_ERROR);
});

test('decoder: reserved and unknown frame types are skipped, however large', (t) => {
  const huge = 0x1fn * (1n << 57n) + 0x21n; // reserved, 8-byte type above 2^53
  const decoder = new FrameDecoder({ maxFrameSize: 8 });
  const events = decoder.push(
    concat(
      encodeFrameHeader(0x21, 2),
      hex('ffff'),
      encodeFrameHeader(huge, 3),
      hex('000000'),
      encodeFrameHeader(0x0a, 0), // unassigned
      encodeFrameHeader(0x1f * 7 + 0x21, 100_000), // skipped without buffering
      new Uint8Array(99_999),
    ),
  );
  t.deepEqual(normalize(events), [
    { type: 'unknown', frameType: 0x21, length: 2 },
    { type: 'unknown', frameType: Number(huge), length: 3 },
    { type: 'unknown', frameType: 0x0a, length: 0 },
    { type: 'unknown', frameType: 0x1f * 7 + 0x21, length: 100_000 },
  ]);
  t.false(decoder.atBoundary);
  t.deepEqual(normalize(decoder.push(concat(hex('00'), encodeGoaway(0)))), [
    { type: 'goaway', id: 0n },
  ]);
  t.notThrows(() => decoder.end());
});

test('decoder: HTTP/2 frame types 0x02, 0x06, 0x08, 0x09 are H3_FRAME_UNEXPECTED', (t) => {
  for (const type of [0x02, 0x06, 0x08, 0x09]) {
    throwsH3(t, () => new FrameDecoder().push(hex(`0${type} 00`)), H3_FRAME_UNEXPECTED);
  }
});

test('decoder: GOAWAY, CANCEL_PUSH, MAX_PUSH_ID must hold exactly one varint', (t) => {
  for (const type of ['07', '03', '0d']) {
    t.notThrows(() => new FrameDecoder().push(hex(`${type} 08 c000000000000001`)));
    for (const body of [
      '00', // empty
      '02 0000', // a byte after the varint
      '01 40', // the varint's second byte is missing
      `09 ${'00'.repeat(9)}`, // longer than any varint
    ]) {
      throwsH3(t, () => new FrameDecoder().push(hex(`${type} ${body}`)), H3_FRAME_ERROR);
    }
  }
});

test('decoder: buffered frames above maxFrameSize are refused from the header', (t) => {
  for (const type of [FRAME_HEADERS, FRAME_SETTINGS, FRAME_PUSH_PROMISE]) {
    const d = new FrameDecoder({ maxFrameSize: 100 });
    t.is(d.push(encodeFrameHeader(type, 100)).length, 0);
    throwsH3(
      t,
      () => new FrameDecoder({ maxFrameSize: 100 }).push(encodeFrameHeader(type, 101)),
      H3_EXCESSIVE_LOAD,
    );
  }
  t.is(DEFAULT_MAX_FRAME_SIZE, 65536);
  throwsH3(
    t,
    () => new FrameDecoder().push(encodeFrameHeader(FRAME_HEADERS, 65537)),
    H3_EXCESSIVE_LOAD,
  );
});

test('decoder: a frame length above 2^53-1 is H3_EXCESSIVE_LOAD', (t) => {
  throwsH3(t, () => new FrameDecoder().push(hex('00 ffffffffffffffff')), H3_EXCESSIVE_LOAD);
});

test('decoder: a stream that ends inside a frame is H3_FRAME_ERROR (RFC 9114 §7.1)', (t) => {
  for (const partial of ['04', '04 02', '04 02 01', '00 40', '01 03 0000', '21 05 00']) {
    const d = new FrameDecoder();
    d.push(hex(partial));
    throwsH3(t, () => d.end(), H3_FRAME_ERROR);
  }
  const d = new FrameDecoder();
  d.push(hex('0402 0100'));
  t.notThrows(() => d.end());
});

test('decoder: after an error every call throws it again', (t) => {
  const d = new FrameDecoder();
  const first = throwsH3(t, () => d.push(hex('0200')), H3_FRAME_UNEXPECTED);
  t.is(
    t.throws(() => d.push(hex('0000'))),
    first,
  );
  t.is(
    t.throws(() => d.end()),
    first,
  );
});

test('SETTINGS: duplicates are H3_SETTINGS_ERROR', (t) => {
  throwsH3(t, () => parseSettings(hex('0601 0602')), H3_SETTINGS_ERROR, /duplicate/);
  // Also for reserved identifiers, and for an 8-byte encoding of the same identifier.
  throwsH3(t, () => parseSettings(hex('2100 2101')), H3_SETTINGS_ERROR, /duplicate/);
  throwsH3(t, () => parseSettings(hex('0601 c000000000000006 02')), H3_SETTINGS_ERROR);
});

test('SETTINGS: HTTP/2-only identifiers 0x02-0x05 are H3_SETTINGS_ERROR', (t) => {
  for (const id of ['02', '03', '04', '05', '4002']) {
    throwsH3(t, () => parseSettings(hex(`${id} 00`)), H3_SETTINGS_ERROR, /HTTP\/2/);
  }
  t.deepEqual(
    [...parseSettings(hex('0000 0100 0700'))],
    [
      [0, 0],
      [1, 0],
      [7, 0],
    ],
  );
});

test('SETTINGS: ENABLE_CONNECT_PROTOCOL and H3_DATAGRAM must be 0 or 1', (t) => {
  t.deepEqual(
    [...parseSettings(hex('0800 3301'))],
    [
      [8, 0],
      [0x33, 1],
    ],
  );
  throwsH3(t, () => parseSettings(hex('0802')), H3_SETTINGS_ERROR, /0 or 1/);
  throwsH3(t, () => parseSettings(hex('08 ffffffffffffffff')), H3_SETTINGS_ERROR, /0 or 1/);
  throwsH3(t, () => parseSettings(hex('33 02')), H3_SETTINGS_ERROR, /0 or 1/);
});

test('SETTINGS: a truncated setting is H3_FRAME_ERROR', (t) => {
  throwsH3(t, () => parseSettings(hex('06')), H3_FRAME_ERROR);
  throwsH3(t, () => parseSettings(hex('0601 40')), H3_FRAME_ERROR);
  throwsH3(t, () => new FrameDecoder().push(hex('0403 0601 06')), H3_FRAME_ERROR);
});

test('SETTINGS: 62-bit values are clamped, 62-bit identifiers dropped', (t) => {
  const settings = parseSettings(
    concat(
      hex('06'),
      encodeVarint((1n << 62n) - 1n),
      encodeVarint(0x1fn * (1n << 57n) + 0x21n),
      hex('07'),
    ),
  );
  t.deepEqual([...settings], [[6, Number.MAX_SAFE_INTEGER]]);
});

// --- chunking --------------------------------------------------------------------

const reservedType = fc
  .bigInt({ min: 0n, max: ((1n << 62n) - 1n - 0x21n) / 0x1fn })
  .map((n) => 0x1fn * n + 0x21n);
const unknownType = fc.constantFrom(0x0a, 0x0b, 0x0c, 0x0e, 0x10, 0x20, 0x22, 0x3f, 0x4000);
const payload = fc.uint8Array({ maxLength: 300 });

type Frame = { bytes: Uint8Array; expected: unknown };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  payload.map((p) => ({
    bytes: concat(encodeDataHeader(p.length), p),
    expected: { type: 'data', payload: toHex(p) },
  })),
  payload.map((p) => ({
    bytes: encodeHeadersFrame(p),
    expected: { type: 'headers', fieldSection: toHex(p) },
  })),
  fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }).map((id) => ({
    bytes: encodeGoaway(id),
    expected: { type: 'goaway', id },
  })),
  fc
    .uniqueArray(fc.integer({ min: 6, max: 100_000 }), { maxLength: 8 })
    .chain((ids) =>
      fc.tuple(
        fc.constant(ids),
        fc.array(fc.maxSafeNat(), { minLength: ids.length, maxLength: ids.length }),
      ),
    )
    .map(([ids, values]) => {
      const entries = ids.map((id, i): [number, number] => [
        id,
        id === 8 || id === 0x33 ? 1 : values[i]!,
      ]);
      return { bytes: encodeSettings(entries), expected: { type: 'settings', settings: entries } };
    }),
  fc.tuple(fc.oneof(reservedType, unknownType), payload).map(([type, p]) => ({
    bytes: concat(encodeFrameHeader(type, p.length), p),
    expected: { type: 'unknown', frameType: Number(type), length: p.length },
  })),
);

/** Splits `bytes` at the given points (any values; taken modulo the length). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

test('property: any chunking gives the same frames', (t) => {
  fc.assert(
    fc.property(
      fc.array(frame, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (frames, cuts) => {
        const bytes = concat(...frames.map((f) => f.bytes));
        const expected = frames.map((f) => f.expected);
        t.deepEqual(normalize(decodeAll([bytes])), expected);
        t.deepEqual(normalize(decodeAll(split(bytes, cuts))), expected);
        return true;
      },
    ),
  );
});

test('property: byte-at-a-time decoding gives the same frames', (t) => {
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 6 }), (frames) => {
      const bytes = concat(...frames.map((f) => f.bytes));
      const single = Array.from(bytes, (b) => Uint8Array.of(b));
      t.deepEqual(
        normalize(decodeAll(single)),
        frames.map((f) => f.expected),
      );
      return true;
    }),
    { numRuns: 50 },
  );
});

test('property (fuzz): arbitrary bytes decode or throw an H3Error, nothing else', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (bytes, cuts) => {
        const d = new FrameDecoder({
          maxFrameSize: 32,
          validator: new RequestStreamValidator('server'),
        });
        try {
          for (const c of split(bytes, cuts)) d.push(c);
          d.end();
        } catch (err) {
          return err instanceof H3Error;
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});

// --- control stream ------------------------------------------------------------------

const SETTINGS = encodeSettings([[SETTINGS_ENABLE_CONNECT_PROTOCOL, 1]]);

function control(role: 'client' | 'server') {
  const validator = new ControlStreamValidator(role);
  return { validator, decoder: new FrameDecoder({ validator }) };
}

test('control stream: SETTINGS first, then anything allowed; peer SETTINGS kept', (t) => {
  const { validator, decoder } = control('server');
  t.is(validator.settings, undefined);
  decoder.push(
    concat(SETTINGS, hex('21 00'), encodeGoaway(3), hex('0d 01 00 0d 01 04'), encodeGoaway(3)),
  );
  t.deepEqual(validator.settings, new Map([[8, 1]]));
});

test('control stream: a first frame other than SETTINGS is H3_MISSING_SETTINGS', (t) => {
  for (const first of [
    encodeGoaway(0),
    hex('21 00'),
    hex('00 00'),
    encodeHeadersFrame(hex('0000')),
  ]) {
    throwsH3(t, () => control('server').decoder.push(first), H3_MISSING_SETTINGS);
  }
});

test('control stream: a second SETTINGS is H3_FRAME_UNEXPECTED', (t) => {
  throwsH3(
    t,
    () => control('client').decoder.push(concat(SETTINGS, SETTINGS)),
    H3_FRAME_UNEXPECTED,
    /second SETTINGS/,
  );
});

test('control stream: DATA, HEADERS, PUSH_PROMISE are H3_FRAME_UNEXPECTED, from the header on', (t) => {
  for (const type of [FRAME_DATA, FRAME_HEADERS, FRAME_PUSH_PROMISE]) {
    const { decoder } = control('server');
    decoder.push(SETTINGS);
    throwsH3(t, () => decoder.push(encodeFrameHeader(type, 1_000_000)), H3_FRAME_UNEXPECTED);
  }
});

test('control stream: MAX_PUSH_ID to a client is H3_FRAME_UNEXPECTED; decreasing is H3_ID_ERROR', (t) => {
  throwsH3(
    t,
    () => control('client').decoder.push(concat(SETTINGS, hex('0d 01 04'))),
    H3_FRAME_UNEXPECTED,
  );
  throwsH3(
    t,
    () => control('server').decoder.push(concat(SETTINGS, hex('0d 01 04 0d 01 03'))),
    H3_ID_ERROR,
  );
});

test('control stream: GOAWAY ids must not grow; to a client they name request streams', (t) => {
  throwsH3(
    t,
    () => control('server').decoder.push(concat(SETTINGS, encodeGoaway(3), encodeGoaway(4))),
    H3_ID_ERROR,
  );
  throwsH3(
    t,
    () => control('client').decoder.push(concat(SETTINGS, encodeGoaway(8), encodeGoaway(12))),
    H3_ID_ERROR,
  );
  throwsH3(t, () => control('client').decoder.push(concat(SETTINGS, encodeGoaway(2))), H3_ID_ERROR);
  t.notThrows(() =>
    control('client').decoder.push(
      concat(SETTINGS, encodeGoaway((1n << 62n) - 4n), encodeGoaway(8), encodeGoaway(0)),
    ),
  );
});

test('control stream: CANCEL_PUSH is H3_ID_ERROR (we never promise or allow a push)', (t) => {
  for (const role of ['client', 'server'] as const) {
    throwsH3(t, () => control(role).decoder.push(concat(SETTINGS, hex('03 01 00'))), H3_ID_ERROR);
  }
});

test('control stream: closing it is H3_CLOSED_CRITICAL_STREAM', (t) => {
  const { decoder } = control('server');
  decoder.push(SETTINGS);
  throwsH3(t, () => decoder.end(), H3_CLOSED_CRITICAL_STREAM);
});

// --- request stream ------------------------------------------------------------------

function request(role: 'client' | 'server') {
  const validator = new RequestStreamValidator(role);
  return { validator, decoder: new FrameDecoder({ validator }) };
}

const HEADERS = encodeHeadersFrame(hex('0000d1'));
const DATA = concat(encodeDataHeader(1), hex('61'));

test('request stream: HEADERS, DATA*, trailing HEADERS, with unknown frames anywhere', (t) => {
  for (const seq of [
    [HEADERS],
    [HEADERS, DATA, DATA],
    [hex('2100'), HEADERS, hex('2100'), DATA, hex('2100'), HEADERS, hex('2100')],
    [HEADERS, HEADERS],
  ]) {
    const { decoder } = request('server');
    t.notThrows(() => decodeAll([concat(...seq)], decoder));
  }
});

test('request stream: DATA before HEADERS is H3_FRAME_UNEXPECTED', (t) => {
  throwsH3(t, () => request('server').decoder.push(DATA), H3_FRAME_UNEXPECTED, /before HEADERS/);
  throwsH3(t, () => request('server').decoder.push(encodeDataHeader(0)), H3_FRAME_UNEXPECTED);
});

test('request stream: HEADERS or DATA after the trailers is H3_FRAME_UNEXPECTED', (t) => {
  throwsH3(
    t,
    () => request('server').decoder.push(concat(HEADERS, DATA, HEADERS, DATA)),
    H3_FRAME_UNEXPECTED,
  );
  throwsH3(
    t,
    () => request('client').decoder.push(concat(HEADERS, HEADERS, HEADERS)),
    H3_FRAME_UNEXPECTED,
  );
});

test('request stream: a client marks interim responses so the final HEADERS is accepted', (t) => {
  const { validator, decoder } = request('client');
  decoder.push(HEADERS); // say, 103 Early Hints
  validator.interimResponse();
  t.notThrows(() => decoder.push(concat(HEADERS, DATA, HEADERS)));
  t.throws(() => validator.interimResponse(), { instanceOf: WebSocketError });
});

test('request stream: control-stream frames are H3_FRAME_UNEXPECTED', (t) => {
  for (const bytes of [SETTINGS, encodeGoaway(0), hex('03 01 00'), hex('0d 01 00')]) {
    throwsH3(t, () => request('server').decoder.push(concat(HEADERS, bytes)), H3_FRAME_UNEXPECTED);
  }
});

test('request stream: PUSH_PROMISE is H3_FRAME_UNEXPECTED to a server, H3_ID_ERROR to a client', (t) => {
  const pp = hex('05 03 00 0000');
  throwsH3(t, () => request('server').decoder.push(concat(HEADERS, pp)), H3_FRAME_UNEXPECTED);
  throwsH3(t, () => request('client').decoder.push(concat(HEADERS, pp)), H3_ID_ERROR);
});

test('request stream: ending before HEADERS', (t) => {
  const server = request('server');
  server.decoder.push(hex('2100'));
  const e1 = throwsH3(t, () => server.decoder.end(), H3_REQUEST_INCOMPLETE);
  t.is(e1?.scope, 'stream');
  const e2 = throwsH3(t, () => request('client').decoder.end(), H3_MESSAGE_ERROR);
  t.is(e2?.scope, 'stream');
  const { validator, decoder } = request('client');
  decoder.push(HEADERS);
  validator.interimResponse();
  throwsH3(t, () => decoder.end(), H3_MESSAGE_ERROR);
});
