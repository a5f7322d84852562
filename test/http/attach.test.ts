// The handler attached to servers that already have listeners of their own: it sees
// every request and upgrade first (whatever the listener order), what it declines goes
// to the server's own listeners, nothing is answered twice, and close() gives the
// server back as it was.

import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import WebSocket, { WebSocketServer } from 'ws';
import { connect } from '../../src/client/connect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { attach } from '../../src/server/attach.js';
import { attachH2 } from '../../src/server/h2-server.js';
import { buffered, type RequestHandler, websocket } from '../../src/server/handler.js';
import { type Handler, reply, stop } from '../../src/ws/handler.js';
import { clientFor, makeCerts, removeCerts } from './helpers.js';

const echo: Handler<null> = { handleIn: (msg, state) => reply(state, msg.data) };

const handle: RequestHandler = (req) => {
  if (req.pathname === '/ours') return buffered(200, {}, `ours over HTTP/${req.http}`);
  if (req.pathname === '/ws') return websocket(echo, null);
  return undefined;
};

async function echoOnce(url: string, http: 1 | 2, ca?: Buffer): Promise<string> {
  let got = '';
  const session = await connect(url, {
    http,
    state: null,
    ...(ca && { tls: { ca } }),
    handler: {
      handleIn(msg, state: null) {
        got = msg.data as string;
        return stop(state);
      },
    },
  });
  session.send('hello');
  await session.closed;
  return got;
}

test('node:http server with its own request and upgrade listeners: the handler goes first, declined requests go on', async (t) => {
  let theirs = 0;
  const server = http.createServer((_req, res) => {
    theirs++;
    res.end('theirs');
  });
  // their WebSocket server, on the 'upgrade' event, registered before ours
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/their-ws') return;
    wss.handleUpgrade(req, socket, head, (ws) => ws.send('their websocket'));
  });
  const attached = attach(server, { handle });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = clientFor('h1', port, Buffer.alloc(0));
  try {
    t.is((await client.fetch({ path: '/ours' })).body.toString(), 'ours over HTTP/1.1');
    t.is(theirs, 0, 'their listener never saw our request');
    t.is((await client.fetch({ path: '/elsewhere' })).body.toString(), 'theirs');
    t.is(theirs, 1);
    t.is(await echoOnce(`ws://127.0.0.1:${port}/ws`, 1), 'hello');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/their-ws`);
    const [msg] = await once(ws, 'message');
    t.is(String(msg), 'their websocket');
    ws.close();
    await attached.close();
    t.is((await client.fetch({ path: '/ours' })).body.toString(), 'theirs', 'detached');
  } finally {
    wss.close();
    server.closeAllConnections();
    server.close();
  }
});

test('node:http server without listeners of its own: what the handler declines gets 404', async (t) => {
  const server = http.createServer();
  const attached = attach(server, { handle });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = clientFor('h1', port, Buffer.alloc(0));
  try {
    t.is((await client.fetch({ path: '/elsewhere' })).status, 404);
    const err = await t.throwsAsync(echoOnce(`ws://127.0.0.1:${port}/elsewhere`, 1));
    t.regex(err?.message ?? '', /404/);
  } finally {
    await attached.close();
    server.close();
  }
});

test('node:http2 server (TLS, allowHTTP1) with its own request listener: h2 and HTTP/1.1 requests and WebSockets reach the handler first', async (t) => {
  const certs = await makeCerts('http-attach-h2');
  const seen: string[] = [];
  const server = http2.createSecureServer(
    { cert: certs.cert, key: certs.key, allowHTTP1: true },
    (req, res) => {
      seen.push(`${req.httpVersion} ${req.url}`);
      res.end(`theirs over HTTP/${req.httpVersion}`);
    },
  );
  const attached = attachH2(server, { handle });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const h2 = clientFor('h2', port, certs.ca);
  const h1 = clientFor('h1-tls', port, certs.ca);
  try {
    t.is((await h2.fetch({ path: '/ours' })).body.toString(), 'ours over HTTP/2');
    t.is((await h1.fetch({ path: '/ours' })).body.toString(), 'ours over HTTP/1.1');
    t.deepEqual(seen, []);
    t.is((await h2.fetch({ path: '/else' })).body.toString(), 'theirs over HTTP/2.0');
    t.is((await h1.fetch({ path: '/else' })).body.toString(), 'theirs over HTTP/1.1');
    t.deepEqual(seen, ['2.0 /else', '1.1 /else']);
    t.is(await echoOnce(`wss://localhost:${port}/ws`, 2, certs.ca), 'hello');
    t.is(await echoOnce(`wss://localhost:${port}/ws`, 1, certs.ca), 'hello');
  } finally {
    h2.close();
    closeH2Sessions();
    await attached.close();
    server.close();
    await removeCerts(certs);
  }
});
