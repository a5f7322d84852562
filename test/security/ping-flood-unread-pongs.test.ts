// Finding: a peer could make the server buffer pongs without bound. It sends pings as
// fast as it likes and never reads; RFC 6455 §5.5.2 has us answer every ping, and every
// pong waited in the socket's buffer. Fixed in src/ws/protocol.ts + session.ts: while the
// transport is above its high-water mark only the latest pong is kept (RFC 6455 §5.5.3
// allows answering only the most recent ping) and it is sent once the transport drains.

import test from 'ava';
import { FrameReader } from '../../src/conformance/peer.js';
import { listen } from '../../src/server/h1-server.js';
import { Opcode } from '../../src/ws/frame.js';
import { clientFrame, delay, rawClient, recorder, until } from '../helpers.js';

// Enough that the pongs overflow the kernel's socket buffers (on loopback they absorb
// ~4 MB; without the cap the server then buffered 2 MB at 50 000 pings, 8 MB at 100 000).
const PINGS = 100_000;

test('100 000 pings from a peer that reads nothing: the pongs waiting stay under the high-water mark', async (t) => {
  const rec = recorder();
  const srv = await listen({ routes: { '/': { handler: rec.handler, state: null } } });
  t.teardown(() => srv.close());
  const c = await rawClient(srv.port);
  t.teardown(() => c.socket.destroy());
  c.socket.pause(); // read nothing
  const payload = (i: number) => Buffer.from(`${i}`.padStart(125, '.'));
  let maxBuffered = 0;
  const session = [...srv.registry.sessions][0]!;
  for (let i = 0; i < PINGS; i += 500) {
    const batch: Buffer[] = [];
    for (let j = i; j < i + 500; j++) batch.push(clientFrame(Opcode.Ping, payload(j)));
    c.socket.write(Buffer.concat(batch));
    await delay(1);
    maxBuffered = Math.max(maxBuffered, session.bufferedAmount);
  }
  await until(() => rec.controls.length === PINGS, 10_000, 'the server to read every ping');
  maxBuffered = Math.max(maxBuffered, session.bufferedAmount);
  // 16 KiB high-water mark + one corked burst of pongs; without the cap: 8 MB
  t.true(maxBuffered <= 128 * 1024, `${maxBuffered} bytes buffered for pongs`);
  // once the peer reads, the pong to the latest ping arrives (the others may be skipped)
  c.socket.resume();
  const reader = new FrameReader();
  const last = payload(PINGS - 1);
  await until(
    () => {
      const frames = reader.push(Buffer.concat(c.received.splice(0)));
      return frames.some((f) => f.op === Opcode.Pong && f.payload.equals(last));
    },
    10_000,
    'the pong to the last ping',
  );
  t.pass();
});
