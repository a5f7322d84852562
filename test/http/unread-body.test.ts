// What happens to a request body the handler never read, once the response is complete:
// HTTP/1.1 drains a small one and keeps the connection, closes after a large one (the
// response intact even for a client that reads late: lingering close, not an RST);
// HTTP/2 refuses the rest with RST_STREAM NO_ERROR; HTTP/3 with STOP_SENDING H3_NO_ERROR.

import http2 from 'node:http2';
import net from 'node:net';
import test from 'ava';
import { H3Connection } from '../../src/h3/connection.js';
import { H3_NO_ERROR, type H3Error } from '../../src/h3/errors.js';
import { connectQuic } from '../../src/h3/quic-client.js';
import { LINGER_MS, MAX_BODY_DRAIN } from '../../src/server/h1.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { buffered, type RequestHandler } from '../../src/server/handler.js';
import { END_STREAM, H2, sniffingProxy } from '../h2/helpers.js';
import { makeCerts, removeCerts } from './helpers.js';

const handle: RequestHandler = () => buffered(200, { 'content-type': 'text/plain' }, 'ignored\n');

/** Raw HTTP/1.1 responses on one socket: parsed as they arrive (content-length bodies). */
function responses(socket: net.Socket): {
  list: { head: string; body: string }[];
  closed: Promise<void>;
} {
  const list: { head: string; body: string }[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      list.push({ head, body: buf.subarray(end + 4, end + 4 + length).toString() });
      buf = buf.subarray(end + 4 + length);
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { list, closed };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('HTTP/1.1: a small unread body (content-length or chunked) is drained and the connection serves the next request', async (t) => {
  const l = await listen({ handle });
  const socket = net.connect(l.port, '127.0.0.1');
  const r = responses(socket);
  try {
    const body = Buffer.alloc(100 * 1024, 1);
    socket.write(`POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body);
    socket.write('POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.write('10000\r\n');
    socket.write(Buffer.alloc(0x10000, 2));
    socket.write('\r\n0\r\n\r\n');
    socket.write('GET /c HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => r.list.length === 3, 5000, 'three responses');
    for (const res of r.list) {
      t.regex(res.head, /^HTTP\/1\.1 200 /);
      t.notRegex(res.head, /connection: close/i);
      t.is(res.body, 'ignored\n');
    }
    t.false(socket.destroyed);
  } finally {
    socket.destroy();
    await l.close();
  }
});

test('HTTP/1.1: a large unread body: connection: close, and the response survives a client that keeps sending and reads late', async (t) => {
  const l = await listen({ handle });
  try {
    for (const announced of [true, false]) {
      const socket = net.connect(l.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.pause(); // read nothing for a while: the response waits in the receive buffer
      // more than loopback carries in LINGER_MS: the linger timer ends it
      const size = 16 * 1024 * 1024 * 1024;
      socket.write(
        announced
          ? `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`
          : 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      const chunk = Buffer.alloc(64 * 1024, 3);
      const framed = Buffer.concat([Buffer.from('10000\r\n'), chunk, Buffer.from('\r\n')]);
      let sent = 0;
      const pump = () => {
        while (!socket.destroyed && sent < size && socket.write(announced ? chunk : framed)) {
          sent += chunk.length;
        }
      };
      socket.on('drain', pump);
      socket.on('error', () => {});
      pump();
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      const r = responses(socket);
      socket.resume();
      await r.closed;
      const what = announced ? 'content-length' : 'chunked';
      t.is(r.list.length, 1, what);
      t.regex(r.list[0]?.head ?? '', /^HTTP\/1\.1 200 /);
      t.is(r.list[0]?.body, 'ignored\n');
      // announced beyond the drain bound: known before the head went out
      if (announced) t.regex(r.list[0]?.head ?? '', /connection: close/i);
      t.true(sent < size, `${what}: the server closed while the client was still sending`);
      t.true(
        sent > MAX_BODY_DRAIN,
        `${what}: the server read past the drain bound while lingering`,
      );
      t.true(Date.now() - started < LINGER_MS + 2000, `${what}: closed within the linger time`);
    }
  } finally {
    await l.close();
  }
});

test('HTTP/2: after the complete response, the rest of an unread body is refused with RST_STREAM NO_ERROR', async (t) => {
  const l = await listenH2({ handle });
  const proxy = await sniffingProxy(l.port);
  const session = http2.connect(proxy.origin);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/' });
    req.write(Buffer.alloc(256 * 1024, 4)); // more than the server reads: the stream stays open
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    const ended = new Promise<void>((resolve) => req.on('end', () => resolve()));
    await new Promise<void>((resolve) => req.on('close', () => resolve()));
    await ended;
    t.is(body, 'ignored\n');
    await until(
      () => proxy.fromServer.some((f) => f.type === H2.RST_STREAM && f.streamId === req.id),
      2000,
      'RST_STREAM',
    );
    const frames = proxy.fromServer.filter((f) => f.streamId === req.id);
    const endAt = frames.findIndex((f) => f.type === H2.DATA && (f.flags & END_STREAM) !== 0);
    const rstAt = frames.findIndex((f) => f.type === H2.RST_STREAM);
    t.true(endAt >= 0 && rstAt > endAt, 'END_STREAM first, then RST_STREAM');
    t.is(frames[rstAt]?.code, 0, 'NO_ERROR');
  } finally {
    session.close();
    await proxy.close();
    await l.close();
  }
});

test('HTTP/3: after the complete response, the rest of an unread body is refused with STOP_SENDING H3_NO_ERROR', async (t) => {
  const certs = await makeCerts('http-unread-h3');
  const l = await listenH3({ handle, cert: certs.cert, key: certs.key, host: '127.0.0.1' });
  let h3!: H3Connection;
  try {
    await connectQuic({
      host: '127.0.0.1',
      port: l.port,
      servername: 'localhost',
      ca: certs.ca,
      alpn: ['h3'],
      internalErrorCode: 0x102,
      timeout: 5000,
      onEstablished: (q) => {
        h3 = new H3Connection(q, { role: 'client' });
        return h3;
      },
    });
    const s = h3.request([
      [':method', 'POST'],
      [':scheme', 'https'],
      [':authority', 'localhost'],
      [':path', '/'],
    ]);
    s.sendData(Buffer.alloc(64 * 1024, 5)); // no FIN: the body goes on, for all the server knows
    // read nothing yet: quiche reports a STOP_SENDING's code only while the stream is
    // unfinished on our side, and reading the response's FIN would finish it
    s.pause();
    setTimeout(() => s.resume(), 200);
    const seen = await new Promise<{ status: string; body: string; ended: boolean; stop?: number }>(
      (resolve) => {
        let status = '';
        let body = '';
        let ended = false;
        let stop: number | undefined;
        s.setSink({
          onHeaders(fields) {
            status = fields.find(([k]) => k === ':status')?.[1] ?? '';
          },
          onData(c) {
            body += Buffer.from(c).toString();
          },
          onEnd() {
            ended = true;
          },
          onAbort(err) {
            // our sending side is refused; the response still reads to its end
            stop = (err as H3Error).h3Code;
          },
          onDrain() {},
          onClose() {
            resolve({ status, body, ended, ...(stop !== undefined && { stop }) });
          },
        });
      },
    );
    t.is(seen.status, '200');
    t.is(seen.body, 'ignored\n');
    t.true(seen.ended, 'the response ended with FIN');
    t.is(seen.stop, H3_NO_ERROR);
  } finally {
    h3?.close();
    await l.close();
    await removeCerts(certs);
  }
});
