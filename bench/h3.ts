// Echo over HTTP/3 (RFC 9220 WebSockets: listenH3 ↔ connectH3) vs a raw QUIC stream
// echo on the same engine (our quiche driver, listenQuic ↔ connectQuic, no HTTP/3 and
// no WebSocket framing), in the same run, loopback only. The ratio is what HTTP/3 +
// QPACK + WebSocket framing + the session engine cost over bare QUIC streams.
//
// Each case keeps a window of messages in flight on each stream and counts echoes until
// its message budget or time budget is spent; several WebSockets (or raw streams) share
// one QUIC connection. Numbers are comparisons within one run, not absolute truths.
//
//   npx tsc -p . && node dist/bench/h3.js [--seconds 2] [--only '10 streams']

import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCerts } from '../src/dev/certs.js';
import { closeH3Connections, connectH3 } from '../src/h3/client.js';
import type { QuicConnectionHandler } from '../src/h3/quic.js';
import { connectQuic } from '../src/h3/quic-client.js';
import { listenQuic } from '../src/h3/quic-server.js';
import { listenH3 } from '../src/server/h3-server.js';
import { ok, reply } from '../src/ws/handler.js';
import type { Session } from '../src/ws/session.js';

interface Case {
  name: string;
  size: number;
  /** WebSockets (or raw streams) at once, all on one QUIC connection. */
  streams: number;
  /** Messages in flight per stream. */
  window: number;
  /** Message budget for the whole case. */
  messages: number;
}

const CASES: Case[] = [
  { name: '64 B, 1 stream', size: 64, streams: 1, window: 32, messages: 100_000 },
  { name: '64 B, 10 streams', size: 64, streams: 10, window: 32, messages: 200_000 },
  { name: '16 KiB, 1 stream', size: 16 * 1024, streams: 1, window: 8, messages: 20_000 },
  { name: '1 MiB, 1 stream', size: 1024 * 1024, streams: 1, window: 2, messages: 200 },
];

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 2;
// --only TEXT: the cases whose name contains TEXT (a profile of one case)
const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg > 0 ? process.argv[onlyArg + 1] : undefined;
const INTERNAL_ERROR = 0x102;

interface Result {
  messages: number;
  ms: number;
  /** UDP datagrams both sides sent during the measurement. */
  datagrams: number;
}

// every datagram either side sends, counted: datagrams per echo shows how well the
// driver fills its packets (an ACK alone, then the answer, costs two)
let datagramsSent = 0;
const send = dgram.Socket.prototype.send as (...a: unknown[]) => void;
dgram.Socket.prototype.send = function (this: dgram.Socket, ...a: unknown[]) {
  datagramsSent++;
  return send.apply(this, a);
} as typeof dgram.Socket.prototype.send;

function noop(): void {}

/** WebSockets over HTTP/3, each echoing `window` messages in flight. */
async function runH3(url: string, c: Case, ca: Buffer): Promise<Result> {
  const payload = Buffer.alloc(c.size, 0x61);
  const perStream = Math.ceil(c.messages / c.streams);
  const deadline = performance.now() + SECONDS * 1000;
  let received = 0;
  const sockets: Session<null>[] = [];
  const starts: (() => void)[] = [];
  const finished: Promise<void>[] = [];
  const tls = { ca };
  for (let i = 0; i < c.streams; i++) {
    let sent = 0;
    let got = 0;
    let done!: () => void;
    finished.push(
      new Promise<void>((resolve) => {
        done = resolve;
      }),
    );
    const session: Session<null> = await connectH3(url, {
      tls,
      state: null,
      maxMessage: 2 * c.size + 1024,
      sessionIdleTimeout: 50,
      handler: {
        handleIn(_m, s) {
          got++;
          received++;
          if (got >= perStream || performance.now() > deadline) {
            if (got === sent) done();
          } else if (sent < perStream) {
            sent++;
            session.send(payload);
          }
          return ok(s);
        },
      },
    });
    sockets.push(session);
    starts.push(() => {
      for (let w = 0; w < c.window && sent < perStream; w++) {
        sent++;
        session.send(payload);
      }
    });
  }
  const t0 = performance.now();
  const d0 = datagramsSent;
  for (const start of starts) start();
  await Promise.all(finished);
  const ms = performance.now() - t0;
  const datagrams = datagramsSent - d0;
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
  return { messages: received, ms, datagrams };
}

