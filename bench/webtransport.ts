// The `webtransport` section of `npm run bench` (issue 21): WebTransport against a
// WebSocket, both over HTTP/3 on the same QUIC driver, same server, same run, loopback.
//  - round trips: 1 KiB echoed one at a time (a bidirectional stream; a WebSocket message;
//    a datagram), round trips per second;
//  - throughput: 64 KiB chunks echoed with 8 in flight (a bidirectional stream; WebSocket
//    binary messages), MB/s each way;
//  - datagrams: 1 KiB datagrams with 64 in flight, echoed: datagrams per second and the
//    share lost (QUIC does not resend them; the queues drop when full).
// Each measure runs `--seconds` per round, `--rounds` rounds; the median is reported.
//
//   node dist/bench/webtransport.js [--rounds R] [--seconds S]

import { Agent } from '../src/client/agent.js';
import { connect } from '../src/client/connect.js';
import { removeTempCerts, tempCerts } from '../src/dev/certs.js';
import { wtEchoHandler } from '../src/dev/wt-echo.js';
import { WebTransport } from '../src/h3/wt-client.js';
import { listenH3 } from '../src/server/h3-server.js';
import { buffered, websocket } from '../src/server/handler.js';
import { webtransport } from '../src/server/webtransport.js';
import { type Handler, ok, reply } from '../src/ws/handler.js';
import type { Session } from '../src/ws/session.js';
import { benchArgs, fixed, int, log, median, ratio, table } from './measure.js';

const { rounds, seconds } = benchArgs();
const KIB = 1024;
const CHUNK = 64 * KIB;
const WINDOW = 8;
const DGRAM_WINDOW = 64;

const certs = await tempCerts('bench-wt');
const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
const srv = await listenH3({
  tls: { cert: certs.cert, key: certs.key },
  hosts: ['127.0.0.1'],
  webtransport: true,
  handle: (req) => {
    if (req.protocol === 'webtransport') return webtransport(wtEchoHandler, null);
    if (req.upgrade) return websocket(echo, null, { maxMessage: 1 << 20 });
    return buffered(404);
  },
});
const tls = { ca: certs.ca, servername: 'localhost' };
const until = (ms: number) => performance.now() + ms;

/** A WebSocket over HTTP/3 whose echoes wake `next()`. */
async function webSocket(agent: Agent): Promise<{ s: Session<null>; next: () => Promise<number> }> {
  const waiting: ((n: number) => void)[] = [];
  const queued: number[] = [];
  const s = await connect<null>(`wss://127.0.0.1:${srv.port}/ws`, {
    http: 3,
    agent,
    state: null,
    tls,
    maxMessage: 1 << 20,
    handler: {
      handleIn: (m, st) => {
        const n = (m.data as Buffer).length;
        const w = waiting.shift();
        if (w) w(n);
        else queued.push(n);
        return ok(st);
      },
    },
  });
  const next = () =>
    queued.length > 0
      ? Promise.resolve(queued.shift()!)
      : new Promise<number>((resolve) => waiting.push(resolve));
  return { s, next };
}

async function wsRoundTrips(agent: Agent): Promise<number> {
  const { s, next } = await webSocket(agent);
  const msg = Buffer.alloc(KIB, 1);
  let n = 0;
  const end = until(seconds * 1000);
  const t0 = performance.now();
  while (performance.now() < end) {
    s.send(msg);
    await next();
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  s.close(1000);
  await s.closed;
  return rate;
}

async function wsThroughput(agent: Agent): Promise<number> {
  const { s, next } = await webSocket(agent);
  const chunk = Buffer.alloc(CHUNK, 2);
  let bytes = 0;
  for (let i = 0; i < WINDOW; i++) s.send(chunk);
  const end = until(seconds * 1000);
  const t0 = performance.now();
  while (performance.now() < end) {
    bytes += await next();
    s.send(chunk);
  }
  const mbps = bytes / 1e6 / ((performance.now() - t0) / 1000);
  s.close(1000);
  await s.closed;
  return mbps;
}

async function session(): Promise<WebTransport> {
  const wt = new WebTransport(`https://127.0.0.1:${srv.port}/wt/echo`, { tls });
  await wt.ready;
  return wt;
}

async function wtRoundTrips(): Promise<number> {
  const wt = await session();
  const s = await wt.createBidirectionalStream();
  const w = s.writable.getWriter();
  const r = s.readable.getReader();
  const msg = new Uint8Array(KIB).fill(1);
  let n = 0;
  const end = until(seconds * 1000);
  const t0 = performance.now();
  while (performance.now() < end) {
    await w.write(msg);
    let got = 0;
    while (got < KIB) got += (await r.read()).value!.byteLength;
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  wt.close();
  await wt.closed;
  return rate;
}

async function wtThroughput(): Promise<number> {
  const wt = await session();
  const s = await wt.createBidirectionalStream();
  const w = s.writable.getWriter();
  const r = s.readable.getReader();
  const chunk = new Uint8Array(CHUNK).fill(2);
  let inFlight = 0;
  let bytes = 0;
  const end = until(seconds * 1000);
  const t0 = performance.now();
  const writer = (async () => {
    while (performance.now() < end) {
      if (inFlight >= WINDOW * CHUNK) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      inFlight += CHUNK;
      await w.write(chunk);
    }
  })();
  while (performance.now() < end) {
    const { value } = await r.read();
    bytes += value!.byteLength;
    inFlight -= value!.byteLength;
  }
  const mbps = bytes / 1e6 / ((performance.now() - t0) / 1000);
  await writer;
  wt.close();
  await wt.closed;
  return mbps;
}

async function datagrams(window: number): Promise<{ rate: number; lost: number }> {
  const wt = await session();
  const w = wt.datagrams.writable.getWriter();
  const r = wt.datagrams.readable.getReader();
  wt.datagrams.incomingHighWaterMark = 4096;
  const d = new Uint8Array(KIB).fill(3);
  let sent = 0;
  let got = 0;
  const end = until(seconds * 1000);
  const t0 = performance.now();
  // a lost datagram frees its slot after a while: never wait on it forever
  const reading = (async () => {
    for (;;) {
      const x = await r.read();
      if (x.done) return;
      got++;
    }
  })();
  // a lost datagram never comes back: after 20 ms without progress the window forgets it
  let writtenOff = 0;
  let stalled = 0;
  while (performance.now() < end) {
    if (sent - got - writtenOff >= window) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (++stalled > 20) {
        writtenOff = sent - got;
        stalled = 0;
      }
      continue;
    }
    stalled = 0;
    await w.write(d);
    sent++;
  }
  const secs = (performance.now() - t0) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 100));
  const rate = got / secs;
  wt.close();
  await wt.closed;
  await reading.catch(() => {});
  return { rate, lost: sent > 0 ? (sent - Math.min(got, sent)) / sent : 0 };
}

