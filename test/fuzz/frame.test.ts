// Fuzzing src/ws/frame.ts: random frame streams (mostly plausible frames, any field
// wrong, huge and non-minimal lengths, garbage) in random chunkings into FrameDecoder.
// Only a WebSocketError (1002 or 1009) may escape; after it the decoder stays dead with
// the same error; and the decoder never holds more than a partial header: every byte
// given to it is reported (as a header or a payload piece) except at most 13 bytes of a
// header still incomplete. Limits are enforced from the header, before any payload.

import test from 'ava';
import fc from 'fast-check';
import { WebSocketError } from '../../src/ws/errors.js';
import { FrameDecoder, type FrameHeader, type Role } from '../../src/ws/frame.js';
import { chunk, cutsArb, runs, streamArb } from './gen.js';

function headerSize(b: Uint8Array, p: number): number {
  const l = b[p + 1]! & 0x7f;
  return 2 + (l === 126 ? 2 : l === 127 ? 8 : 0) + (b[p + 1]! & 0x80 ? 4 : 0);
}

const limitsArb = fc.option(
  fc.record({ maxFrame: fc.nat({ max: 200 }), maxMessage: fc.nat({ max: 400 }) }),
);

test('FrameDecoder: only WebSocketError escapes; it buffers at most a partial header; limits hold', (t) => {
  for (const role of ['server', 'client'] as const) {
    fc.assert(
      fc.property(
        streamArb(role === 'server' ? 'client' : 'server'),
        fc.constantFrom(0, 4),
        limitsArb,
        cutsArb,
        (stream, rsvOwned, limits, cuts) => check(role, rsvOwned, limits, stream, cuts),
      ),
      { numRuns: runs(400) },
    );
  }
  t.pass();
});

function check(
  role: Role,
  rsvOwned: number,
  limits: { maxFrame: number; maxMessage: number } | null,
  stream: Uint8Array,
  cuts: number[],
): boolean {
  // offset in `stream` up to which the decoder has reported bytes
  let pos = 0;
  let header: FrameHeader | null = null;
  let got = 0;
  let messageBytes = 0;
  const decoder = new FrameDecoder(
    {
      onFrameHeader(h) {
        if (header !== null) throw new Error('a header inside a frame');
        header = h;
        got = 0;
        pos += headerSize(stream, pos);
        const maxFrame = limits?.maxFrame ?? Number.POSITIVE_INFINITY;
        if (h.opcode < 8) {
          if (h.length > maxFrame) throw new Error(`frame of ${h.length} above maxFrame`);
          if (h.opcode !== 0) messageBytes = 0;
          messageBytes += h.length;
          if (messageBytes > (limits?.maxMessage ?? Number.POSITIVE_INFINITY)) {
            throw new Error('message above maxMessage');
          }
        } else if (h.length > 125 || !h.fin) {
          throw new Error('bad control frame accepted');
        }
        if (h.masked !== (role === 'server')) throw new Error('wrong masking accepted');
      },
      onFramePayload(piece, last) {
        if (header === null) throw new Error('payload without a header');
        got += piece.length;
        pos += piece.length;
        if (got > header.length) throw new Error('more payload than announced');
        if (last) {
          if (got !== header.length) throw new Error('frame ended short');
          header = null;
        }
      },
    },
    { role, rsvOwned, ...(limits ?? {}) },
  );
  let pushed = 0;
  let error: unknown = null;
  for (const c of chunk(stream, cuts)) {
    pushed += c.length;
    try {
      decoder.push(c);
    } catch (err) {
      if (!(err instanceof WebSocketError)) throw err;
      if (err.closeCode !== 1002 && err.closeCode !== 1009) {
        throw new Error(`close code ${err.closeCode} from the codec`);
      }
      if (error !== null && err !== error) throw new Error('a dead decoder changed its error');
      error = err;
      continue;
    }
    if (error !== null) throw new Error('a dead decoder accepted bytes');
    // nothing is held but an incomplete header
    const held = pushed - pos;
    if (held < 0 || held > 13) throw new Error(`decoder holds ${held} bytes`);
    if (held > 0 && decoder.idle) throw new Error('idle while holding bytes');
  }
  return true;
}
