// The QUIC driver over quiche's native binding: handshakes, stream data both ways,
// FIN, RESET_STREAM / STOP_SENDING seen by the peer, connection close codes,
// certificate checks, and teardown with streams still open.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { ensureCerts } from '../../src/dev/certs.js';
import { describeClose, type QuicConnection } from '../../src/h3/quic.js';
import { connectQuic } from '../../src/h3/quic-client.js';
import { listenQuic, type QuicServer } from '../../src/h3/quic-server.js';
import { type Recorded, record, until } from './helpers.js';

const certs = await ensureCerts();
const cert = readFileSync(certs.cert, 'utf8');
const key = readFileSync(certs.key, 'utf8');
const ca = readFileSync(certs.ca, 'utf8');

/** A server whose connections echo every bidi stream (data and FIN). */
async function echoServer(
  hosts: string[] = ['127.0.0.1'],
): Promise<{ server: QuicServer; conns: QuicConnection[]; recs: Recorded[] }> {
  const conns: QuicConnection[] = [];
  const recs: Recorded[] = [];
  const server = await listenQuic({
    hosts,
    port: 0,
    cert,
    key,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    onConnection(conn) {
      conns.push(conn);
      const rec = record((stream, data, fin) => {
        if ((stream & 2) === 0) conn.write(stream, data, fin);
      });
      recs.push(rec);
      return rec.handler;
    },
  });
  return { server, conns, recs };
}

test('a bidi stream echoes data and FIN; uni streams arrive with their FIN', async (t) => {
  const { server, recs } = await echoServer();
  const rec = record();
  const conn = await connectQuic({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  t.is(conn.alpn, 'h3');
  const s = conn.openStream('bidi');
  t.is(s, 0);
  const payload = Buffer.alloc(3 * 1024 * 1024, 7);
  conn.write(s!, payload.subarray(0, 1000));
  conn.write(s!, [payload.subarray(1000)], true);
  const back = await rec.waitFin(s!);
  t.true(back.equals(payload));
  const u = conn.openStream('uni');
  t.is(u, 2);
  conn.write(u!, Buffer.from('one-way'), true);
  await until(() => recs[0]?.fins.has(2) === true);
  t.is(Buffer.concat(recs[0]!.data.get(2)!).toString(), 'one-way');
  conn.close(0x100);
  const info = await recs[0]!.closed;
  t.deepEqual([info.by, info.app, info.code], ['peer', true, 0x100]);
  await server.close(0x100);
});

test('RESET_STREAM and STOP_SENDING reach the peer with their codes', async (t) => {
  const { server, conns, recs } = await echoServer();
  const rec = record();
  const conn = await connectQuic({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  t.teardown(() => {
    conn.destroy();
    return server.close(0x100, 100);
  });
  const s = conn.openStream('bidi')!;
  conn.write(s, Buffer.from('x'));
  await until(() => (recs[0]?.data.get(s)?.length ?? 0) > 0);
  conn.stopSending(s, 0x10c);
  // the server learns of our STOP_SENDING at the latest when it next writes
  await new Promise((r) => setTimeout(r, 50));
  conns[0]!.write(s, Buffer.from('late'));
  await until(() => recs[0]!.stops.get(s) === 0x10c);
  conn.resetStream(s, 0x10c);
  await until(() => recs[0]!.resets.get(s) === 0x10c);
  t.pass();
  // the server resets its side of a second stream: we see the code
  const s2 = conn.openStream('bidi')!;
  conn.write(s2, Buffer.from('y'));
  await until(() => (recs[0]?.data.get(s2)?.length ?? 0) > 0);
  conns[0]!.resetStream(s2, 0x10b);
  await until(() => rec.resets.get(s2) === 0x10b);
  conn.close(0x100);
  await server.close(0x100);
});

test('the server closes with an application code; the client sees it', async (t) => {
  const { server, conns } = await echoServer();
  const rec = record();
  await connectQuic({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  await until(() => conns.length === 1);
  conns[0]!.close(0x104, 'bye');
  const info = await rec.closed;
  t.deepEqual([info.by, info.app, info.code, info.reason], ['peer', true, 0x104, 'bye']);
  await server.close(0x100);
});

test('certificates: a wrong name or an unknown CA fail the handshake; IP hosts are checked by IP', async (t) => {
  const { server } = await echoServer(['127.0.0.1', '::1']);
  const base = {
    port: server.port,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => record().handler,
  };
  const wrong = await t.throwsAsync(
    connectQuic({ ...base, host: '127.0.0.1', servername: 'example.com', ca }),
  );
  t.regex(wrong.message, /TLS alert 42/);
  const unknown = await t.throwsAsync(
    connectQuic({ ...base, host: '127.0.0.1', servername: 'localhost' }),
  );
  t.regex(unknown.message, /TLS alert 48 \(unknown_ca\)/);
  for (const host of ['127.0.0.1', '::1']) {
    const c = await connectQuic({ ...base, host, servername: null, ca });
    t.is(c.remoteAddress, host);
    c.close(0x100);
  }
  const insecure = await connectQuic({
    ...base,
    host: '::1',
    servername: 'example.com',
    verify: false,
  });
  insecure.close(0x100);
  await server.close(0x100);
});

test('a handshake to a port nobody serves times out without leaking', async (t) => {
  const { server } = await echoServer();
  const port = server.port;
  await server.close(0x100);
  const err = await t.throwsAsync(
    connectQuic({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca,
      alpn: ['h3'],
      internalErrorCode: 0x102,
      timeout: 300,
      onEstablished: () => record().handler,
    }),
  );
  t.regex(err.message, /timed out/);
});

test('ALPN mismatch fails the handshake', async (t) => {
  const { server } = await echoServer();
  const err = await t.throwsAsync(
    connectQuic({
      host: '127.0.0.1',
      port: server.port,
      servername: 'localhost',
      ca,
      alpn: ['not-h3'],
      internalErrorCode: 0x102,
      timeout: 5000,
      onEstablished: () => record().handler,
    }),
  );
  t.regex(err.message, /TLS alert 120|handshake/);
  await server.close(0x100);
});

test('teardown with streams open and data queued never throws', async (t) => {
  const { server, conns } = await echoServer();
  const rec = record();
  const conn = await connectQuic({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  for (let i = 0; i < 5; i++) conn.write(conn.openStream('bidi')!, Buffer.alloc(1 << 20));
  await until(() => conns.length === 1);
  conns[0]!.destroy();
  await server.close(0x100, 200);
  conn.destroy();
  conn.write(0, Buffer.from('after'));
  conn.resetStream(0, 1);
  conn.close(0x100);
  const info = await rec.closed;
  t.is(info.by, 'local');
  t.is(describeClose({ by: 'idle', app: false, code: 0, reason: '' }), 'idle timeout');
});

test('a handler that throws closes its connection with the internal error code', async (t) => {
  const server = await listenQuic({
    hosts: ['127.0.0.1'],
    port: 0,
    cert,
    key,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    onConnection: () => ({
      ...record().handler,
      onStreamData() {
        throw new Error('boom');
      },
    }),
  });
  const rec = record();
  const conn = await connectQuic({
    host: '127.0.0.1',
    port: server.port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  conn.write(conn.openStream('bidi')!, Buffer.from('x'));
  const info = await rec.closed;
  t.deepEqual([info.by, info.app, info.code], ['peer', true, 0x102]);
  await server.close(0x100);
});
