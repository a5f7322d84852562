// Echo over HTTP/2 (RFC 8441) vs echo over HTTP/1.1 (RFC 6455), same server, same
// port (TLS + ALPN), same run, loopback only. Each case keeps a window of messages in
// flight on each WebSocket and counts echoes until its message budget or time budget
// is spent. Numbers are comparisons within one run, not absolute truths.
//
//   npx tsc -p . && node dist/bench/h2.js [--seconds 2]

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/client/connect.js';
import { ensureCerts } from '../src/dev/certs.js';
import { closeH2Sessions } from '../src/h2/client.js';
import { listenH2 } from '../src/server/h2-server.js';
import { ok, reply } from '../src/ws/handler.js';
import type { Session } from '../src/ws/session.js';

interface Case {
  name: string;
  size: number;
  /** WebSockets used at once (h1: one connection each; h2: streams of one connection). */
  sockets: number;
  /** Messages in flight per WebSocket. */
  window: number;
  /** Message budget for the whole case. */
  messages: number;
}

const CASES: Case[] = [
  { name: '64 B, 1 socket', size: 64, sockets: 1, window: 32, messages: 200_000 },
  { name: '64 B, 10 sockets', size: 64, sockets: 10, window: 32, messages: 400_000 },
  { name: '16 KiB, 1 socket', size: 16 * 1024, sockets: 1, window: 8, messages: 40_000 },
  { name: '1 MiB, 1 socket', size: 1024 * 1024, sockets: 1, window: 2, messages: 1_000 },
  // issue #7: one h2 connection carrying 50 WebSockets vs 50 h1 connections
  { name: '64 B, 50 sockets', size: 64, sockets: 50, window: 16, messages: 1_000_000 },
  { name: '16 KiB, 50 sockets', size: 16 * 1024, sockets: 50, window: 2, messages: 100_000 },
];

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 2;

interface Result {
  messages: number;
  ms: number;
}

async function runCase(url: string, http: 1 | 2, c: Case, ca: Buffer): Promise<Result> {
  const payload = Buffer.alloc(c.size, 0x61);
  const perSocket = Math.ceil(c.messages / c.sockets);
  const deadline = performance.now() + SECONDS * 1000;
  let received = 0;
  const sockets: Session<null>[] = [];
  const starts: (() => void)[] = [];
  const finished: Promise<void>[] = [];
  const tls = { ca };
  for (let i = 0; i < c.sockets; i++) {
    let sent = 0;
    let got = 0;
    let done!: () => void;
    finished.push(
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    const session: Session<null> = await connect(url, {
      http,
      tls,
      state: null,
      maxMessage: 2 * c.size + 1024,
      handler: {
        handleIn(_m, s) {
          got++;
          received++;
          if (got >= perSocket || performance.now() > deadline) {
            if (got === sent) done();
          } else if (sent < perSocket) {
            sent++;
            session.send(payload);
          }
          return ok(s);
        },
      },
    });
    sockets.push(session);
    starts.push(() => {
      for (let w = 0; w < c.window && sent < perSocket; w++) {
        sent++;
        session.send(payload);
      }
    });
  }
  const t0 = performance.now();
  for (const start of starts) start();
  await Promise.all(finished);
  const ms = performance.now() - t0;
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
  return { messages: received, ms };
}

function fmt(r: Result, size: number): { rate: string; mbps: string } {
  const perSec = r.messages / (r.ms / 1000);
  return {
    rate: `${Math.round(perSec).toLocaleString('en-US')} msg/s`,
    mbps: `${((perSec * size) / 1e6).toFixed(1)} MB/s`,
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-bench-h2-'));
  try {
    const paths = await ensureCerts(dir);
    const [ca, cert, key] = await Promise.all([
      readFile(paths.ca),
      readFile(paths.cert),
      readFile(paths.key),
    ]);
    const server = await listenH2({
      tls: { cert, key },
      routes: { '/echo': { handler: { handleIn: (m, s) => reply(s, m.data) }, state: null } },
      maxMessage: 4 * 1024 * 1024,
    });
    const url = `wss://localhost:${server.port}/echo`;
    console.log(
      `echo over TLS on one port, ${SECONDS} s budget per case (node ${process.version})`,
    );
    console.log('case'.padEnd(20), 'h1'.padEnd(34), 'h2'.padEnd(34), 'h2/h1');
    try {
      // warm-up (JIT, TLS session setup paths), not reported
      const warm: Case = { name: 'warm-up', size: 1024, sockets: 2, window: 8, messages: 20_000 };
      await runCase(url, 1, warm, ca);
      await runCase(url, 2, warm, ca);
      closeH2Sessions();
      for (const c of CASES) {
        const h1 = await runCase(url, 1, c, ca);
        const h2 = await runCase(url, 2, c, ca);
        closeH2Sessions();
        const a = fmt(h1, c.size);
        const b = fmt(h2, c.size);
        const ratio = h2.messages / h2.ms / (h1.messages / h1.ms);
        console.log(
          c.name.padEnd(20),
          `${a.rate} ${a.mbps}`.padEnd(34),
          `${b.rate} ${b.mbps}`.padEnd(34),
          ratio.toFixed(2),
        );
      }
    } finally {
      await server.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
