// Tests of src/ws/frame.ts: the RFC 6455 §5.7 vectors both ways, every rejection
// of the decoder (error code and close code), the limits checked from the header
// alone, and properties: encode→decode round trip, any chunking of a stream gives
// the same frames, unmask agrees with a byte-by-byte XOR at any alignment.

import assert from 'node:assert/strict';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { ErrorCode } from '../../src/ws/errors.js';
import { WebSocketError } from '../../src/ws/errors.js';
import {
  type DecoderOptions,
  encodeFrame,
  FrameDecoder,
  type FrameHeader,
  type MaskSource,
  Opcode,
  type Role,
  unmask,
} from '../../src/ws/frame.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const toHex = (chunks: readonly Uint8Array[]): string => Buffer.concat(chunks).toString('hex');
const fixedMask =
  (key: ArrayLike<number>): MaskSource =>
  (out) => {
    out.set(Array.from(key));
  };
/** RFC 6455 §5.7 masking key. */
const RFC_MASK = [0x37, 0xfa, 0x21, 0x3d];

interface Decoded {
  header: FrameHeader;
  payload: Buffer;
  /** Sizes of the pieces the payload arrived in. */
  pieces: number[];
}

/** A decoder whose sink checks the FrameSink contract and collects whole frames. */
function collector(opts: DecoderOptions): {
  decoder: FrameDecoder;
  frames: Decoded[];
  midFrame: () => boolean;
} {
  const frames: Decoded[] = [];
  let cur: { header: FrameHeader; parts: Buffer[] } | null = null;
  const decoder = new FrameDecoder(
    {
      onFrameHeader(header) {
        if (cur !== null) throw new Error('a header arrived before the previous frame ended');
        cur = { header, parts: [] };
      },
      onFramePayload(piece, last) {
        if (cur === null) throw new Error('a payload piece arrived without a header');
        // pieces are views into our chunks: copy them
        cur.parts.push(Buffer.from(piece));
        if (last) {
          frames.push({
            header: cur.header,
            payload: Buffer.concat(cur.parts),
            pieces: cur.parts.map((p) => p.length),
          });
          cur = null;
        }
      },
    },
    opts,
  );
  return { decoder, frames, midFrame: () => cur !== null };
}

function decodeAll(bytes: Uint8Array, opts: DecoderOptions, chunkSize = Infinity): Decoded[] {
  const { decoder, frames } = collector(opts);
  const copy = Buffer.from(bytes); // the decoder unmasks in place
  if (chunkSize === Infinity) decoder.push(copy);
  else
    for (let i = 0; i < copy.length; i += chunkSize) decoder.push(copy.subarray(i, i + chunkSize));
  return frames;
}

const headerOf = (d: Decoded): FrameHeader => d.header;

function assertWsError(
  t: ExecutionContext,
  fn: () => void,
  code: ErrorCode,
  closeCode: number,
  message?: string,
): WebSocketError | undefined {
  const err = t.throws<WebSocketError>(fn, { instanceOf: WebSocketError }, message);
  t.is(err?.code, code, message);
  t.is(err?.closeCode, closeCode, message);
  return err;
}

// ── RFC 6455 §5.7 examples ──────────────────────────────────────────────────

test('§5.7 single-frame unmasked text "Hello": decode and encode', (t) => {
  const wire = '810548656c6c6f';
  const [f, ...rest] = decodeAll(hex(wire), { role: 'client' });
  t.is(rest.length, 0);
  t.deepEqual(headerOf(f!), { fin: true, rsv: 0, opcode: Opcode.Text, masked: false, length: 5 });
  t.is(f!.payload.toString(), 'Hello');
  t.is(toHex(encodeFrame(Opcode.Text, Buffer.from('Hello'))), wire);
});

test('§5.7 single-frame masked text "Hello" (mask 37 fa 21 3d): decode and encode', (t) => {
  const wire = '818537fa213d7f9f4d5158';
  const [f] = decodeAll(hex(wire), { role: 'server' });
  t.deepEqual(headerOf(f!), { fin: true, rsv: 0, opcode: Opcode.Text, masked: true, length: 5 });
  t.is(f!.payload.toString(), 'Hello');
  const payload = Buffer.from('Hello');
  t.is(toHex(encodeFrame(Opcode.Text, payload, { mask: fixedMask(RFC_MASK) })), wire);
  t.is(payload.toString(), 'Hello', 'masking copies: the caller payload is untouched');
});

