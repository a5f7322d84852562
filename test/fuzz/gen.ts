// Generators shared by the fuzz tests: byte streams that are mostly frames (so the
// fuzzer gets past the first header) with any header field wrong, non-minimal and
// huge lengths, payloads cut short and plain garbage in between; random chunkings.
//
// Runs: `runs(n)` is n by default and 50 × n with OMNIWS_SOAK=1 (the long run).

import fc from 'fast-check';

export const SOAK = process.env.OMNIWS_SOAK === '1';
export const runs = (n: number): number => (SOAK ? n * 50 : n);

export type Role = 'server' | 'client';

export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  key: Uint8Array;
  payload: Uint8Array;
  /** How the length is written: shortest, always 16-bit, always 64-bit, or a lie. */
  lengthForm: 'min' | '16' | '64' | 'huge' | 'msb';
  /** Drop this many bytes from the end (a frame cut short). */
  cut: number;
}

/** Encode a frame exactly as told, however wrong. */
export function encodeRaw(f: RawFrame): Uint8Array {
  const n = f.payload.length;
  let len: Buffer;
  let b1: number;
  switch (f.lengthForm) {
    case 'min':
      if (n < 126) {
        b1 = n;
        len = Buffer.alloc(0);
      } else if (n < 65536) {
        b1 = 126;
        len = Buffer.alloc(2);
        len.writeUInt16BE(n);
      } else {
        b1 = 127;
        len = Buffer.alloc(8);
        len.writeBigUInt64BE(BigInt(n));
      }
      break;
    case '16':
      b1 = 126;
      len = Buffer.alloc(2);
      len.writeUInt16BE(n & 0xffff);
      break;
    case '64':
      b1 = 127;
      len = Buffer.alloc(8);
      len.writeBigUInt64BE(BigInt(n));
      break;
    case 'huge':
      // announces far more than follows: the limits must refuse it from the header
      b1 = 127;
      len = Buffer.alloc(8);
      len.writeBigUInt64BE(2n ** 40n + BigInt(n));
      break;
    case 'msb':
      b1 = 127;
      len = Buffer.alloc(8);
      len.writeBigUInt64BE(2n ** 63n + BigInt(n));
      break;
  }
  const head = Buffer.from([
    (f.fin ? 0x80 : 0) | ((f.rsv & 7) << 4) | (f.opcode & 0x0f),
    (f.masked ? 0x80 : 0) | b1,
  ]);
  const body = Buffer.from(f.payload);
  if (f.masked) for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ f.key[i & 3]!;
  const all = Buffer.concat([head, len, f.masked ? Buffer.from(f.key) : Buffer.alloc(0), body]);
  return all.subarray(0, Math.max(0, all.length - f.cut));
}

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  // text-like payloads (they may still be cut inside a code point by fragmentation)
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }).map(utf8) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 400 }) },
);

/** A close frame payload: usually a code and a reason, sometimes anything. */
const closePayloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999), fc.nat(65535)),
        fc.string({ maxLength: 20 }),
      )
      .map(([code, reason]) => {
        const b = Buffer.alloc(2 + Buffer.byteLength(reason));
        b.writeUInt16BE(code);
        b.write(reason, 2);
        return b;
      }),
  },
  fc.uint8Array({ maxLength: 5 }),
);

const controlArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      opcode: fc.constantFrom(0x9, 0xa),
      payload: fc.uint8Array({ maxLength: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ opcode: fc.constant(0x8), payload: closePayloadArb }) },
);

/** A data message: its fragments, and the control frames between them. */
const messageArb = fc.record({
  binary: fc.boolean(),
  parts: fc.array(payloadArb, { minLength: 1, maxLength: 4 }),
  controls: fc.array(fc.option(controlArb, { freq: 3 }), { maxLength: 4 }),
});

type Mutation = { field: 'opcode' | 'rsv' | 'fin' | 'mask' | 'length' | 'cut'; n: number } | null;

/** Mostly no change; sometimes one field of the frame made wrong. */
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 25, arbitrary: fc.constant(null) },
  fc.record({
    field: fc.constantFrom(
      'opcode' as const,
      'rsv' as const,
      'fin' as const,
      'mask' as const,
      'length' as const,
      'cut' as const,
    ),
    n: fc.nat(),
  }),
);

function mutate(f: RawFrame, m: Mutation): RawFrame {
  if (m === null) return f;
  switch (m.field) {
    case 'opcode':
      return { ...f, opcode: m.n % 16 };
    case 'rsv':
      return { ...f, rsv: 1 + (m.n % 7) };
    case 'fin':
      return { ...f, fin: !f.fin };
    case 'mask':
      return { ...f, masked: !f.masked };
    case 'length':
      return { ...f, lengthForm: (['16', '64', 'huge', 'msb'] as const)[m.n % 4]! };
    case 'cut':
      return { ...f, cut: 1 + (m.n % 20) };
  }
}

/**
 * A byte stream from a `senderRole` peer: whole messages (fragmented, with control frames
 * in between), each frame now and then made wrong in one field, and some garbage.
 */
export function streamArb(senderRole: Role, maxMessages = 6): fc.Arbitrary<Uint8Array> {
  const masked = senderRole === 'client';
  const part = fc.oneof(
    {
      weight: 10,
      arbitrary: fc
        .tuple(messageArb, fc.array(mutationArb, { minLength: 8, maxLength: 8 }), fc.nat())
        .map(([msg, mutations, keySeed]) => {
          const frames: RawFrame[] = [];
          const key = Buffer.alloc(4);
          key.writeUInt32BE(keySeed >>> 0);
          msg.parts.forEach((payload, i) => {
            frames.push({
              fin: i === msg.parts.length - 1,
              rsv: 0,
              opcode: i === 0 ? (msg.binary ? 0x2 : 0x1) : 0x0,
              masked,
              key,
              payload,
              lengthForm: 'min',
              cut: 0,
            });
            const ctl = msg.controls[i];
            if (ctl && i < msg.parts.length - 1) {
              frames.push({ ...ctl, fin: true, rsv: 0, masked, key, lengthForm: 'min', cut: 0 });
            }
          });
          return Buffer.concat(frames.map((f, i) => encodeRaw(mutate(f, mutations[i] ?? null))));
        }),
    },
    {
      weight: 1,
      arbitrary: controlArb.map((c) =>
        encodeRaw({
          ...c,
          fin: true,
          rsv: 0,
          masked,
          key: Buffer.from([1, 2, 3, 4]),
          lengthForm: 'min',
          cut: 0,
        }),
      ),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 30 }) },
  );
  return fc.array(part, { maxLength: maxMessages }).map((parts) => Buffer.concat(parts));
}

/** Cut points for a stream of `n` bytes, turned into fresh chunks (decoders own them). */
export const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

export function chunk(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [
    ...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1)))),
  ].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(Buffer.from(bytes.subarray(prev, p)));
    prev = Math.max(prev, p);
  }
  return out;
}