async function wtDatagramRoundTrips(): Promise<number> {
  const wt = await session();
  const w = wt.datagrams.writable.getWriter();
  const r = wt.datagrams.readable.getReader();
  const d = new Uint8Array(KIB).fill(4);
  let n = 0;
  const end = until(seconds * 1000);
  const t0 = performance.now();
  while (performance.now() < end) {
    await w.write(d);
    const got = await Promise.race([
      r.read(),
      new Promise((res) => setTimeout(() => res(null), 100)),
    ]);
    if (got) n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  wt.close();
  await wt.closed;
  return rate;
}

const agent = new Agent();
const results: Record<string, number[]> = {};
const note = (k: string, v: number) => {
  results[k] ??= [];
  results[k]!.push(v);
};
try {
  for (let round = 0; round < rounds; round++) {
    log(`webtransport: round ${round + 1}/${rounds}`);
    note('ws rtt', await wsRoundTrips(agent));
    note('wt rtt', await wtRoundTrips());
    note('dg rtt', await wtDatagramRoundTrips());
    note('ws mbps', await wsThroughput(agent));
    note('wt mbps', await wtThroughput());
    const dg = await datagrams(DGRAM_WINDOW);
    note('dg rate', dg.rate);
    note('dg lost', dg.lost);
  }
} finally {
  agent.close();
  await srv.close();
  await removeTempCerts(certs);
}
const m = (k: string) => median(results[k] ?? []);
const out = {
  roundTrips: { webSocket: m('ws rtt'), stream: m('wt rtt'), datagram: m('dg rtt') },
  throughputMBps: { webSocket: m('ws mbps'), stream: m('wt mbps') },
  datagramsPerSec: m('dg rate'),
  datagramsLost: m('dg lost'),
};
const rows = [
  [
    '1 KiB round trips, one at a time (/s)',
    int(out.roundTrips.webSocket),
    int(out.roundTrips.stream),
    int(out.roundTrips.datagram),
    ratio(out.roundTrips.stream / out.roundTrips.webSocket),
  ],
  [
    `64 KiB echo, ${WINDOW} in flight (MB/s)`,
    fixed(out.throughputMBps.webSocket, 1),
    fixed(out.throughputMBps.stream, 1),
    '',
    ratio(out.throughputMBps.stream / out.throughputMBps.webSocket),
  ],
  [
    `1 KiB datagrams, ${DGRAM_WINDOW} in flight (/s; lost)`,
    '',
    '',
    `${int(out.datagramsPerSec)} (${fixed(out.datagramsLost * 100, 1)}% lost)`,
    '',
  ],
];
console.log(`### WebTransport over HTTP/3 (issue 21)

WebTransport against a WebSocket, both over HTTP/3 on the same QUIC driver and server, loopback, one process. ${rounds} round(s) of ${seconds} s per measure; medians. The Node WebTransport client; the server's /wt/echo (src/dev/wt-echo.ts) and a WebSocket echo.

${table(['measure', 'WebSocket', 'WebTransport stream', 'WebTransport datagram', 'stream ÷ WebSocket'], rows)}

<!-- json ${JSON.stringify(out)} -->`);
process.exit(0);
