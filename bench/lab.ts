// The `lab` section of `npm run bench` (issue 20): WebSocket over HTTP/3 through
// `omniws lab` (src/dev/lab.ts: a UDP relay that loses, delays and rate-limits), per
// congestion controller, at 0 %, 1 % and 5 % loss each way. Two measures per cell:
//  - echo: 100 round trips of a 1 KiB message, one at a time (median and 95th
//    percentile round-trip time);
//  - download: 10 MB sent by the server as 64 KiB binary messages as fast as the
//    connection takes them (MB/s from the open to the last byte), and what QUIC lost and
//    sent again (the client's pathStats()).
// The path: 10 ms each way (20 ms RTT) through a 50 Mbit/s bottleneck with a 100 ms
// queue, in datagrams of at most 1350 bytes (a real path's size, not loopback's 16 KiB).
// Server, client and relay run in this one process (one core's worth of work):
// the figures compare the controllers on this path, they are not a network's.
//
//   node dist/bench/lab.js [--rounds R]

import { Agent } from '../src/client/agent.js';
import { connect } from '../src/client/connect.js';
import { removeTempCerts, tempCerts } from '../src/dev/certs.js';
import { startLab } from '../src/dev/lab.js';
import { CONGESTION_CONTROLLERS, type CongestionControl } from '../src/h3/congestion.js';
import { listenH3 } from '../src/server/h3-server.js';
import { type Handler, ok, reply } from '../src/ws/handler.js';
import { fixed, log, median, table } from './measure.js';

const LOSSES = [0, 0.01, 0.05];
const DELAY = 10;
const RATE = 50e6 / 8;
const ECHOES = 100;
const DOWNLOAD = 10e6;
const CHUNK = 64 * 1024;
const CAP_MS = 45_000;

interface Cell {
  cc: CongestionControl;
  pacing: boolean;
  loss: number;
  echoMedianMs: number;
  echoP95Ms: number;
  downloadMBps: number;
  /** The download did not finish within CAP_MS. */
  capped: boolean;
  packetsLost: number;
  bytesRetransmitted: number;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
}

async function cell(cc: CongestionControl, pacing: boolean, loss: number): Promise<Cell> {
  const certs = await tempCerts('bench-lab');
  const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
  const sender: Handler<null> = {
    init(_req, st, session) {
      // as fast as the connection takes it: wait for the drain past 1 MiB queued
      const chunk = Buffer.alloc(CHUNK, 0x5a);
      void (async () => {
        for (let sent = 0; sent < DOWNLOAD; sent += CHUNK) {
          if (!session.send(chunk.subarray(0, Math.min(CHUNK, DOWNLOAD - sent)))) {
            await session.drained();
          }
        }
      })().catch(() => {
        // the client gave up (the cap below): the session is closed
      });
      return ok(st);
    },
    handleIn: (_m, st) => ok(st),
  };
  const srv = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    // a real path's datagram size, not loopback's 16 KiB
    quic: { cc, pacing, maxUdpPayload: 1350 },
    route: (req) => ({ handler: req.pathname === '/download' ? sender : echo, state: null }),
  });
  const lab = await startLab({
    target: { host: '127.0.0.1', port: srv.port },
    loss,
    delay: DELAY,
    rate: RATE,
    seed: 7,
  });
  const agent = new Agent();
  const opts = {
    http: 3 as const,
    agent,
    state: null,
    tls: { ca: certs.ca, servername: 'localhost' },
    quic: { cc, pacing, maxUdpPayload: 1350 },
    maxMessage: 1 << 20,
  };
  try {
    // echo
    let wake: (() => void) | null = null;
    const s = await connect(`wss://127.0.0.1:${lab.port}/echo`, {
      ...opts,
      handler: {
        handleIn: (_m, st) => {
          wake?.();
          return ok(st);
        },
      },
    });
    const msg = Buffer.alloc(1024, 1);
    const rtts: number[] = [];
    for (let i = 0; i < ECHOES; i++) {
      const t0 = performance.now();
      const back = new Promise<void>((r) => {
        wake = r;
      });
      s.send(msg);
      await back;
      rtts.push(performance.now() - t0);
    }
    s.close(1000);
    await s.closed;
    // download
    let got = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => {
      done = r;
    });
    const t0 = performance.now();
    const d = await connect(`wss://127.0.0.1:${lab.port}/download`, {
      ...opts,
      handler: {
        handleIn: (m, st) => {
          got += (m.data as Buffer).length;
          if (got >= DOWNLOAD) done();
          return ok(st);
        },
      },
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, CAP_MS))]);
    const secs = (performance.now() - t0) / 1000;
    const capped = got < DOWNLOAD;
    const st = d.pathStats()!;
    d.close(1000);
    await d.closed;
    return {
      cc,
      pacing,
      loss,
      echoMedianMs: median(rtts),
      echoP95Ms: pct(rtts, 0.95),
      // capped: the rate of what arrived within the cap
      downloadMBps: got / 1e6 / secs,
      capped,
      packetsLost: st.packetsLost,
      bytesRetransmitted: st.bytesRetransmitted,
    };
  } finally {
    agent.close();
    await lab.close();
    await srv.close();
    await removeTempCerts(certs);
  }
}

const cells: Cell[] = [];
for (const cc of CONGESTION_CONTROLLERS) {
  for (const pacing of [true, false]) {
    for (const loss of LOSSES) {
      log(`lab: ${cc}${pacing ? '' : ' without pacing'} at ${loss * 100}% loss`);
      cells.push(await cell(cc, pacing, loss));
    }
  }
}
const rows = cells.map((c) => [
  c.cc,
  c.pacing ? 'on' : 'off',
  `${c.loss * 100}%`,
  fixed(c.echoMedianMs, 1),
  fixed(c.echoP95Ms, 1),
  `${fixed(c.downloadMBps, 2)}${c.capped ? ' (capped)' : ''}`,
  String(c.packetsLost),
  String(c.bytesRetransmitted),
]);
console.log(`### HTTP/3 through the lab (issue 20)

WebSocket over HTTP/3 through \`omniws lab\`: ${DELAY} ms each way, ${(RATE * 8) / 1e6} Mbit/s bottleneck with a 100 ms queue, the loss each way, datagrams of at most 1350 bytes. Echo: ${ECHOES} round trips of 1 KiB, one at a time. Download: ${DOWNLOAD / 1e6} MB in 64 KiB messages, given ${CAP_MS / 1000} s at most ("capped": the rate of what arrived by then; the client's pathStats() after it: lost packets, bytes sent again). One process: server, client and relay.

${table(['cc', 'pacing', 'loss', 'echo median ms', 'echo p95 ms', 'download MB/s', 'packets lost', 'bytes retransmitted'], rows)}

<!-- json ${JSON.stringify(cells)} -->`);
process.exit(0);
