// Graceful shutdown of the HTTP/2 server, checked on the wire through a sniffing proxy:
// close() first sends GOAWAY (NO_ERROR, naming the last stream it took) so the client
// opens nothing new, then 1001 to every WebSocket; peers that answer finish their closing
// handshake with END_STREAM, the others are reset (RST_STREAM CANCEL) once the grace
// period (shutdownTimeout) is over; terminate runs exactly once for each session.

import test from 'ava';
import { listenH2 } from '../../src/server/h2-server.js';
import type { CloseReason, Handler } from '../../src/ws/handler.js';
import { ok } from '../../src/ws/handler.js';
import {
  clientFrame,
  closePayload,
  END_STREAM,
  H2,
  OP,
  type RawWs,
  rawConnect,
  rawSession,
  sniffingProxy,
  until,
} from './helpers.js';

const NGHTTP2_CANCEL = 0x8;

test('close(): GOAWAY first, then 1001 to every WebSocket; answered ones end clean, the rest are reset after the grace', async (t) => {
  const ends: CloseReason[] = [];
  const handler: Handler<null> = {
    handleIn: (_m, s) => ok(s),
    terminate: (r) => {
      ends.push(r);
    },
  };
  const srv = await listenH2({ routes: { '/ws': { handler, state: null } }, shutdownTimeout: 300 });
  const proxy = await sniffingProxy(srv.port);
  const session = await rawSession(proxy.origin);
  t.teardown(async () => {
    session.destroy();
    await proxy.close();
  });
  const goaways: { code: number; lastStreamId: number }[] = [];
  session.on('goaway', (code, lastStreamId) => goaways.push({ code, lastStreamId }));

  const answering: RawWs[] = [];
  const silent: RawWs[] = [];
  for (let i = 0; i < 3; i++) answering.push(await rawConnect(session, '/ws'));
  for (let i = 0; i < 2; i++) silent.push(await rawConnect(session, '/ws'));
  for (const ws of [...answering, ...silent]) t.is(ws.status, 200);
  // answer the close frame like a browser would
  for (const ws of answering) {
    ws.stream.on('data', () => {
      if (ws.reader.frames[0]?.opcode === OP.close && !ws.stream.writableEnded) {
        ws.stream.end(clientFrame(OP.close, closePayload(1001)));
      }
    });
  }
  await until(() => srv.registry.sessions.size === 5);
  const ids = [...answering, ...silent].map((ws) => ws.stream.id!);

  await srv.close();

  // on the wire: one GOAWAY with NO_ERROR, before any close frame (DATA on a WebSocket)
  const fromServer = proxy.fromServer;
  const goawayAt = fromServer.findIndex((f) => f.type === H2.GOAWAY);
  t.true(goawayAt >= 0, 'GOAWAY sent');
  const firstCloseData = fromServer.findIndex(
    (f) => f.type === H2.DATA && ids.includes(f.streamId),
  );
  t.true(goawayAt < firstCloseData, 'GOAWAY precedes the 1001 close frames');
  await until(() => goaways.length > 0);
  t.is(goaways[0]!.code, 0);
  t.is(goaways[0]!.lastStreamId, Math.max(...ids), 'the streams it already took stay served');

  // every WebSocket got 1001
  for (const ws of [...answering, ...silent]) {
    const f = await ws.reader.frame(0);
    t.is(f.opcode, OP.close);
    t.is(f.payload.readUInt16BE(0), 1001);
  }
  // answered: END_STREAM from the server, no reset; silent: RST_STREAM CANCEL
  for (const ws of answering) {
    t.true(
      fromServer.some(
        (f) => f.streamId === ws.stream.id && f.type === H2.DATA && (f.flags & END_STREAM) !== 0,
      ) ||
        fromServer.some(
          (f) =>
            f.streamId === ws.stream.id && f.type === H2.HEADERS && (f.flags & END_STREAM) !== 0,
        ),
      `stream ${ws.stream.id} ended clean`,
    );
    t.false(fromServer.some((f) => f.streamId === ws.stream.id && f.type === H2.RST_STREAM));
  }
  for (const ws of silent) {
    const rst = fromServer.find((f) => f.streamId === ws.stream.id && f.type === H2.RST_STREAM);
    t.is(rst?.code, NGHTTP2_CANCEL, `stream ${ws.stream.id} reset after the grace`);
  }

  // terminate exactly once per session: 3 clean shutdowns, 2 aborted
  await until(() => ends.length === 5);
  t.is(ends.filter((r) => r.kind === 'shutdown' && r.code === 1001 && r.wasClean).length, 3);
  t.is(ends.filter((r) => !r.wasClean).length, 2);
  t.is(srv.registry.sessions.size, 0);
  await until(() => session.closed || session.destroyed, 5000, 'the client session to close');
});
