// WebTransport over HTTP/3 (issue 21): the Node WebTransport client against our server,
// through the one request handler. Every stream kind, datagrams, close codes both ways,
// many sessions on one connection, a refusal with 403, and the limits.

import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { wtEchoHandler } from '../../src/dev/wt-echo.js';
import { ConnectionPool } from '../../src/h2/pool.js';
import { closeH3Connections, type PooledConnection } from '../../src/h3/client.js';
import { unfitForHashes, WebTransport, WebTransportError } from '../../src/h3/wt-client.js';
import type { WtCloseInfo } from '../../src/h3/wt-session.js';
import { type H3Listener, listenH3 } from '../../src/server/h3-server.js';
import {
  buffered,
  type Request,
  type WebTransportHandler,
  websocket,
} from '../../src/server/handler.js';
import { webtransport } from '../../src/server/webtransport.js';
import { ok } from '../../src/ws/handler.js';
import { makeCerts, opensslCert, removeCerts, type TestCerts } from '../certs.js';
import { delay, until } from '../helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('webtransport');
});
test.after.always(async () => {
  closeH3Connections();
  if (certs) await removeCerts(certs);
});

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readAll(r: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  const reader = r.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function server(
  handle: (req: Request) => ReturnType<Parameters<typeof listenH3>[0]['handle'] & {}>,
  opts: { maxSessions?: number } = {},
): Promise<H3Listener> {
  return listenH3({
    tls: { cert: certs.cert, key: certs.key },
    hosts: ['127.0.0.1'],
    webtransport: opts.maxSessions ? { maxSessions: opts.maxSessions } : true,
    handle,
  });
}

const echoServer = () =>
  server((req) =>
    req.protocol === 'webtransport' && req.pathname === '/wt/echo'
      ? webtransport(wtEchoHandler, null)
      : buffered(404),
  );

function client(
  port: number,
  path = '/wt/echo',
  extra: ConstructorParameters<typeof WebTransport>[1] = {},
) {
  return new WebTransport(`https://localhost:${port}${path}`, {
    tls: { ca: certs.ca, servername: 'localhost' },
    ...extra,
  });
}

test('bidirectional echo, unidirectional both ways, datagram echo, a clean close with code and reason', async (t) => {
  const ends: WtCloseInfo[] = [];
  const srv = await server(() =>
    webtransport({ ...wtEchoHandler, terminate: (info) => void ends.push(info) }, null, {}),
  );
  try {
    const wt = client(srv.port);
    await wt.ready;
    // bidirectional: what we write comes back, then the end
    const bidi = await wt.createBidirectionalStream();
    const w = bidi.writable.getWriter();
    await w.write(enc.encode('hello '));
    await w.write(enc.encode('over a stream'));
    await w.close();
    t.is(dec.decode(await readAll(bidi.readable)), 'hello over a stream');
    // unidirectional: ours ends, the server's comes back with the same bytes
    const uni = await wt.createUnidirectionalStream();
    const uw = uni.getWriter();
    await uw.write(new Uint8Array(100_000).fill(7));
    await uw.close();
    const incoming = await wt.incomingUnidirectionalStreams.getReader().read();
    const back = await readAll(incoming.value!);
    t.is(back.length, 100_000);
    t.true(back.every((b) => b === 7));
    // datagrams: sent, echoed (unreliable, but not on loopback with a tenth of the queue)
    const dw = wt.datagrams.writable.getWriter();
    const dr = wt.datagrams.readable.getReader();
    t.true(wt.datagrams.maxDatagramSize > 1000, String(wt.datagrams.maxDatagramSize));
    await dw.write(enc.encode('datagram 1'));
    t.is(dec.decode((await dr.read()).value), 'datagram 1');
    // the close: code and reason reach the server; closed resolves with them
    wt.close({ closeCode: 4242, reason: 'done here' });
    t.deepEqual(await wt.closed, { closeCode: 4242, reason: 'done here' });
    await until(() => ends.length === 1, 3000, 'the server saw the close');
    t.deepEqual(ends[0], { code: 4242, reason: 'done here', clean: true, by: 'peer' });
  } finally {
    await srv.close();
  }
});

test('the server closes with a code: closed resolves with it; streams the server opens arrive', async (t) => {
  const handler: WebTransportHandler<null> = {
    init(session) {
      // a stream of ours at once, then the close once the client answered on it
      const s = session.openStream('bidi');
      s.write(enc.encode('ping'));
      s.end();
      s.setSink({
        onData(chunk) {
          if (dec.decode(chunk) === 'pong') session.close(7, 'server says bye');
        },
        onEnd() {},
        onAbort() {},
        onDrain() {},
        onClose() {},
      });
    },
  };
  const srv = await server(() => webtransport(handler, null));
  try {
    const wt = client(srv.port);
    await wt.ready;
    const { value: bidi } = await wt.incomingBidirectionalStreams.getReader().read();
    t.is(dec.decode(await readAll(bidi!.readable)), 'ping');
    const w = bidi!.writable.getWriter();
    await w.write(enc.encode('pong'));
    t.deepEqual(await wt.closed, { closeCode: 7, reason: 'server says bye' });
  } finally {
    await srv.close();
  }
});

test('a session refused with 403: ready rejects with the status, the handler decided on the request', async (t) => {
  const seen: string[] = [];
  const srv = await server((req) => {
    seen.push(`${req.method} ${req.protocol} ${req.pathname} ${String(req.headers.authorization)}`);
    return req.headers.authorization === 'Bearer ok'
      ? webtransport(wtEchoHandler, null)
      : buffered(403);
  });
  try {
    const refused = client(srv.port, '/private');
    const err = await t.throwsAsync(refused.ready, { instanceOf: WebTransportError });
    t.is((err as unknown as { status: number }).status, 403);
    await t.throwsAsync(refused.closed);
    const admitted = client(srv.port, '/private', { headers: { authorization: 'Bearer ok' } });
    await admitted.ready;
    admitted.close();
    await admitted.closed;
    t.deepEqual(seen, [
      'CONNECT webtransport /private undefined',
      'CONNECT webtransport /private Bearer ok',
    ]);
  } finally {
    await srv.close();
  }
});

test('many sessions on one connection (allowPooling), each with its own streams and datagrams', async (t) => {
  const srv = await echoServer();
  const pool = new ConnectionPool<PooledConnection>();
  try {
    const all = Array.from({ length: 6 }, () =>
      client(srv.port, '/wt/echo', { allowPooling: true, h3Pool: pool }),
    );
    await Promise.all(all.map((wt) => wt.ready));
    t.is(srv.connections.size, 1, 'six sessions, one QUIC connection');
    t.is([...srv.connections][0]!.sessionCount, 6);
    const answers = await Promise.all(
      all.map(async (wt, i) => {
        const s = await wt.createBidirectionalStream();
        const w = s.writable.getWriter();
        await w.write(enc.encode(`session ${i}`));
        await w.close();
        const dr = wt.datagrams.readable.getReader();
        await wt.datagrams.writable.getWriter().write(enc.encode(`dg ${i}`));
        return `${dec.decode(await readAll(s.readable))}/${dec.decode((await dr.read()).value)}`;
      }),
    );
    t.deepEqual(
      answers,
      all.map((_, i) => `session ${i}/dg ${i}`),
    );
    // closing one leaves the others working
    all[0]!.close({ closeCode: 1 });
    await all[0]!.closed;
    const s = await all[1]!.createBidirectionalStream();
    const w = s.writable.getWriter();
    await w.write(enc.encode('still here'));
    await w.close();
    t.is(dec.decode(await readAll(s.readable)), 'still here');
    for (const wt of all.slice(1)) wt.close();
    await Promise.all(all.slice(1).map((wt) => wt.closed));
  } finally {
    await srv.close();
  }
});

test('limits: sessions per connection (429), streams per session (reset), oversized datagrams dropped', async (t) => {
  let held: import('../../src/h3/wt-stream.js').WtStream[] = [];
  const srv = await server(
    () =>
      webtransport(
        {
          handleStream(s) {
            held.push(s); // never read, never answered: they stay open
          },
          handleDatagram(d, session) {
            session.sendDatagram(d);
          },
        },
        null,
        { maxStreams: 3, maxDatagramSize: 100 },
      ),
    { maxSessions: 2 },
  );
  const pool = new ConnectionPool<PooledConnection>();
  try {
    const a = client(srv.port, '/x', { allowPooling: true, h3Pool: pool });
    const b = client(srv.port, '/x', { allowPooling: true, h3Pool: pool });
    await Promise.all([a.ready, b.ready]);
    const c = client(srv.port, '/x', { allowPooling: true, h3Pool: pool });
    const err = await t.throwsAsync(c.ready);
    t.is((err as unknown as { status: number }).status, 429);
    // the fourth stream of a session whose limit is three is reset by the server
    const streams = await Promise.all([1, 2, 3, 4].map(() => a.createBidirectionalStream()));
    for (const [i, s] of streams.entries()) await s.writable.getWriter().write(enc.encode(`s${i}`));
    await until(() => held.length === 3, 3000, 'three streams held');
    const fourth = streams[3]!.readable.getReader();
    const failed = await fourth.read().then(
      () => 'read',
      (e: WebTransportError) => e.source,
    );
    t.is(failed, 'stream');
    t.is(held.length, 3);
    // a datagram over the session's 100 bytes is dropped; one under comes back
    const dr = a.datagrams.readable.getReader();
    const dw = a.datagrams.writable.getWriter();
    await dw.write(new Uint8Array(500));
    await dw.write(enc.encode('small'));
    t.is(dec.decode((await dr.read()).value), 'small');
    // the end of a session resets the streams still open on it
    held = [];
    a.close({ closeCode: 3 });
    await a.closed;
    b.close();
    await b.closed;
  } finally {
    await srv.close();
  }
});

test('the end of a session resets its open streams (WT_SESSION_GONE) on the client too', async (t) => {
  const srv = await server(() =>
    webtransport(
      {
        handleStream(s, session) {
          s.setSink({
            onData() {
              session.close(9, 'enough');
            },
            onEnd() {},
            onAbort() {},
            onDrain() {},
            onClose() {},
          });
        },
      },
      null,
    ),
  );
  try {
    const wt = client(srv.port);
    await wt.ready;
    const s = await wt.createBidirectionalStream();
    await s.writable.getWriter().write(enc.encode('x'));
    const reading = s.readable.getReader().read();
    const result = await reading.then(
      (r) => (r.done ? 'done' : 'data'),
      (e: Error) => e.name,
    );
    t.is(result, 'WebTransportError');
    t.deepEqual(await wt.closed, { closeCode: 9, reason: 'enough' });
  } finally {
    await srv.close();
  }
});

test('a server without WebTransport: the client says so; a WebSocket answer to a WebTransport request is refused', async (t) => {
  const plain = await listenH3({
    tls: { cert: certs.cert, key: certs.key },
    hosts: ['127.0.0.1'],
    handle: () => buffered(200),
  });
  try {
    const wt = client(plain.port);
    await t.throwsAsync(wt.ready, { message: /does not offer WebTransport/ });
  } finally {
    await plain.close();
  }
  const confused = await server(() => websocket({ handleIn: (_m, s: null) => ok(s) }, null));
  try {
    const wt = client(confused.port);
    const err = await t.throwsAsync(wt.ready);
    t.is((err as unknown as { status: number }).status, 400);
  } finally {
    await confused.close();
  }
});

test('a stream nobody reads is bounded: the writer stalls, the server holds at most the windows', async (t) => {
  const held: import('../../src/h3/wt-stream.js').WtStream[] = [];
  const srv = await server(() =>
    webtransport(
      {
        handleStream(s) {
          held.push(s); // no sink: never read
        },
      },
      null,
    ),
  );
  try {
    const wt = client(srv.port);
    await wt.ready;
    const s = await wt.createBidirectionalStream();
    const w = s.writable.getWriter();
    const chunk = new Uint8Array(256 * 1024);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 128; i++) {
        await w.write(chunk); // 32 MiB in all, if nothing held it back
        written += chunk.length;
      }
    })();
    // until the writer runs into the stream's and the connection's windows: no progress
    // for half a second (other tests share this process's event loop)
    await until(() => held.length === 1, 10_000, 'the server has the stream');
    let last = -1;
    const deadline = Date.now() + 15_000;
    while (written !== last && Date.now() < deadline) {
      last = written;
      await new Promise((r) => setTimeout(r, 500));
    }
    const conn = [...srv.connections][0]!;
    const received = conn.quic.stats().bytesReceived;
    t.is(written, last, 'the writer stalled');
    t.true(written < 16 * 1024 * 1024, `the writer went on to ${written} bytes`);
    // the stream's window autotunes up to 4 MiB, the connection's to 24 MiB: far below 32
    t.true(received < 12 * 1024 * 1024, `the server took ${received} bytes`);
    wt.close();
    await wt.closed;
    await writing.catch(() => {});
  } finally {
    await srv.close();
  }
});

