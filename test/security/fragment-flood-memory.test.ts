// Finding: `maxMessage` bounded the payload of a message but not the memory spent on it.
// A message sent as many tiny fragments kept one view object (~100 bytes) per fragment,
// and a small piece kept its whole socket chunk alive: 1 000 000 one-byte fragments (7 MB
// on the wire, 1 MB of payload) held ~107 MB. Fixed in src/ws/assembler.ts: small pieces
// are copied into a buffer that doubles as needed; only large pieces stay views.

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import { encodeFrame, Opcode } from '../../src/ws/frame.js';
import { Protocol } from '../../src/ws/protocol.js';
import { clientFrame, rawClient, recorder, until } from '../helpers.js';
import { gc, used } from '../memory.js';

const mask = (k: Uint8Array) => k.set([1, 2, 3, 4]);
const frame = (op: Opcode, data: string, fin: boolean) =>
  Buffer.concat(encodeFrame(op, Buffer.from(data), { fin, mask }));

test.serial(
  '1 000 000 one-byte fragments hold memory of the order of the payload, not 100x',
  async (t) => {
    let got = 0;
    const p = new Protocol(
      {
        write() {},
        onMessage(_b, data) {
          got = data.length;
        },
        onPing() {},
        onPong() {},
        onClose() {},
        onFailure(err) {
          t.fail(err.message);
        },
      },
      { role: 'server' },
    );
    const mid = frame(Opcode.Continuation, 'b', false);
    const block = Buffer.concat(Array.from({ length: 10_000 }, () => mid));
    await gc();
    const before = used();
    p.receive(frame(Opcode.Text, 'a', false));
    for (let i = 0; i < 100; i++) p.receive(Buffer.from(block)); // fresh chunks, as a socket gives
    await gc();
    const held = used() - before;
    p.receive(frame(Opcode.Continuation, 'c', true));
    t.is(got, 1_000_002);
    // the wire chunks are gone, the payload (1 MB) is held with at most 2x room
    t.true(held < 8 * 1024 * 1024, `${(held / 1e6).toFixed(1)} MB held for 1 MB of payload`);
  },
);

test.serial('100 000 one-byte fragments over a socket: echoed whole, in linear time', async (t) => {
  const rec = recorder();
  const srv = await listen({ routes: { '/': { handler: rec.handler, state: null } } });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  t.teardown(() => c.socket.destroy());
  const started = performance.now();
  const parts: Buffer[] = [clientFrame(Opcode.Binary, 'x', false)];
  for (let i = 0; i < 100_000 - 2; i++) parts.push(clientFrame(Opcode.Continuation, 'x', false));
  parts.push(clientFrame(Opcode.Continuation, 'x', true));
  // in pieces of about a TCP segment, as a peer would send them
  const all = Buffer.concat(parts);
  for (let off = 0; off < all.length; off += 1400) c.socket.write(all.subarray(off, off + 1400));
  await until(() => rec.messages.length === 1, 10_000, 'the message');
  const m = rec.messages[0]!;
  t.is(m.type, 'binary');
  t.true((m.data as Buffer).equals(Buffer.alloc(100_000, 'x')));
  // quadratic assembly would take minutes; this is well under a second on a laptop
  t.true(performance.now() - started < 5000);
  await until(() => Buffer.concat(c.received).length >= 100_004, 10_000, 'the echo');
});
