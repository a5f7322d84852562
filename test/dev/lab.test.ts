// `omniws lab` (src/dev/lab.ts): the UDP relay loses what it is told to lose (the same
// datagrams for the same seed), delays, reorders and rate-limits; a WebSocket over HTTP/3
// goes through 5 % loss each way with every message intact and QUIC counting what it
// lost; the command starts, says what it does, and refuses nonsense.

import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseRate } from '../../src/cli.js';
import { Agent } from '../../src/client/agent.js';
import { connect } from '../../src/client/connect.js';
import { startLab } from '../../src/dev/lab.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts } from '../certs.js';
import { until } from '../helpers.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'omniws.js');

/** A UDP echo target and a client socket that records what comes back, and when. */
async function udpPair() {
  const target = dgram.createSocket('udp4');
  target.on('message', (m, r) => target.send(m, r.port, r.address));
  target.bind(0, '127.0.0.1');
  await once(target, 'listening');
  const client = dgram.createSocket('udp4');
  const got: { n: number; at: number }[] = [];
  client.on('message', (m) => got.push({ n: m.readUInt32BE(0), at: performance.now() }));
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  return {
    port: target.address().port,
    client,
    got,
    close() {
      target.close();
      client.close();
    },
  };
}

function datagram(n: number, size = 100): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(n);
  return b;
}

test('loss: a fraction of the datagrams each way, the same ones for the same seed', async (t) => {
  const runs: number[][] = [];
  for (let run = 0; run < 2; run++) {
    const p = await udpPair();
    const lab = await startLab({
      target: { host: '127.0.0.1', port: p.port },
      loss: 0.2,
      seed: 42,
    });
    // paced: a burst of 1000 would overflow the sockets' buffers before the relay reads
    for (let i = 0; i < 1000; i++) {
      p.client.send(datagram(i), lab.port, '127.0.0.1');
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 300));
    const c = lab.counters;
    // each way ~20 %: both together leave ~64 % of the round trips
    t.true(c.up.dropped > 140 && c.up.dropped < 260, JSON.stringify(c));
    t.is(c.up.forwarded + c.up.dropped, 1000);
    t.is(c.down.forwarded + c.down.dropped, c.up.forwarded);
    t.is(p.got.length, c.down.forwarded);
    runs.push(p.got.map((g) => g.n).sort((a, b) => a - b));
    await lab.close();
    p.close();
  }
  t.deepEqual(runs[0], runs[1]);
});

test('delay and jitter: nothing comes back before twice the delay; reordering changes the order', async (t) => {
  const p = await udpPair();
  const lab = await startLab({
    target: { host: '127.0.0.1', port: p.port },
    delay: 30,
    reorder: 0.3,
    reorderBy: 20,
  });
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) p.client.send(datagram(i), lab.port, '127.0.0.1');
  await until(() => p.got.length >= 50, 5000, 'every datagram through the relay');
  t.is(p.got.length, 50);
  t.true(Math.min(...p.got.map((g) => g.at - t0)) >= 59, 'two delays of 30 ms');
  const order = p.got.map((g) => g.n);
  t.notDeepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  t.true(lab.counters.up.reordered > 0);
  await lab.close();
  p.close();
});

test('rate: a burst beyond the 100 ms queue is dropped, and what passes leaves at the rate', async (t) => {
  const p = await udpPair();
  // 100 KB/s: the queue holds 10 KB
  const lab = await startLab({ target: { host: '127.0.0.1', port: p.port }, rate: 100_000 });
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) p.client.send(datagram(i, 1000), lab.port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, 500));
  const c = lab.counters.up;
  // ~11 fit at once (10 KB of queue, 1 KB each) and a few more drain while the burst is
  // still being read: the rest overflow
  t.true(c.forwarded >= 10 && c.forwarded <= 25, JSON.stringify(c));
  // (the sockets themselves may drop a few of a burst this size before the relay reads)
  t.true(c.forwarded + c.queueDrops >= 80 && c.forwarded + c.queueDrops <= 100);
  t.true(c.queueDrops >= 50);
  // what passed left at 100 KB/s: 1 KB every 10 ms
  const last = Math.max(...p.got.map((g) => g.at - t0));
  t.true(last >= (c.forwarded - 1) * 10 * 0.8, `last at ${last} ms for ${c.forwarded}`);
  await lab.close();
  p.close();
});

test('bad impairments are refused', async (t) => {
  const target = { host: '127.0.0.1', port: 9 };
  await t.throwsAsync(startLab({ target, loss: 1.5 }), { message: /loss is a fraction/ });
  await t.throwsAsync(startLab({ target, delay: -1 }), { message: /delay is a duration/ });
  await t.throwsAsync(startLab({ target, rate: 0 }), { message: /rate is bytes per second/ });
  t.is(parseRate('10mbit'), 1_250_000);
  t.is(parseRate('500kbit'), 62_500);
  t.is(parseRate('2mbyte'), 2_000_000);
  t.is(parseRate('1000'), 1000);
  t.throws(() => parseRate('fast'), { message: /--rate takes/ });
});

test('a WebSocket over HTTP/3 through 5 % loss each way: every message intact, the losses counted by QUIC', async (t) => {
  const certs = await makeCerts('lab');
  const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
  const srv = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    route: () => ({ handler: echo, state: null }),
  });
  const lab = await startLab({
    target: { host: '127.0.0.1', port: srv.port },
    loss: 0.05,
    delay: 2,
    seed: 3,
  });
  const agent = new Agent();
  try {
    const got: Buffer[] = [];
    let wake: (() => void) | null = null;
    const s = await connect(`wss://127.0.0.1:${lab.port}/`, {
      http: 3,
      agent,
      state: null,
      tls: { ca: certs.ca, servername: 'localhost' },
      handler: {
        handleIn: (m, st) => {
          got.push(m.data as Buffer);
          wake?.();
          return ok(st);
        },
      },
    });
    for (let i = 0; i < 40; i++) {
      const msg = Buffer.alloc(20_000, i);
      const back = new Promise<void>((r) => {
        wake = r;
      });
      s.send(msg);
      await back;
      t.true(got[i]!.equals(msg), `message ${i}`);
    }
    const st = s.pathStats()!;
    t.true(st.packetsLost > 0, JSON.stringify(st));
    t.true(lab.counters.up.dropped + lab.counters.down.dropped > 0);
    s.close(1000);
    await s.closed;
  } finally {
    agent.close();
    await lab.close();
    await srv.close();
    await removeCerts(certs);
  }
});

test('omniws lab: starts, says what it does, counts on SIGINT; a missing --to is usage', async (t) => {
  const p = spawn(
    process.execPath,
    [bin, 'lab', '--to', '127.0.0.1:9', '--loss', '1', '--delay', '5', '--rate', '10mbit'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  p.stdout.on('data', (d) => {
    out += d;
  });
  await new Promise<void>((resolve) => {
    const check = () => (out.includes('lab: udp') ? resolve() : setTimeout(check, 50));
    check();
  });
  t.regex(
    out,
    /^lab: udp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:9 \(loss 1%, delay 5 ms, jitter 0 ms, reorder 0%, rate 10mbit\), each way$/m,
  );
  p.kill('SIGINT');
  const [code] = (await once(p, 'exit')) as [number];
  t.is(code, 0);
  t.regex(out, /lab: up \{"forwarded":0/);
  const bad = spawn(process.execPath, [bin, 'lab'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  bad.stderr.on('data', (d) => {
    err += d;
  });
  const [badCode] = (await once(bad, 'exit')) as [number];
  t.is(badCode, 2);
  t.regex(err, /--to HOST:PORT is needed/);
});
