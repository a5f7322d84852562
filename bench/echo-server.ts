// One echo server per process, for bench/run.ts (which forks this file with an IPC
// channel). Every kind echoes each message back as it came (text as text, binary as
// binary) on any path, on 127.0.0.1, and reports its memory on request.
//
//   node --expose-gc dist/bench/echo-server.js <kind> [--deflate]
//   kinds: omniws | omniws-hibernate | ws | raw | http-raw
//          | omniws-tls --certs DIR (h2 and HTTP/1.1 on one TLS port, by ALPN)
//
// `raw` is the limit for any JS server on this machine: it answers the upgrade with a
// 101 and then writes every chunk it reads straight back (the client's masked frames,
// which the load generator counts like any others). `http-raw` does the same behind
// node:http's `upgrade` event: the memory floor of any server built on node:http.
//
// IPC: the parent receives { ready: port } once listening; it may send { cmd: 'mem' }
// (answered with the memory after two full GCs and the open-connection count) or
// { cmd: 'cpu' } (answered with the CPU time used so far, user + system, in µs).

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { listen } from '../src/server/h1-server.js';
import { listenH2 } from '../src/server/h2-server.js';
import type { WebSocketRoute } from '../src/server/handler.js';
import { ok, reply } from '../src/ws/handler.js';

const kind = process.argv[2] ?? 'omniws';
const deflate = process.argv.includes('--deflate');
const MAX = 64 * 1024 * 1024;

type Count = () => number;

async function startOmniws(hibernate: boolean): Promise<[number, Count]> {
  const opts = hibernate ? { hibernate: true } : undefined;
  // one route object for every connection, on any path
  const route: WebSocketRoute<null> = {
    state: null,
    handler: {
      init: (_req, s) => ok(s, opts),
      handleIn: (m, s) => reply(s, m.data, opts),
    },
  };
  const listener = await listen({
    host: '127.0.0.1',
    port: 0,
    maxMessage: MAX,
    maxFrame: MAX,
    perMessageDeflate: deflate,
    route: () => route,
  });
  return [listener.port, () => listener.registry.sessions.size];
}

async function startOmniwsTls(): Promise<[number, Count]> {
  const i = process.argv.indexOf('--certs');
  const dir = process.argv[i + 1];
  if (i < 0 || dir === undefined) throw new Error('omniws-tls needs --certs DIR');
  const [cert, key] = await Promise.all([
    readFile(join(dir, 'cert.pem')),
    readFile(join(dir, 'key.pem')),
  ]);
  const route: WebSocketRoute<null> = {
    state: null,
    handler: { handleIn: (m, s) => reply(s, m.data) },
  };
  const listener = await listenH2({
    host: '127.0.0.1',
    port: 0,
    tls: { cert, key },
    maxMessage: MAX,
    maxFrame: MAX,
    perMessageDeflate: deflate,
    route: () => route,
  });
  return [listener.port, () => listener.registry.sessions.size];
}

async function startWs(): Promise<[number, Count]> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: MAX,
    perMessageDeflate: deflate,
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => {});
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  return [(wss.address() as net.AddressInfo).port, () => wss.clients.size];
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

async function startRaw(): Promise<[number, Count]> {
  let open = 0;
  const server = net.createServer((s) => {
    open++;
    s.setNoDelay(true);
    s.on('error', () => {});
    s.on('close', () => open--);
    let head = '';
    const onHead = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.removeListener('data', onHead);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.slice(0, end))?.[1] ?? '';
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      s.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) s.write(rest);
      s.on('data', (c: Buffer) => s.write(c));
    };
    s.on('data', onHead);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return [(server.address() as net.AddressInfo).port, () => open];
}

async function startHttpRaw(): Promise<[number, Count]> {
  let open = 0;
  const server = http.createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: http.IncomingMessage, s: net.Socket, head: Buffer) => {
    open++;
    s.on('error', () => {});
    s.on('close', () => open--);
    s.setNoDelay(true);
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key'] ?? ''}${GUID}`)
      .digest('base64');
    s.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    if (head.length > 0) s.write(head);
    s.on('data', (c: Buffer) => s.write(c));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return [(server.address() as net.AddressInfo).port, () => open];
}

const starts: Record<string, () => Promise<[number, Count]>> = {
  omniws: () => startOmniws(false),
  'omniws-hibernate': () => startOmniws(true),
  'omniws-tls': startOmniwsTls,
  ws: startWs,
  raw: startRaw,
  'http-raw': startHttpRaw,
};

const start = starts[kind];
if (!start) throw new Error(`unknown kind ${kind}`);
const [port, count] = await start();

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd === 'cpu') {
    const c = process.cpuUsage();
    process.send?.({ cpu: c.user + c.system });
  } else if (m.cmd === 'mem') {
    gc?.();
    gc?.();
    const u = process.memoryUsage();
    process.send?.({
      mem: {
        rss: u.rss,
        heapUsed: u.heapUsed,
        heapTotal: u.heapTotal,
        external: u.external,
        arrayBuffers: u.arrayBuffers,
      },
      conns: count(),
    });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: port });