test('a datagram flood is bounded: what the application cannot take is dropped, the session lives', async (t) => {
  let got = 0;
  const srv = await server(() =>
    webtransport(
      {
        handleDatagram() {
          got++;
        },
        handleStream(s) {
          s.setSink({
            onData: (c) => s.write(c),
            onEnd: () => s.end(),
            onAbort() {},
            onDrain() {},
            onClose() {},
          });
        },
      },
      null,
    ),
  );
  try {
    const wt = client(srv.port);
    await wt.ready;
    const w = wt.datagrams.writable.getWriter();
    const d = new Uint8Array(1000);
    for (let i = 0; i < 5_000; i++) void w.write(d);
    await w.ready;
    await until(() => got > 0, 3000, 'some datagrams arrive');
    // the session still answers on a stream after the flood
    const s = await wt.createBidirectionalStream();
    const sw = s.writable.getWriter();
    await sw.write(enc.encode('after the flood'));
    await sw.close();
    t.is(dec.decode(await readAll(s.readable)), 'after the flood');
    t.true(got <= 5_000);
    wt.close();
    await wt.closed;
  } finally {
    await srv.close();
  }
});

test('getStats: the connection figures grow with traffic; datagrams a slow reader missed are counted', async (t) => {
  const srv = await echoServer();
  try {
    const wt = client(srv.port);
    const first = await wt.getStats();
    t.true(first.packetsSent > 0 && first.packetsReceived > 0, 'the handshake counts');
    t.true(first.smoothedRtt > 0);
    t.true(first.minRtt > 0 && first.minRtt <= first.smoothedRtt);
    t.is(first.datagrams.droppedIncoming, 0);

    // 100 KB echoed on a stream: at least that much more each way
    const s = await wt.createBidirectionalStream();
    const sw = s.writable.getWriter();
    void sw.write(new Uint8Array(100_000));
    void sw.close();
    t.is((await readAll(s.readable)).length, 100_000);
    const after = await wt.getStats();
    t.true(after.bytesSent - first.bytesSent >= 100_000);
    t.true(after.bytesReceived - first.bytesReceived >= 100_000);
    t.true(after.packetsSent > first.packetsSent);
    t.true(after.timestamp >= first.timestamp);

    // nobody reads: the readable takes one, the queue keeps the newest two, the rest is dropped
    wt.datagrams.incomingHighWaterMark = 2;
    const w = wt.datagrams.writable.getWriter();
    for (let i = 0; i < 20; i++) await w.write(Uint8Array.of(i));
    let dropped = 0;
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await delay(10)) {
      dropped = (await wt.getStats()).datagrams.droppedIncoming;
      if (dropped >= 17) break;
    }
    t.is(dropped, 17, 'the echoes beyond the queue counted as dropped');
    const r = wt.datagrams.readable.getReader();
    const kept = [];
    for (let i = 0; i < 3; i++) kept.push((await r.read()).value![0]);
    t.deepEqual(kept, [0, 18, 19]);

    wt.close();
    await wt.closed;
    await t.throwsAsync(wt.getStats(), { instanceOf: WebTransportError });
  } finally {
    await srv.close();
  }
});