test('§5.7 fragmented unmasked text "Hel" + "lo": decode and encode', (t) => {
  const first = '010348656c';
  const second = '80026c6f';
  const frames = decodeAll(hex(first + second), { role: 'client' });
  t.deepEqual(frames.map(headerOf), [
    { fin: false, rsv: 0, opcode: Opcode.Text, masked: false, length: 3 },
    { fin: true, rsv: 0, opcode: Opcode.Continuation, masked: false, length: 2 },
  ]);
  t.deepEqual(
    frames.map((f) => f.payload.toString()),
    ['Hel', 'lo'],
  );
  t.is(toHex(encodeFrame(Opcode.Text, Buffer.from('Hel'), { fin: false })), first);
  t.is(toHex(encodeFrame(Opcode.Continuation, Buffer.from('lo'))), second);
});

test('§5.7 unmasked ping "Hello" and masked pong "Hello": decode and encode', (t) => {
  const ping = '890548656c6c6f';
  const pong = '8a8537fa213d7f9f4d5158';
  const [p] = decodeAll(hex(ping), { role: 'client' });
  t.deepEqual(headerOf(p!), { fin: true, rsv: 0, opcode: Opcode.Ping, masked: false, length: 5 });
  t.is(p!.payload.toString(), 'Hello');
  const [q] = decodeAll(hex(pong), { role: 'server' });
  t.deepEqual(headerOf(q!), { fin: true, rsv: 0, opcode: Opcode.Pong, masked: true, length: 5 });
  t.is(q!.payload.toString(), 'Hello');
  t.is(toHex(encodeFrame(Opcode.Ping, Buffer.from('Hello'))), ping);
  t.is(toHex(encodeFrame(Opcode.Pong, Buffer.from('Hello'), { mask: fixedMask(RFC_MASK) })), pong);
});

test('§5.7 256 bytes binary with a 16-bit length (82 7E 0100): decode and encode', (t) => {
  const body = Buffer.alloc(256, 0).map((_, i) => i);
  const wire = Buffer.concat([hex('827e0100'), body]);
  const [f] = decodeAll(wire, { role: 'client' });
  t.deepEqual(headerOf(f!), {
    fin: true,
    rsv: 0,
    opcode: Opcode.Binary,
    masked: false,
    length: 256,
  });
  t.true(f!.payload.equals(body));
  const out = encodeFrame(Opcode.Binary, body);
  t.true(Buffer.concat(out).equals(wire));
});

test('§5.7 64 KiB binary with a 64-bit length (82 7F 0000000000010000): decode and encode', (t) => {
  const body = Buffer.alloc(65536).map((_, i) => (i * 7) & 0xff);
  const wire = Buffer.concat([hex('827f0000000000010000'), body]);
  const [f] = decodeAll(wire, { role: 'client' });
  t.deepEqual(headerOf(f!), {
    fin: true,
    rsv: 0,
    opcode: Opcode.Binary,
    masked: false,
    length: 65536,
  });
  t.true(f!.payload.equals(body));
  const out = encodeFrame(Opcode.Binary, body);
  t.is(out.length, 2, 'a large unmasked payload is not copied');
  t.is(toHex([out[0]!]), '827f0000000000010000');
  t.is(out[1], body);
});

test('§5.7 vectors decode the same fed one byte at a time', (t) => {
  const frames = decodeAll(hex('010348656c 80026c6f 890548656c6c6f'), { role: 'client' }, 1);
  t.deepEqual(
    frames.map((f) => [f.header.opcode, f.payload.toString()]),
    [
      [Opcode.Text, 'Hel'],
      [Opcode.Continuation, 'lo'],
      [Opcode.Ping, 'Hello'],
    ],
  );
  const [m] = decodeAll(hex('818537fa213d7f9f4d5158'), { role: 'server' }, 1);
  t.is(m!.payload.toString(), 'Hello');
  t.deepEqual(m!.pieces, [1, 1, 1, 1, 1]);
});

// ── encoder details ─────────────────────────────────────────────────────────

test('encodeFrame picks the shortest length encoding at each boundary', (t) => {
  const cases: [number, string][] = [
    [0, '8200'],
    [125, '827d'],
    [126, '827e007e'],
    [65535, '827effff'],
    [65536, '827f0000000000010000'],
  ];
  for (const [len, header] of cases) {
    const out = Buffer.concat(encodeFrame(Opcode.Binary, Buffer.alloc(len)));
    t.is(out.length, header.length / 2 + len, `length ${len}`);
    t.is(out.subarray(0, header.length / 2).toString('hex'), header, `length ${len}`);
  }
});

