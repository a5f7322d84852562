// omniws/ws over HTTP/2 (RFC 8441): a WebSocketServer given a node:http2 server (secure
// with allowHTTP1, and h2c) takes extended CONNECTs from Node's bare http2 client and from
// omniws/ws's client with `http: 2`, and, on the same port, HTTP/1.1 upgrades of the real
// `ws` client; the server's own request handler keeps its plain requests.

import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import RealWebSocket from 'ws';
import type { ServerOptions, VerifyClientInfo } from '../../src/compat/ws/options.js';
import { WebSocketServer } from '../../src/compat/ws/server.js';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { clientFrame, closePayload, OP, rawConnect, rawSession } from '../h2/helpers.js';
import { next, record } from './helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('compat-h2');
});
test.after.always(() => removeCerts(certs));

/** A node:http2 secure server (allowHTTP1) with a page, and a WebSocketServer on it. */
async function secureServer(
  t: import('ava').ExecutionContext,
  opts: Omit<ServerOptions, 'server'> = {},
) {
  const server = http2.createSecureServer(
    { cert: certs.cert, key: certs.key, allowHTTP1: true },
    (_req, res) => res.end('the page'),
  );
  const wss = new WebSocketServer({ server, ...opts });
  const conns = record(wss, ['connection']);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  t.teardown(async () => {
    for (const ws of wss.clients ?? []) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, wss, conns, port, origin: `https://localhost:${port}` };
}

test('Node’s http2 client: extended CONNECT, subprotocol, messages both ways, close', async (t) => {
  const { conns, origin } = await secureServer(t);
  const session = await rawSession(origin, { ca: certs.ca });
  t.teardown(() => session.destroy());
  // RFC 8441 §3: the server says it takes extended CONNECT
  t.true(session.remoteSettings.enableConnectProtocol);
  const raw = await rawConnect(session, '/chat?room=1', {
    ':scheme': 'https',
    ':authority': `localhost:${new URL(origin).port}`,
    'sec-websocket-protocol': 'chat, superchat',
    origin: 'https://example.com',
  });
  t.is(raw.status, 200);
  t.is(raw.headers['sec-websocket-protocol'], 'chat');
  const [ws, req] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(req.httpVersion, '2.0');
  t.is(req.method, 'CONNECT');
  t.is(req.url, '/chat?room=1');
  t.is(req.headers.host, `localhost:${new URL(origin).port}`);
  t.is(req.headers.origin, 'https://example.com');
  t.is(req.socket.remoteAddress, '127.0.0.1');
  t.is(ws.protocol, 'chat');
  const messages = record(ws, ['message', 'close']);
  raw.stream.write(clientFrame(OP.text, 'hello'));
  const [data, isBinary] = await messages.next<[Buffer, boolean]>('message');
  t.is(data.toString(), 'hello');
  t.false(isBinary);
  ws.send(Buffer.from([1, 2, 3]));
  const frame = await raw.reader.frame(0);
  t.is(frame.opcode, OP.binary);
  t.false(frame.masked);
  t.deepEqual([...frame.payload], [1, 2, 3]);
  // a client that closes ends its stream too (RFC 8441 §4: END_STREAM is the TCP FIN)
  raw.stream.end(clientFrame(OP.close, closePayload(4000, 'bye')));
  const [code, reason] = await messages.next<[number, Buffer]>('close');
  t.is(code, 4000);
  t.is(reason.toString(), 'bye');
  const echo = await raw.reader.frame(1);
  t.is(echo.opcode, OP.close);
  t.is(echo.payload.readUInt16BE(0), 4000);
});

test('verifyClient refusals and the headers event over HTTP/2', async (t) => {
  const { wss, origin } = await secureServer(t, {
    verifyClient: (
      info: VerifyClientInfo,
      cb: (ok: boolean, code?: number, m?: string, h?: http.OutgoingHttpHeaders) => void,
    ) => {
      if (info.req.url === '/no') cb(false, 403, 'not you', { 'Retry-After': 5 });
      else cb(true);
    },
  });
  wss.on('headers', (lines: string[], req: http.IncomingMessage) => {
    t.is(lines[0], 'HTTP/2 200 OK');
    t.is(req.httpVersion, '2.0');
    lines.push('Set-Cookie: id=1');
    // connection-specific fields have no place in HTTP/2 (RFC 9113 §8.2.2): left out
    lines.push('Connection: keep-alive');
  });
  const session = await rawSession(origin, { ca: certs.ca });
  t.teardown(() => session.destroy());
  const refused = await rawConnect(session, '/no', { ':scheme': 'https' });
  t.is(refused.status, 403);
  t.is(refused.headers['retry-after'], '5');
  t.is(refused.headers['content-type'], 'text/html');
  const chunks: Buffer[] = [];
  refused.stream.on('data', (d: Buffer) => chunks.push(d));
  await refused.ended;
  t.is(Buffer.concat(chunks).toString(), 'not you');
  const ok = await rawConnect(session, '/yes', { ':scheme': 'https' });
  t.is(ok.status, 200);
  t.deepEqual(ok.headers['set-cookie'], ['id=1']);
  t.is(ok.headers.connection, undefined);
  ok.stream.close();
});

test('the wrong path and a bad Sec-WebSocket-Version are refused with 400 over HTTP/2', async (t) => {
  const { origin } = await secureServer(t, { path: '/ws' });
  const session = await rawSession(origin, { ca: certs.ca });
  t.teardown(() => session.destroy());
  t.is((await rawConnect(session, '/other', { ':scheme': 'https' })).status, 400);
  const v = await rawConnect(session, '/ws', { ':scheme': 'https', 'sec-websocket-version': '8' });
  t.is(v.status, 400);
  t.is(v.headers['sec-websocket-version'], '13');
  t.is((await rawConnect(session, '/ws', { ':scheme': 'https' })).status, 200);
});

test('omniws/ws client with http: 2 to the same server: upgrade, open, deflate, echo, close', async (t) => {
  const { conns, origin } = await secureServer(t, { perMessageDeflate: true });
  const ws = new WebSocket(`wss://localhost:${new URL(origin).port}/echo`, ['a', 'b'], {
    http: 2,
    ca: certs.ca,
  });
  const ev = record(ws, ['upgrade', 'open', 'message', 'close', 'error']);
  const [server, req] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(req.httpVersion, '2.0');
  server.on('message', (d: Buffer, isBinary: boolean) => server.send(d, { binary: isBinary }));
  const [res] = await ev.next<[http.IncomingMessage]>('upgrade');
  t.is(res.statusCode, 200);
  t.regex(String(res.headers['sec-websocket-extensions']), /^permessage-deflate/);
  await ev.next('open');
  t.is(ws.protocol, 'a');
  t.is(ws.extensions, 'permessage-deflate');
  t.is(server.extensions, 'permessage-deflate');
  ws.send('x'.repeat(4000));
  t.is(String((await ev.next<[Buffer]>('message'))[0]), 'x'.repeat(4000));
  ws.send(new Uint8Array([9, 8]));
  const [bin, isBinary] = await ev.next<[Buffer, boolean]>('message');
  t.true(isBinary);
  t.deepEqual([...bin], [9, 8]);
  const serverClosed = record(server, ['close']);
  ws.close(4002, 'done');
  const [code, reason] = await serverClosed.next<[number, Buffer]>('close');
  t.is(code, 4002);
  t.is(reason.toString(), 'done');
  t.is((await ev.next<[number]>('close'))[0], 4002);
  t.is(ev.pending('error'), 0);
});

test("a refusal over HTTP/2: 'unexpected-response' when listened for, else Unexpected server response", async (t) => {
  const { origin } = await secureServer(t, { verifyClient: () => false });
  const url = `wss://localhost:${new URL(origin).port}/`;
  const plain = new WebSocket(url, { http: 2, ca: certs.ca });
  const ev = record(plain, ['error', 'close', 'open']);
  const [err] = await ev.next<[Error]>('error');
  t.is(err.message, 'Unexpected server response: 401');
  t.is((await ev.next<[number]>('close'))[0], 1006);
  const listened = new WebSocket(url, { http: 2, ca: certs.ca });
  const ev2 = record(listened, ['error', 'close', 'unexpected-response']);
  const [, res] = await ev2.next<[unknown, http.IncomingMessage]>('unexpected-response');
  t.is(res.statusCode, 401);
  await ev2.next('close');
  t.is(ev2.pending('error'), 0);
});

test('the http2 server keeps its own requests, and takes HTTP/1.1 upgrades of the real ws client', async (t) => {
  const { conns, origin, port } = await secureServer(t);
  // a plain request over HTTP/2 reaches the application's handler
  const session = await rawSession(origin, { ca: certs.ca });
  t.teardown(() => session.destroy());
  const req = session.request({ ':path': '/' });
  let page = '';
  req.setEncoding('utf8');
  for await (const chunk of req) page += chunk;
  t.is(page, 'the page');
  // HTTP/1.1 on the same port (allowHTTP1): the ws client upgrades as it would with ws
  const client = new RealWebSocket(`wss://localhost:${port}/h1`, { ca: certs.ca });
  const [ws, request] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(request.httpVersion, '1.1');
  t.true(request instanceof http.IncomingMessage);
  await next(client, 'open');
  ws.send('over HTTP/1.1');
  t.is(String((await next<[Buffer]>(client, 'message'))[0]), 'over HTTP/1.1');
  client.close();
});

test('h2c: an unencrypted node:http2 server and the omniws/ws client with http: 2', async (t) => {
  const server = http2.createServer();
  const wss = new WebSocketServer({ server });
  const conns = record(wss, ['connection']);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { http: 2 });
  const ev = record(ws, ['open', 'message', 'close']);
  const [peer, req] = await conns.next<[WebSocket, http.IncomingMessage]>('connection');
  t.is(req.httpVersion, '2.0');
  t.false((req.socket as unknown as { encrypted: boolean }).encrypted);
  await ev.next('open');
  peer.send('h2c');
  t.is(String((await ev.next<[Buffer]>('message'))[0]), 'h2c');
  peer.close(1001);
  t.is((await ev.next<[number]>('close'))[0], 1001);
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('close() on an http2 server: open sockets stay, new ones get 503, close follows the last', async (t) => {
  const { wss, conns, origin } = await secureServer(t);
  const session = await rawSession(origin, { ca: certs.ca });
  t.teardown(() => session.destroy());
  const raw = await rawConnect(session, '/', { ':scheme': 'https' });
  const [ws] = await conns.next<[WebSocket]>('connection');
  let closed = false;
  wss.close(() => {
    closed = true;
  });
  t.is((await rawConnect(session, '/', { ':scheme': 'https' })).status, 503);
  ws.send('still here');
  t.is((await raw.reader.frame(0)).payload.toString(), 'still here');
  t.false(closed);
  raw.stream.end(clientFrame(OP.close, closePayload(1000)));
  await next(wss, 'close');
  t.true(closed);
});

test('TLS options: an unknown CA fails as node reports it; rejectUnauthorized: false connects (HTTP/1.1 and HTTP/2)', async (t) => {
  const { conns, port } = await secureServer(t);
  for (const http of [1, 2] as const) {
    const refused = new WebSocket(`wss://localhost:${port}/`, { http });
    const ev = record(refused, ['error', 'close']);
    const [err] = await ev.next<[NodeJS.ErrnoException]>('error');
    t.regex(
      String(err.code),
      /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/,
    );
    await ev.next('close');
    const trusting = new WebSocket(`wss://localhost:${port}/`, { http, rejectUnauthorized: false });
    const ev2 = record(trusting, ['open', 'close']);
    const [, req] =
      await conns.next<[WebSocket, import('node:http').IncomingMessage]>('connection');
    t.is(req.httpVersion, http === 1 ? '1.1' : '2.0');
    await ev2.next('open');
    trusting.close();
    await ev2.next('close');
  }
});