/** Raw bidirectional QUIC streams on one connection: the server writes back what it reads. */
async function runRaw(port: number, c: Case, ca: Buffer): Promise<Result> {
  const payload = Buffer.alloc(c.size, 0x61);
  const perStream = Math.ceil(c.messages / c.streams);
  const deadline = performance.now() + SECONDS * 1000;
  let received = 0;
  const state = new Map<
    number,
    { sent: number; got: number; bytes: number; done: () => void; finished: Promise<void> }
  >();
  const handler: QuicConnectionHandler = {
    onStreamData(stream, data) {
      const s = state.get(stream);
      if (!s) return;
      s.bytes += data.length;
      while (s.bytes >= c.size) {
        s.bytes -= c.size;
        s.got++;
        received++;
        if (s.got >= perStream || performance.now() > deadline) {
          if (s.got === s.sent) s.done();
        } else if (s.sent < perStream) {
          s.sent++;
          conn.write(stream, payload);
        }
      }
    },
    onStreamReset: noop,
    onStreamStopped: noop,
    onStreamDrain: noop,
    onClose: noop,
  };
  const conn = await connectQuic({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca,
    alpn: ['h3'],
    internalErrorCode: INTERNAL_ERROR,
    timeout: 5000,
    onEstablished: () => handler,
  });
  for (let i = 0; i < c.streams; i++) {
    const id = conn.openStream('bidi');
    if (id === null) throw new Error('no stream left');
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    state.set(id, { sent: 0, got: 0, bytes: 0, done, finished });
  }
  const t0 = performance.now();
  const d0 = datagramsSent;
  for (const [id, s] of state) {
    for (let w = 0; w < c.window && s.sent < perStream; w++) {
      s.sent++;
      conn.write(id, payload);
    }
  }
  await Promise.all([...state.values()].map((s) => s.finished));
  const ms = performance.now() - t0;
  const datagrams = datagramsSent - d0;
  conn.close(0x100);
  await conn.whenGone();
  return { messages: received, ms, datagrams };
}

function rate(r: Result): number {
  return r.messages / (r.ms / 1000);
}

/** UDP datagrams (both sides) per echoed message. */
function perEcho(r: Result): string {
  return (r.datagrams / Math.max(1, r.messages)).toFixed(2);
}

function fmt(perSec: number, size: number): string {
  return `${Math.round(perSec).toLocaleString('en-US')} msg/s (${((perSec * size) / 1e6).toFixed(1)} MB/s)`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-bench-h3-'));
  try {
    const paths = await ensureCerts(dir);
    const [ca, cert, key] = await Promise.all([
      readFile(paths.ca),
      readFile(paths.cert),
      readFile(paths.key),
    ]);
    const h3 = await listenH3({
      cert,
      key,
      hosts: ['127.0.0.1'],
      routes: { '/echo': { handler: { handleIn: (m, s) => reply(s, m.data) }, state: null } },
      maxMessage: 4 * 1024 * 1024,
    });
    const raw = await listenQuic({
      hosts: ['127.0.0.1'],
      port: 0,
      cert,
      key,
      alpn: ['h3'],
      internalErrorCode: INTERNAL_ERROR,
      onConnection: (conn) => ({
        onStreamData(stream, data, fin) {
          conn.write(stream, data, fin);
        },
        onStreamReset: noop,
        onStreamStopped: noop,
        onStreamDrain: noop,
        onClose: noop,
      }),
    });
    const url = `wss://127.0.0.1:${h3.port}/echo`;
    const rows: string[][] = [];
    for (const c of CASES.filter((k) => ONLY === undefined || k.name.includes(ONLY))) {
      // warm-up, then the two kinds back to back
      await runRaw(raw.port, { ...c, messages: Math.min(c.messages, 200) }, ca);
      await runH3(url, { ...c, messages: Math.min(c.messages, 200) }, ca);
      const r = await runRaw(raw.port, c, ca);
      const w = await runH3(url, c, ca);
      rows.push([
        c.name,
        fmt(rate(w), c.size),
        fmt(rate(r), c.size),
        `${((rate(w) / rate(r)) * 100).toFixed(0)}%`,
        `${perEcho(w)} / ${perEcho(r)}`,
      ]);
      process.stderr.write(`h3 bench: ${c.name} done\n`);
    }
    closeH3Connections();
    await h3.close();
    await raw.close(0x100);
    const head = [
      'case',
      'WebSocket over HTTP/3',
      'raw QUIC stream',
      'h3 / raw',
      'datagrams per echo, h3 / raw',
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      `| ${cells.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
    console.log(
      `Echo over HTTP/3 (RFC 9220) vs raw QUIC streams, same quiche driver, loopback, ${SECONDS} s budget per measurement`,
    );
    console.log(line(head));
    console.log(line(widths.map((n) => '-'.repeat(n))));
    for (const r of rows) console.log(line(r));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
