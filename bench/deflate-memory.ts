// Memory per idle WebSocket with permessage-deflate, omniws vs ws, in one run.
//
// Each server variant runs in its own child process (so one variant's heap and
// malloc arenas do not colour another's). The parent opens N raw TCP clients that
// offer what Chromium offers ("permessage-deflate; client_max_window_bits"), sends
// one compressed 2 KiB text message on each, waits for the echo (compressed too:
// it is above both libraries' 1 KiB threshold), and then the child reports its
// memory after a full GC. The per-connection figure is (after − before) / N.
// Loopback only; every wait is bounded.
//
//   npx tsc -p . && node dist/bench/deflate-memory.js [connections=1000]

import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';
import { listen } from '../src/server/h1-server.js';
import { DEFLATE_LEAN, type DeflateOptions } from '../src/ws/deflate.js';
import { encodeFrame, Opcode } from '../src/ws/frame.js';
import { reply } from '../src/ws/handler.js';

interface Variant {
  name: string;
  lib: 'ws' | 'omniws';
  deflate: boolean | DeflateOptions;
  hibernate?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'ws, deflate off', lib: 'ws', deflate: false },
  { name: 'ws, deflate on (defaults)', lib: 'ws', deflate: true },
  { name: 'omniws, deflate off', lib: 'omniws', deflate: false },
  { name: 'omniws, deflate on (defaults)', lib: 'omniws', deflate: true },
  { name: 'omniws, deflate lean preset', lib: 'omniws', deflate: { ...DEFLATE_LEAN } },

  {
    name: 'omniws, deflate, no context takeover',
    lib: 'omniws',
    deflate: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
  { name: 'omniws, deflate on + hibernate', lib: 'omniws', deflate: true, hibernate: true },
  {
    name: 'omniws, deflate lean + hibernate',
    lib: 'omniws',
    deflate: { ...DEFLATE_LEAN },
    hibernate: true,
  },
  { name: 'omniws, deflate off + hibernate', lib: 'omniws', deflate: false, hibernate: true },
];

const MESSAGE_SIZE = 2048;

/** A 2 KiB JSON-ish text, compressible as chat or telemetry messages are. */
function message(i: number): Buffer {
  let s = '';
  for (let k = 0; s.length < MESSAGE_SIZE; k++) {
    s += JSON.stringify({ id: i * 100 + k, user: `user${(i * 7 + k) % 97}`, text: 'hello there' });
  }
  return Buffer.from(s.slice(0, MESSAGE_SIZE));
}

type Usage = { rss: number; heapUsed: number; external: number; arrayBuffers: number };

// ── child: one server ────────────────────────────────────────────────────────

async function child(v: Variant): Promise<void> {
  let port: number;
  if (v.lib === 'ws') {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: v.deflate as boolean,
    });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data, binary) => ws.send(data, { binary }));
    });
    port = (wss.address() as AddressInfo).port;
  } else {
    const srv = await listen({
      perMessageDeflate: v.deflate,
      routes: {
        '/': {
          state: null,
          handler: {
            handleIn: (m, s) => reply(s, m.data, v.hibernate ? { hibernate: true } : undefined),
          },
        },
      },
    });
    port = srv.port;
  }
  process.on('message', async (m: string) => {
    if (m !== 'measure') return;
    for (let i = 0; i < 3; i++) {
      global.gc?.();
      await new Promise((r) => setTimeout(r, 50));
    }
    const u = process.memoryUsage();
    const usage: Usage = {
      rss: u.rss,
      heapUsed: u.heapUsed,
      external: u.external,
      arrayBuffers: u.arrayBuffers,
    };
    process.send?.(usage);
  });
  process.send?.({ port });
}

// ── parent: clients and the table ────────────────────────────────────────────

function nextMessage<T>(c: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child did not answer in 30 s')), 30_000);
    c.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
  });
}

/** One raw client: handshake with Chromium's offer, one compressed message, wait for the echo. */
async function client(
  port: number,
  frame: { compressed: Buffer; plain: Buffer },
): Promise<{ socket: net.Socket; ext: string }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
  );
  let buf = Buffer.alloc(0);
  let ext = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no echo in 20 s')), 20_000);
    socket.on('error', reject);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (ext === '') {
        const head = buf.subarray(0, end).toString('latin1');
        ext = /sec-websocket-extensions: *(.*)/i.exec(head)?.[1]?.trim() ?? 'none';
        socket.write(ext === 'none' ? frame.plain : frame.compressed);
      }
      if (buf.length > end + 4) {
        socket.removeListener('data', onData);
        clearTimeout(timer);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  return { socket, ext };
}

async function measureVariant(
  v: Variant,
  n: number,
  frames: { compressed: Buffer; plain: Buffer }[],
) {
  const c = fork(fileURLToPath(import.meta.url), ['--server', JSON.stringify(v)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { port } = await nextMessage<{ port: number }>(c);
    c.send('measure');
    const before = await nextMessage<Usage>(c);
    const sockets: net.Socket[] = [];
    let ext = '';
    const started = Date.now();
    for (let i = 0; i < n; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, k) =>
          client(port, frames[(i + k) % frames.length]!),
        ),
      );
      for (const b of batch) sockets.push(b.socket);
      ext ||= batch[0]?.ext ?? '';
    }
    const ms = Date.now() - started;
    c.send('measure');
    const after = await nextMessage<Usage>(c);
    for (const s of sockets) s.destroy();
    const per = (k: keyof Usage) => (after[k] - before[k]) / n / 1024;
    return {
      variant: v.name,
      negotiated: ext,
      'RSS KiB/conn': per('rss').toFixed(1),
      'heap KiB/conn': per('heapUsed').toFixed(1),
      'external KiB/conn': per('external').toFixed(1),
      'setup ms': ms,
    };
  } finally {
    c.kill();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--server');
  if (i > 0) {
    await child(JSON.parse(process.argv[i + 1]!) as Variant);
    return;
  }
  const n = Number(process.argv[2] ?? 1000);
  // the clients' messages: compressed once each with a fresh context (valid for any window ≥ 12)
  const mask = (m: Uint8Array) => m.set([1, 2, 3, 4]);
  const frames = Array.from({ length: 16 }, (_, k) => {
    const c = zlib.deflateRawSync(message(k), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const payload = c.subarray(0, c.length - 4);
    return {
      compressed: Buffer.concat(encodeFrame(Opcode.Text, payload, { rsv: 0x4, mask })),
      plain: Buffer.concat(encodeFrame(Opcode.Text, message(k), { mask })),
    };
  });
  console.log(
    `${n} idle connections per variant, after one ${MESSAGE_SIZE}-byte message each ` +
      `(node ${process.version}); memory of the server process, after GC`,
  );
  const rows = [];
  for (const v of VARIANTS) rows.push(await measureVariant(v, n, frames));
  console.table(rows);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