test('encodeFrame sets fin and RSV bits', (t) => {
  t.is(toHex(encodeFrame(Opcode.Text, Buffer.alloc(0), { fin: false, rsv: 0x4 })), '4100');
  t.is(toHex(encodeFrame(Opcode.Binary, Buffer.alloc(0), { rsv: 0x7 })), 'f200');
  t.is(toHex(encodeFrame(Opcode.Close, Buffer.alloc(0))), '8800');
});

test('a 0-byte masked frame still carries the masking key', (t) => {
  t.is(
    toHex(encodeFrame(Opcode.Ping, Buffer.alloc(0), { mask: fixedMask(RFC_MASK) })),
    '898037fa213d',
  );
  const [f] = decodeAll(hex('898037fa213d'), { role: 'server' });
  t.is(f!.header.length, 0);
  t.deepEqual(f!.pieces, [0], 'an empty, final piece for a 0-length frame');
});

// ── rejections: every one with its error code and close code ───────────────

interface Rejection {
  name: string;
  role: Role;
  /** Hex of the whole input; the offending frame is last and only its header is given. */
  bytes: string;
  opts?: Omit<DecoderOptions, 'role'>;
  code: ErrorCode;
  closeCode: number;
}

const MASK_HEX = '37fa213d';
const rejections: Rejection[] = [];
for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
  const b0 = (0x80 | op).toString(16);
  rejections.push(
    {
      name: `reserved opcode 0x${op.toString(16)} (client)`,
      role: 'client',
      bytes: `${b0}00`,
      code: 'WS_ERR_INVALID_OPCODE',
      closeCode: 1002,
    },
    {
      name: `reserved opcode 0x${op.toString(16)} (server, masked)`,
      role: 'server',
      bytes: `${b0}80${MASK_HEX}`,
      code: 'WS_ERR_INVALID_OPCODE',
      closeCode: 1002,
    },
  );
}
rejections.push(
  {
    name: 'RSV1 on text when no extension owns it',
    role: 'client',
    bytes: 'c100',
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV2 on binary when no extension owns it',
    role: 'client',
    bytes: 'a200',
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV3 on text when no extension owns it',
    role: 'client',
    bytes: '9100',
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV2 when only RSV1 is owned',
    role: 'client',
    bytes: 'e100',
    opts: { rsvOwned: 0x4 },
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV1 on a continuation frame even when RSV1 is owned',
    role: 'client',
    bytes: '4100 c000',
    opts: { rsvOwned: 0x4 },
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'RSV1 on a ping even when RSV1 is owned',
    role: 'client',
    bytes: 'c900',
    opts: { rsvOwned: 0x4 },
    code: 'WS_ERR_UNEXPECTED_RSV',
    closeCode: 1002,
  },
  {
    name: 'unmasked text frame to a server',
    role: 'server',
    bytes: '8105',
    code: 'WS_ERR_EXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'unmasked ping to a server',
    role: 'server',
    bytes: '8900',
    code: 'WS_ERR_EXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'masked frame to a client',
    role: 'client',
    bytes: `8185${MASK_HEX}`,
    code: 'WS_ERR_UNEXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'ping with a 126-byte payload',
    role: 'client',
    bytes: '897e007e',
    code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  {
    name: 'close with a 126-byte payload (masked)',
    role: 'server',
    bytes: `88fe007e${MASK_HEX}`,
    code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  {
    name: 'pong with a 126-byte payload in a 64-bit length',
    role: 'client',
    bytes: '8a7f000000000000007e',
    code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  {
    name: 'fragmented ping (fin=0)',
    role: 'client',
    bytes: '0900',
    code: 'WS_ERR_FRAGMENTED_CONTROL',
    closeCode: 1002,
  },
  {
    name: 'fragmented close (fin=0)',
    role: 'server',
    bytes: `0880${MASK_HEX}`,
    code: 'WS_ERR_FRAGMENTED_CONTROL',
    closeCode: 1002,
  },
  {
    name: '64-bit length with the most significant bit set',
    role: 'client',
    bytes: '827f8000000000000000',
    code: 'WS_ERR_INVALID_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  {
    name: '64-bit length of all ones',
    role: 'client',
    bytes: '827fffffffffffffffff',
    code: 'WS_ERR_INVALID_PAYLOAD_LENGTH',
    closeCode: 1002,
  },
  {
    name: '64-bit length of 2^53 (valid on the wire, too big for us)',
    role: 'client',
    bytes: '827f0020000000000000',
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'continuation without an open message',
    role: 'client',
    bytes: '8000',
    code: 'WS_ERR_UNEXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: 'continuation after a complete message',
    role: 'client',
    bytes: '810161 0000',
    code: 'WS_ERR_UNEXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: 'new text frame inside an open fragmented message',
    role: 'client',
    bytes: '010161 8100',
    code: 'WS_ERR_EXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: 'new binary frame inside an open fragmented message, after a ping',
    role: 'client',
    bytes: '010161 8900 8200',
    code: 'WS_ERR_EXPECTED_CONTINUATION',
    closeCode: 1002,
  },
  {
    name: 'maxFrame exceeded, 7-bit length',
    role: 'client',
    bytes: '8265',
    opts: { maxFrame: 100 },
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'maxFrame exceeded, 16-bit length',
    role: 'client',
    bytes: '827e0100',
    opts: { maxFrame: 255 },
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'maxFrame exceeded, 64-bit length, masked',
    role: 'server',
    bytes: `82ff0000000000010000${MASK_HEX}`,
    opts: { maxFrame: 65535 },
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'maxFrame exceeded by a continuation frame',
    role: 'client',
    bytes: '010161 8065',
    opts: { maxFrame: 100 },
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'maxMessage exceeded by one frame within maxFrame',
    role: 'client',
    bytes: '8265',
    opts: { maxFrame: 1000, maxMessage: 100 },
    code: 'WS_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'maxMessage exceeded by the sum of fragments',
    role: 'client',
    bytes: `0232${'00'.repeat(50)} 0033`,
    opts: { maxMessage: 100 },
    code: 'WS_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
  },
);

for (const r of rejections) {
  test(`rejects: ${r.name}`, (t) => {
    const opts = { role: r.role, ...r.opts };
    // whole, then one byte at a time: the error comes from the header alone
    for (const chunkSize of [Infinity, 1]) {
      const { decoder, midFrame } = collector(opts);
      const bytes = hex(r.bytes);
      const err = assertWsError(
        t,
        () => {
          if (chunkSize === Infinity) decoder.push(bytes);
          else for (const b of bytes) decoder.push(Uint8Array.of(b));
        },
        r.code,
        r.closeCode,
        `chunk size ${chunkSize}`,
      );
      t.false(midFrame(), 'no header is reported for the offending frame');
      // the decoder is dead: every later push throws the same error
      t.is(
        t.throws(() => decoder.push(hex('8100'))),
        err as Error,
      );
    }
  });
}

// ── what is accepted ────────────────────────────────────────────────────────

test('RSV bits owned by an extension are accepted on the first frame and reported', (t) => {
  const frames = decodeAll(hex('c10161 4100 8000 c200'), { role: 'client', rsvOwned: 0x4 });
  t.deepEqual(
    frames.map((f) => [f.header.opcode, f.header.rsv, f.header.fin]),
    [
      [Opcode.Text, 0x4, true],
      [Opcode.Text, 0x4, false],
      [Opcode.Continuation, 0, true],
      [Opcode.Binary, 0x4, true],
    ],
  );
  const all = decodeAll(hex('f100'), { role: 'client', rsvOwned: 0x7 });
  t.is(all[0]!.header.rsv, 0x7);
});

test('setRsvOwned takes effect for the next frame', (t) => {
  const { decoder, frames } = collector({ role: 'client' });
  decoder.setRsvOwned(0x4);
  decoder.push(hex('c100'));
  t.is(frames[0]!.header.rsv, 0x4);
});

test('limits are inclusive: a frame of exactly maxFrame, a message of exactly maxMessage', (t) => {
  const f = decodeAll(Buffer.concat([hex('8264'), Buffer.alloc(100)]), {
    role: 'client',
    maxFrame: 100,
  });
  t.is(f[0]!.header.length, 100);
  const m = decodeAll(
    Buffer.concat([hex('0232'), Buffer.alloc(50), hex('8032'), Buffer.alloc(50)]),
    {
      role: 'client',
      maxMessage: 100,
    },
  );
  t.is(m.length, 2);
});

test('maxMessage counts per message, and control frames do not count', (t) => {
  // 60 + 40 = 100 for the first message (the 125-byte ping between is not part of it),
  // then 60 for the next message
  const frames = decodeAll(
    Buffer.concat([
      hex('023c'),
      Buffer.alloc(60),
      hex('897d'),
      Buffer.alloc(125),
      hex('8028'),
      Buffer.alloc(40),
      hex('823c'),
      Buffer.alloc(60),
    ]),
    { role: 'client', maxMessage: 100, maxFrame: 100 },
  );
  t.deepEqual(
    frames.map((f) => [f.header.opcode, f.header.length]),
    [
      [Opcode.Binary, 60],
      [Opcode.Ping, 125],
      [Opcode.Continuation, 40],
      [Opcode.Binary, 60],
    ],
  );
});

test('a control frame of exactly 125 bytes is accepted', (t) => {
  const [f] = decodeAll(Buffer.concat([hex('897d'), Buffer.alloc(125, 1)]), { role: 'client' });
  t.is(f!.payload.length, 125);
});

test('idle and inMessage follow the frame and message boundaries', (t) => {
  const { decoder } = collector({ role: 'client' });
  t.true(decoder.idle);
  t.false(decoder.inMessage);
  decoder.push(hex('01'));
  t.false(decoder.idle, 'half a header is buffered');
  decoder.push(hex('0248'));
  t.false(decoder.idle, 'inside a payload');
  t.true(decoder.inMessage);
  decoder.push(hex('65'));
  t.true(decoder.idle);
  t.true(decoder.inMessage, 'the message is still open');
  decoder.push(hex('8000'));
  t.true(decoder.idle);
  t.false(decoder.inMessage);
});

// ── unmask ──────────────────────────────────────────────────────────────────

test('unmask is its own inverse and agrees with a byte-wise XOR at any alignment and offset', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 70 }),
      fc.integer({ min: 0, max: 7 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 0, max: 3 }),
      (data, shift, mask, offset) => {
        const backing = new Uint8Array(data.length + 8);
        const view = backing.subarray(shift, shift + data.length);
        view.set(data);
        unmask(view, mask, offset);
        const expected = data.map((b, i) => b ^ mask[(offset + i) & 3]!);
        assert.deepEqual(Array.from(view), Array.from(expected));
        assert.ok(
          backing.subarray(0, shift).every((b) => b === 0),
          'bytes before untouched',
        );
        assert.ok(
          backing.subarray(shift + data.length).every((b) => b === 0),
          'bytes after untouched',
        );
        unmask(view, mask, offset);
        assert.deepEqual(Array.from(view), Array.from(data));
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

// ── properties ──────────────────────────────────────────────────────────────

interface FrameSpec {
  opcode: Opcode;
  payload: Uint8Array;
  fin: boolean;
  rsv: number;
}

/** Mostly small payloads, sometimes around the 16-bit/64-bit length boundaries. */
const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 10, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        len: fc.oneof(
          fc.integer({ min: 120, max: 130 }),
          fc.integer({ min: 65530, max: 65540 }),
          fc.integer({ min: 1000, max: 1100 }),
        ),
        seed: fc.integer({ min: 0, max: 255 }),
      })
      .map(({ len, seed }) => Uint8Array.from({ length: len }, (_, i) => (seed + i * 31) & 0xff)),
  },
);
const controlOpArb = fc.constantFrom<Opcode>(Opcode.Close, Opcode.Ping, Opcode.Pong);
const dataOpArb = fc.constantFrom<Opcode>(Opcode.Text, Opcode.Binary, Opcode.Continuation);
const maskArb = fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined });

const singleFrameArb: fc.Arbitrary<FrameSpec> = fc.oneof(
  fc
    .record({
      opcode: dataOpArb,
      payload: payloadArb,
      fin: fc.boolean(),
      rsv: fc.integer({ min: 0, max: 7 }),
    })
    // RSV bits belong to the first frame of a message only (RFC 7692 §6.1)
    .map((f) => (f.opcode === Opcode.Continuation ? { ...f, rsv: 0 } : f)),
  fc.record({
    opcode: controlOpArb,
    payload: fc.uint8Array({ maxLength: 125 }),
    fin: fc.constant(true),
    rsv: fc.constant(0),
  }),
);

function expectedHeaderSize(len: number, masked: boolean): number {
  return 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (masked ? 4 : 0);
}

test('property: encode → decode round trip for any opcode, payload, fin, RSV and mask', (t) => {
  fc.assert(
    fc.property(singleFrameArb, maskArb, (spec, key) => {
      const mask = key ? fixedMask(key) : undefined;
      const role: Role = key ? 'server' : 'client';
      const original = Uint8Array.from(spec.payload);
      const parts: Uint8Array[] = [];
      if (spec.opcode === Opcode.Continuation) {
        parts.push(...encodeFrame(Opcode.Binary, new Uint8Array(0), { fin: false, mask }));
      }
      const encoded = encodeFrame(spec.opcode, spec.payload, {
        fin: spec.fin,
        rsv: spec.rsv,
        mask,
      });
      assert.deepEqual(spec.payload, original, 'encodeFrame leaves the payload alone');
      assert.equal(
        Buffer.concat(encoded).length,
        expectedHeaderSize(spec.payload.length, key !== undefined) + spec.payload.length,
      );
      parts.push(...encoded);
      const frames = decodeAll(Buffer.concat(parts), { role, rsvOwned: 0x7 });
      const last = frames.at(-1)!;
      assert.deepEqual(last.header, {
        fin: spec.fin,
        rsv: spec.rsv,
        opcode: spec.opcode,
        masked: key !== undefined,
        length: spec.payload.length,
      });
      assert.ok(last.payload.equals(original));
    }),
    { numRuns: 400 },
  );
  t.pass();
});