test('protocols: the client offers WT-Available-Protocols, the server picks one into WT-Protocol', async (t) => {
  const offers: (readonly string[] | undefined)[] = [];
  const errors: Error[] = [];
  const srv = await listenH3({
    tls: { cert: certs.cert, key: certs.key },
    hosts: ['127.0.0.1'],
    webtransport: true,
    onError: (err) => void errors.push(err),
    handle(req) {
      offers.push(req.protocols);
      if (req.pathname === '/unoffered')
        return webtransport(wtEchoHandler, null, { protocol: 'nope' });
      if (req.pathname === '/forged') {
        return webtransport(wtEchoHandler, null, { headers: { 'wt-protocol': '"forged"' } });
      }
      const pick = req.protocols?.includes('chat-v2') ? 'chat-v2' : req.protocols?.[0];
      return webtransport(wtEchoHandler, null, pick === undefined ? {} : { protocol: pick });
    },
  });
  try {
    const both = client(srv.port, '/wt', { protocols: ['chat', 'chat-v2'] });
    t.is(both.protocol, '', 'nothing agreed before ready');
    await both.ready;
    t.is(both.protocol, 'chat-v2');
    t.deepEqual(offers.at(-1), ['chat', 'chat-v2']);
    both.close();
    await both.closed;

    const none = client(srv.port, '/wt');
    await none.ready;
    t.is(none.protocol, '');
    t.deepEqual(offers.at(-1), []);
    none.close();
    await none.closed;

    // the server may only pick what was offered: its own mistake is a 500 and an error
    const bad = client(srv.port, '/unoffered', { protocols: ['chat'] });
    const refused = await t.throwsAsync(bad.ready, { instanceOf: WebTransportError });
    t.is((refused as WebTransportError & { status?: number }).status, 500);
    t.regex(errors.at(-1)?.message ?? '', /protocol "nope" was not offered/);

    // a server that names one anyway (a raw header): the client refuses the session
    const forged = client(srv.port, '/forged', { protocols: ['chat'] });
    await t.throwsAsync(forged.ready, {
      instanceOf: WebTransportError,
      message: /chose a protocol that was not offered: "forged"/,
    });

    // W3C: duplicates or names that are not printable ASCII throw at once
    for (const protocols of [['a', 'a'], [''], ['é']]) {
      let thrown: unknown;
      try {
        client(srv.port, '/wt', { protocols });
      } catch (err) {
        thrown = err;
      }
      // a DOMException, which is not an Error on every Node version
      t.is((thrown as DOMException | undefined)?.name, 'SyntaxError', JSON.stringify(protocols));
    }
    t.throws(() => webtransport(wtEchoHandler, null, { protocol: '' }), { instanceOf: TypeError });
  } finally {
    await srv.close();
  }
});

