// omniws/ws over HTTP/3 (RFC 9220): a WebSocketServer with `port` and `tls` serves
// HTTP/1.1 and HTTP/2 on TCP and HTTP/3 on UDP, one port number, through omniws's
// serve(); `wss.handle` does the same for an application's own serve().

import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import RealWebSocket from 'ws';
import { WebSocketServer } from '../../src/compat/ws/server.js';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { buffered } from '../../src/server/handler.js';
import { serve } from '../../src/server/serve.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { clientFor } from '../http/helpers.js';
import { next, record } from './helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('compat-h3');
});
test.after.always(() => removeCerts(certs));

test('port + tls: one WebSocketServer on HTTP/1.1, HTTP/2 and HTTP/3', async (t) => {
  const wss = new WebSocketServer({ port: 0, tls: { cert: certs.cert, key: certs.key } });
  const conns = record(wss, ['connection']);
  await next(wss, 'listening');
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients!) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const { port } = wss.address() as AddressInfo;
  const url = `wss://localhost:${port}/room`;
  const versions: string[] = [];
  wss.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
    versions.push(req.httpVersion);
    ws.on('message', (d: Buffer) => ws.send(`${req.httpVersion}: ${d}`));
  });
  // HTTP/3, with omniws/ws's client
  const h3 = new WebSocket(url, { http: 3, ca: certs.ca });
  const ev = record(h3, ['open', 'message', 'close', 'error', 'upgrade']);
  const [, req3] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(req3.httpVersion, '3.0');
  t.is(req3.url, '/room');
  t.is((await ev.next<[http.IncomingMessage]>('upgrade'))[0].statusCode, 200);
  await ev.next('open');
  h3.send('over QUIC');
  t.is(String((await ev.next<[Buffer]>('message', 10_000))[0]), '3.0: over QUIC');
  h3.close(1000, 'bye');
  t.is((await ev.next<[number]>('close'))[0], 1000);
  t.is(ev.pending('error'), 0);
  // HTTP/2 and HTTP/1.1 on the same port number, TCP
  const h2 = new WebSocket(url, { http: 2, ca: certs.ca });
  const ev2 = record(h2, ['open', 'message']);
  await ev2.next('open');
  h2.send('over h2');
  t.is(String((await ev2.next<[Buffer]>('message'))[0]), '2.0: over h2');
  h2.close();
  const h1 = new RealWebSocket(url, { ca: certs.ca });
  await next(h1, 'open');
  h1.send('over h1');
  t.is(String((await next<[Buffer]>(h1, 'message'))[0]), '1.1: over h1');
  h1.close();
  t.deepEqual(versions, ['3.0', '2.0', '1.1']);
  // plain requests get ws's 426
  const status = await new Promise<number | undefined>((resolve, reject) => {
    https
      .get(`https://localhost:${port}/`, { ca: certs.ca }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
      .on('error', reject);
  });
  t.is(status, 426);
});

test('wss.handle in an application’s serve(): WebSockets over HTTP/3, its page for the rest', async (t) => {
  const wss = new WebSocketServer({ noServer: true });
  const served = await serve({
    port: 0,
    tls: { cert: certs.cert, key: certs.key },
    http: [3],
    handle: (req) => wss.handle(req) ?? buffered(200, { 'content-type': 'text/plain' }, 'page'),
  });
  t.teardown(() => served.close());
  const h3 = clientFor('h3', served.port, certs.ca);
  t.teardown(() => h3.close());
  const page = await h3.fetch({ path: '/' });
  t.is(page.status, 200);
  t.is(page.body.toString(), 'page');
  const conns = record(wss, ['connection']);
  const ws = new WebSocket(`wss://localhost:${served.port}/`, { http: 3, ca: certs.ca });
  const ev = record(ws, ['open', 'message', 'close']);
  const [peer, req] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(req.httpVersion, '3.0');
  t.is(req.method, 'CONNECT');
  t.is(wss.clients!.size, 1);
  await ev.next('open');
  peer.send(Buffer.from([0xff]));
  const [data, isBinary] = await ev.next<[Buffer, boolean]>('message', 10_000);
  t.true(isBinary);
  t.deepEqual([...data], [0xff]);
  const peerEv = record(peer, ['close']);
  peer.close(4100, 'from the server');
  const [code, reason] = await ev.next<[number, Buffer]>('close');
  t.is(code, 4100);
  t.is(reason.toString(), 'from the server');
  await peerEv.next('close');
  t.is(wss.clients!.size, 0);
});
