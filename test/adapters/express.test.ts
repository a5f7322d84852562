// omniws/express with Express 5: the shared adapter checks (suite.ts) on an app written
// the express-ws way (`app.ws`), plus what is Express's own: routers, route-level
// middleware, a GET route on the same path, `app.listen`, and plain HTTP/2 requests
// (which Express cannot take from node:http2 itself).

import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import express, { type NextFunction, type Request, type Response } from 'express';
import { omniwsExpress } from '../../src/exports/express.js';
import { makeCerts, removeCerts } from '../certs.js';
import { rawSession } from '../h2/helpers.js';
import { wsClient } from '../helpers.js';
import { adapterSuite, type Served } from './suite.js';

function auth(req: Request, res: Response, next: NextFunction) {
  if (req.headers.authorization !== 'Bearer ok' && req.query.token !== 'ok') {
    res.status(401).set('www-authenticate', 'Bearer').json({ error: 'who are you?' });
    return;
  }
  (req as Request & { user?: string }).user = 'alice';
  next();
}

async function build(tls?: { key: Buffer; cert: Buffer }): Promise<Served> {
  let opened = 0;
  const closes: string[] = [];
  const server = tls ? http2.createSecureServer({ allowHTTP1: true, ...tls }) : http.createServer();
  const { app, close } = omniwsExpress(express(), server);
  server.on('request', app);
  app.use(auth);
  app.ws('/echo/:id', { subprotocols: ['chat'], perMessageDeflate: true }, (socket, req) => {
    opened++;
    const user = (req as Request & { user?: string }).user;
    socket.send(
      `hello id=${req.params.id} user=${user} x=${req.query.x ?? ''} http=${socket.http}`,
    );
    socket.on('message', (data, isBinary) => {
      if (!isBinary && data === 'close-me') socket.close(4001, 'asked');
      else socket.send(data);
    });
    socket.on('close', (code, reason) => closes.push(`${code} ${reason}`));
  });
  app.get('/plain/:id', (req, res) => {
    res.json({
      id: req.params.id,
      user: (req as Request & { user?: string }).user,
      http: req.httpVersion === '2.0' ? '2' : '1.1',
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    opened: () => opened,
    closes,
    async close() {
      await close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

adapterSuite('express', build);

test('express: routers, route-level middleware, a GET route on the same path, app.listen', async (t) => {
  const { app, applyTo, close } = omniwsExpress(express());
  const router = applyTo(express.Router());
  const order: string[] = [];
  router.ws(
    '/room/:name',
    (req, res, next) => {
      order.push(`middleware ${req.params.name}`);
      if (req.params.name === 'closed') res.status(403).send('closed room');
      else next();
    },
    (socket, req) => {
      order.push(`handler ${req.params.name} ${req.originalUrl}`);
      socket.send(`welcome to ${req.params.name}`);
    },
  );
  router.get('/room/:name', (req, res) => {
    res.send(`the page of ${req.params.name}`);
  });
  app.use('/chat', router);
  const server = app.listen(0, '127.0.0.1');
  t.teardown(async () => {
    await close();
    server.close();
  });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  t.is(await (await fetch(`http://127.0.0.1:${port}/chat/room/lobby`)).text(), 'the page of lobby');
  const peer = await wsClient(`ws://127.0.0.1:${port}/chat/room/lobby?a=1`);
  t.is((await peer.next()).data.toString(), 'welcome to lobby');
  peer.ws.close();
  await peer.closed;
  const refused = await t.throwsAsync(wsClient(`ws://127.0.0.1:${port}/chat/room/closed`));
  t.is(refused?.message, 'status 403');
  t.deepEqual(order, [
    'middleware lobby',
    'handler lobby /chat/room/lobby?a=1',
    'middleware closed',
  ]);
});

test('express on node:http2: plain HTTP/2 requests reach the app (bodies too), buffered', async (t) => {
  const certs = await makeCerts('adapters-express-h2');
  t.teardown(() => removeCerts(certs));
  const server = http2.createSecureServer({ allowHTTP1: true, key: certs.key, cert: certs.cert });
  const app = express();
  omniwsExpress(app, server);
  server.on('request', app);
  app.post('/upper', express.text(), (req, res) => {
    res.set('x-seen', String(req.httpVersion)).send(String(req.body).toUpperCase());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const session = await rawSession(`https://localhost:${port}`, { ca: certs.ca });
  t.teardown(() => session.close());
  const req = session.request({
    ':method': 'POST',
    ':path': '/upper',
    'content-type': 'text/plain',
    // body-parser reads only bodies that HTTP/1.1 framing announces
    'content-length': '5',
  });
  req.end('shout');
  let status = 0;
  let seen: unknown;
  req.on('response', (h) => {
    status = Number(h[':status']);
    seen = h['x-seen'];
  });
  req.setEncoding('utf8');
  let body = '';
  for await (const chunk of req) body += chunk;
  t.deepEqual([status, seen, body], [200, '2.0', 'SHOUT']);
});