test('congestionControl: throughput runs on CUBIC, low-latency on BBR; an explicit quic.cc wins', async (t) => {
  const srv = await echoServer();
  try {
    const cases: [ConstructorParameters<typeof WebTransport>[1], string, string][] = [
      [{ congestionControl: 'throughput', quic: { cc: 'reno' } }, 'default', 'reno'],
      [{ congestionControl: 'throughput' }, 'throughput', 'cubic'],
      [{ congestionControl: 'low-latency' }, 'low-latency', 'bbr'],
      [{ quic: { cc: 'reno' } }, 'default', 'reno'],
    ];
    for (const [extra, hint, cc] of cases) {
      const wt = client(srv.port, '/wt/echo', extra);
      t.is(wt.congestionControl as string, hint, JSON.stringify(extra));
      await wt.ready;
      t.is(wt.session!.quic.stats().cc as string, cc, JSON.stringify(extra));
      wt.close();
      await wt.closed;
    }
    t.throws(
      () =>
        client(srv.port, '/wt/echo', {
          congestionControl: 'fast' as unknown as 'default',
        }),
      { instanceOf: TypeError },
    );
  } finally {
    await srv.close();
  }
});

test('serverCertificateHashes: a matching hash of a short-lived ECDSA certificate is trusted; W3C limits hold', async (t) => {
  const kinds = [
    ['ec', 10, null],
    ['ec', 30, /valid for more than 14 days/],
    ['rsa', 10, /has a rsa key, not ECDSA P-256/],
  ] as const;
  for (const [kind, days, refused] of kinds) {
    const c = await opensslCert(t, kind, days);
    const srv = await listenH3({
      tls: { cert: c.cert, key: c.key },
      hosts: ['127.0.0.1'],
      webtransport: true,
      handle: () => webtransport(wtEchoHandler, null),
    });
    try {
      // no CA: the hash alone vouches for the server
      const wt = new WebTransport(`https://localhost:${srv.port}/wt/echo`, {
        serverCertificateHashes: [{ algorithm: 'sha-256', value: c.sha256 }],
      });
      if (refused) {
        await t.throwsAsync(wt.ready, { instanceOf: WebTransportError, message: refused });
        continue;
      }
      await wt.ready;
      // the same certificate three weeks on: expired, refused
      const raw = new X509Certificate(c.cert).raw;
      t.regex(unfitForHashes(raw, Date.now() + 21 * 86_400_000) ?? '', /is not valid now/);
      t.is(unfitForHashes(raw, Date.now()), null);
      const s = await wt.createBidirectionalStream();
      const w = s.writable.getWriter();
      void w.write(enc.encode('trusted by hash'));
      void w.close();
      t.is(dec.decode(await readAll(s.readable)), 'trusted by hash');
      wt.close();
      await wt.closed;
      // another hash: refused before any request goes out
      const other = new WebTransport(`https://localhost:${srv.port}/wt/echo`, {
        serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(32) }],
      });
      await t.throwsAsync(other.ready, { instanceOf: WebTransportError, message: /matches none/ });
    } finally {
      await srv.close();
    }
  }
});