const controlFrameArb: fc.Arbitrary<FrameSpec> = fc.record({
  opcode: controlOpArb,
  payload: fc.uint8Array({ maxLength: 125 }),
  fin: fc.constant(true),
  rsv: fc.constant(0),
});

/** A valid stream: messages of 1..4 fragments, control frames between messages and fragments. */
const streamArb: fc.Arbitrary<FrameSpec[]> = fc
  .array(
    fc.oneof(
      controlFrameArb.map((c) => [c]),
      fc
        .record({
          opcode: fc.constantFrom<Opcode>(Opcode.Text, Opcode.Binary),
          rsv: fc.integer({ min: 0, max: 7 }),
          fragments: fc.array(
            fc.record({
              payload: payloadArb,
              interject: fc.option(controlFrameArb, { nil: undefined }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
        })
        .map(({ opcode, rsv, fragments }) => {
          const out: FrameSpec[] = [];
          fragments.forEach(({ payload, interject }, i) => {
            const fin = i === fragments.length - 1;
            out.push({
              opcode: i === 0 ? opcode : Opcode.Continuation,
              payload,
              fin,
              rsv: i === 0 ? rsv : 0,
            });
            if (interject && !fin) out.push(interject);
          });
          return out;
        }),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((groups) => groups.flat());

/** A deterministic mask source: a different key per frame. */
function seededMask(seed: number): MaskSource {
  let s = seed >>> 0;
  return (out) => {
    for (let i = 0; i < 4; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      out[i] = s >>> 24;
    }
  };
}

test('property: any chunking of a stream of frames yields the same headers and payloads', (t) => {
  fc.assert(
    fc.property(
      streamArb,
      fc.boolean(),
      fc.integer(),
      fc.array(fc.nat(), { maxLength: 24 }),
      (specs, masked, seed, cutSeeds) => {
        const role: Role = masked ? 'server' : 'client';
        const mask = masked ? seededMask(seed) : undefined;
        const wire = Buffer.concat(
          specs.flatMap((s) => encodeFrame(s.opcode, s.payload, { fin: s.fin, rsv: s.rsv, mask })),
        );
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...cuts, wire.length];
        const copy = Buffer.from(wire);
        const { decoder, frames, midFrame } = collector({ role, rsvOwned: 0x7 });
        for (let i = 0; i + 1 < bounds.length; i++) {
          decoder.push(copy.subarray(bounds[i], bounds[i + 1]));
        }
        assert.ok(!midFrame());
        assert.ok(decoder.idle);
        assert.ok(!decoder.inMessage);
        assert.equal(frames.length, specs.length);
        frames.forEach((f, i) => {
          const s = specs[i]!;
          assert.deepEqual(f.header, {
            fin: s.fin,
            rsv: s.rsv,
            opcode: s.opcode,
            masked,
            length: s.payload.length,
          });
          assert.ok(f.payload.equals(s.payload));
          // pieces are never empty, except the single piece of a 0-length frame
          if (s.payload.length === 0) assert.deepEqual(f.pieces, [0]);
          else assert.ok(f.pieces.every((n) => n > 0));
        });
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});
