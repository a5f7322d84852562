// Graceful shutdown of the HTTP/3 server, checked on the wire by a raw QUIC peer: close()
// sends GOAWAY on the control stream naming the first request stream it will not serve
// (RFC 9114 §5.2), so a CONNECT opened after it is rejected (H3_REQUEST_REJECTED); every
// WebSocket gets 1001; those that answer end with FIN, the others are reset
// (H3_REQUEST_CANCELLED) once the grace period (shutdownTimeout) is over; terminate runs
// exactly once for each session; then the QUIC connection closes with H3_NO_ERROR.

import test from 'ava';
import { H3_NO_ERROR, H3_REQUEST_CANCELLED, H3_REQUEST_REJECTED } from '../../src/h3/errors.js';
import { encodeDataHeader, encodeHeadersFrame, encodeSettings } from '../../src/h3/frames.js';
import { encodeFieldSection, type Header } from '../../src/h3/qpack.js';
import { listenH3 } from '../../src/server/h3-server.js';
import type { CloseReason, Handler } from '../../src/ws/handler.js';
import { ok } from '../../src/ws/handler.js';
import { clientFrame, closePayload, FrameReader, OP } from '../h2/helpers.js';
import { fieldsOf, framesOf, makeCerts, rawPeer, removeCerts, until } from './helpers.js';

const connectFields: Header[] = [
  [':method', 'CONNECT'],
  [':protocol', 'websocket'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/ws'],
  ['sec-websocket-version', '13'],
];

/** The WebSocket frames the server sent on a request stream (the DATA after the HEADERS). */
function wsFrames(bytes: Uint8Array): FrameReader {
  const reader = new FrameReader();
  for (const f of framesOf(bytes)) if (f.type === 'data') reader.push(Buffer.from(f.chunk));
  return reader;
}

test('close(): GOAWAY, 1001 to every WebSocket, FIN for the answered, reset after the grace for the rest', async (t) => {
  const certs = await makeCerts('h3-shutdown');
  const ends: CloseReason[] = [];
  const handler: Handler<null> = {
    handleIn: (_m, s) => ok(s),
    terminate: (r) => {
      ends.push(r);
    },
  };
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    routes: { '/ws': { handler, state: null } },
    shutdownTimeout: 300,
  });
  const { conn, rec } = await rawPeer(l.port, certs);
  t.teardown(async () => {
    conn.destroy();
    await l.close();
    await removeCerts(certs);
  });
  conn.write(conn.openStream('uni')!, [Uint8Array.of(0x00), encodeSettings([[0x08, 1]])]);

  const streams: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = conn.openStream('bidi')!;
    conn.write(s, encodeHeadersFrame(encodeFieldSection(connectFields)));
    streams.push(s);
  }
  for (const s of streams) {
    await until(() => framesOf(rec.bytes(s)).some((f) => f.type === 'headers'));
    const head = framesOf(rec.bytes(s)).find((f) => f.type === 'headers');
    t.deepEqual(head?.type === 'headers' ? fieldsOf(head.fieldSection)[0] : [], [':status', '200']);
  }
  await until(() => l.registry.sessions.size === 5);
  const answering = streams.slice(0, 3);
  const silent = streams.slice(3);

  const closing = l.close();

  // GOAWAY on the server's control stream (3), naming the stream after the last it took
  const goaway = () => framesOf(rec.bytes(3), 1).find((f) => f.type === 'goaway');
  await until(() => goaway() !== undefined, 5000, 'GOAWAY');
  const g = goaway();
  t.is(g?.type === 'goaway' ? g.id : -1n, BigInt(Math.max(...streams) + 4));

  // 1001 on every WebSocket
  await until(
    () => streams.every((s) => wsFrames(rec.bytes(s)).frames.length > 0),
    5000,
    'close frames',
  );
  for (const s of streams) {
    const [f] = wsFrames(rec.bytes(s)).frames;
    t.is(f?.opcode, OP.close);
    t.is(f?.payload.readUInt16BE(0), 1001);
  }

  // a CONNECT opened after GOAWAY (the silent ones keep the connection up) is rejected
  const late = conn.openStream('bidi')!;
  conn.write(late, encodeHeadersFrame(encodeFieldSection(connectFields)));
  await until(() => rec.resets.has(late), 5000, 'the late CONNECT to be rejected');
  t.is(rec.resets.get(late), H3_REQUEST_REJECTED);

  // answer the close like a browser would, on three of them
  for (const s of answering) {
    const frame = clientFrame(OP.close, closePayload(1001));
    conn.write(s, [encodeDataHeader(frame.length), frame], true);
  }

  await closing;
  for (const s of answering) {
    t.true(rec.fins.has(s), `stream ${s} ended with FIN`);
    t.false(rec.resets.has(s), `stream ${s} not reset`);
  }
  for (const s of silent) {
    await until(() => rec.resets.has(s), 5000, `stream ${s} reset`);
    t.is(rec.resets.get(s), H3_REQUEST_CANCELLED);
  }
  await until(() => ends.length === 5);
  t.is(ends.filter((r) => r.kind === 'shutdown' && r.code === 1001 && r.wasClean).length, 3);
  t.is(ends.filter((r) => !r.wasClean).length, 2);
  t.is(l.registry.sessions.size, 0);
  const info = await rec.closed;
  t.deepEqual([info.by, info.code], ['peer', H3_NO_ERROR]);
});
