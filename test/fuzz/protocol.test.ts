// Fuzzing src/ws/protocol.ts, the sans-I/O state machine: random frame streams in random
// chunkings, with or without an extension owning RSV1, with small limits, with the
// transport congested or not. receive() never throws (the sink does not); a failure is
// always a WebSocketError with 1002, 1007 or 1009; nothing is delivered after the close;
// messages respect maxMessage and uncompressed text is valid UTF-8; everything the
// protocol writes decodes as frames of its role (a peer decoder checks masking and
// control frames), with at most one pong per ping, none while congested, and one close.

import { isUtf8 } from 'node:buffer';
import test from 'ava';
import fc from 'fast-check';
import { WebSocketError } from '../../src/ws/errors.js';
import { FrameDecoder, Opcode, type Role } from '../../src/ws/frame.js';
import { Protocol } from '../../src/ws/protocol.js';
import { chunk, cutsArb, runs, streamArb } from './gen.js';

const limitsArb = fc.option(
  fc.record({ maxFrame: fc.nat({ max: 300 }), maxMessage: fc.nat({ max: 600 }) }),
);

function check(
  role: Role,
  stream: Uint8Array,
  cuts: number[],
  rsvOwned: number,
  limits: { maxFrame: number; maxMessage: number } | null,
  congested: boolean,
): boolean {
  let ended = 0;
  let pingsIn = 0;
  const out = { pong: 0, close: 0, other: 0 };
  let op: number = Opcode.Continuation;
  // what we write is decoded as the peer would: a decoder of the other role
  const peer = new FrameDecoder(
    {
      onFrameHeader(h) {
        op = h.opcode;
        if (h.opcode === Opcode.Pong) out.pong++;
        else if (h.opcode === Opcode.Close) out.close++;
        else out.other++;
      },
      onFramePayload() {},
    },
    { role: role === 'server' ? 'client' : 'server' },
  );
  const alive = (what: string) => {
    if (ended > 0) throw new Error(`${what} after the end`);
  };
  const p = new Protocol(
    {
      write(chunks) {
        if (out.close > 0) throw new Error(`a frame (0x${op.toString(16)}) after our close`);
        peer.push(Buffer.concat(chunks.map((c) => Buffer.from(c))));
      },
      onMessage(binary, data, rsv) {
        alive('message');
        if (data.length > (limits?.maxMessage ?? Number.POSITIVE_INFINITY)) {
          throw new Error('message above maxMessage delivered');
        }
        if (!binary && (rsv & 4) === 0 && !isUtf8(data)) throw new Error('invalid UTF-8 delivered');
        if ((rsv & ~rsvOwned) !== 0) throw new Error('RSV bits nobody owns');
      },
      onPing() {
        alive('ping');
        pingsIn++;
      },
      onPong() {
        alive('pong');
      },
      onClose() {
        alive('close');
        ended++;
      },
      onFailure(err) {
        alive('failure');
        ended++;
        if (!(err instanceof WebSocketError))
          throw new Error('failure that is not a WebSocketError');
        if (![1002, 1007, 1009].includes(err.closeCode ?? 0)) {
          throw new Error(`failure with close code ${err.closeCode}`);
        }
      },
      congested: () => congested,
    },
    { role, rsvOwned, ...(limits ?? {}), mask: (k) => k.set([9, 8, 7, 6]) },
  );
  for (const c of chunk(stream, cuts)) p.receive(c);
  if (out.other > 0) throw new Error('the protocol wrote data frames by itself');
  if (out.close > 1) throw new Error('more than one close frame');
  if (congested && out.pong > 0) throw new Error('pong written while congested');
  if (out.pong > pingsIn) throw new Error('more pongs than pings');
  // the transport drains: at most the latest pong goes out, and only while open
  const before = out.pong;
  p.flushPong();
  if (out.pong - before > (congested && pingsIn > 0 ? 1 : 0))
    throw new Error('flushPong sent too much');
  p.receiveEof();
  return true;
}

for (const role of ['server', 'client'] as const) {
  test(`Protocol (${role}): random frame streams never throw; failures, deliveries and writes stay valid`, (t) => {
    fc.assert(
      fc.property(
        streamArb(role === 'server' ? 'client' : 'server'),
        cutsArb,
        fc.constantFrom(0, 4),
        limitsArb,
        fc.boolean(),
        (stream, cuts, rsvOwned, limits, congested) =>
          check(role, stream, cuts, rsvOwned, limits, congested),
      ),
      { numRuns: runs(500) },
    );
    t.pass();
  });
}

test('Protocol: random bytes (no structure at all) never throw', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      cutsArb,
      fc.constantFrom<Role>('server', 'client'),
      (bytes, cuts, role) => check(role, bytes, cuts, 0, null, false),
    ),
    { numRuns: runs(300) },
  );
  t.pass();
});
