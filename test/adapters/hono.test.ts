// omniws/hono with Hono 4 on @hono/node-server: the shared adapter checks (suite.ts) on an
// app written the @hono/node-ws way, plus what is Hono's own: the WSContext, the direct
// form `upgradeWebSocket(c, events)`, getConnInfo, middleware after the helper.

import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import test from 'ava';
import { Hono } from 'hono';
import { createNodeWebSocket } from '../../src/exports/hono.js';
import { wsClient } from '../helpers.js';
import { adapterSuite, type Served } from './suite.js';

type Env = { Variables: { user: string } };

async function listen(server: ReturnType<typeof serve>): Promise<number> {
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

async function build(tls?: { key: Buffer; cert: Buffer }): Promise<Served> {
  let opened = 0;
  const closes: string[] = [];
  const app = new Hono<Env>();
  const { upgradeWebSocket, injectWebSocket, close } = createNodeWebSocket({ app });
  app.use('*', async (c, next) => {
    if (c.req.header('authorization') !== 'Bearer ok' && c.req.query('token') !== 'ok') {
      return c.json({ error: 'who are you?' }, 401, { 'www-authenticate': 'Bearer' });
    }
    c.set('user', 'alice');
    await next();
  });
  app.get(
    '/echo/:id',
    upgradeWebSocket(
      (c) => {
        const hello = `hello id=${c.req.param('id')} user=${c.get('user')} x=${c.req.query('x') ?? ''}`;
        return {
          onOpen(_evt, ws) {
            opened++;
            ws.send(`${hello} http=${ws.raw?.http}`);
          },
          onMessage(evt, ws) {
            if (evt.data === 'close-me') ws.close(4001, 'asked');
            else ws.send(evt.data as string | ArrayBuffer);
          },
          onClose(evt) {
            closes.push(`${evt.code} ${evt.reason}`);
          },
        };
      },
      { subprotocols: ['chat'], perMessageDeflate: true },
    ),
  );
  app.get('/plain/:id', (c) =>
    c.json({
      id: c.req.param('id'),
      user: c.get('user'),
      http:
        (c.env as { incoming: { httpVersion: string } }).incoming.httpVersion === '2.0'
          ? '2'
          : '1.1',
    }),
  );
  const server = tls
    ? serve({
        fetch: app.fetch,
        port: 0,
        hostname: '127.0.0.1',
        createServer: http2.createSecureServer,
        serverOptions: { allowHTTP1: true, ...tls },
      })
    : serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  injectWebSocket(server);
  const port = await listen(server);
  return {
    port,
    opened: () => opened,
    closes,
    async close() {
      await close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

adapterSuite('hono', build);

test('hono: the direct form, getConnInfo, binaryType, with a middleware around the route', async (t) => {
  const app = new Hono();
  const { upgradeWebSocket, injectWebSocket, close } = createNodeWebSocket({ app });
  app.onError((err, c) => c.text(err.message, 500));
  app.use('/direct', async (c, next) => {
    await next();
    c.header('x-after', 'ran');
  });
  app.get('/direct', async (c) => {
    const peer = getConnInfo(c).remote.address;
    return upgradeWebSocket(c, {
      onOpen(_evt, ws) {
        ws.send(`${peer} ${ws.binaryType} ${ws.readyState} ${ws.url?.pathname} ${ws.protocol}`);
      },
      onMessage(evt, ws) {
        ws.send(evt.data instanceof ArrayBuffer ? `bytes ${evt.data.byteLength}` : 'text');
      },
    });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  injectWebSocket(server);
  const port = await listen(server);
  t.teardown(async () => {
    await close();
    server.close();
  });
  const peer = await wsClient(`ws://127.0.0.1:${port}/direct`);
  t.is((await peer.next()).data.toString(), '127.0.0.1 arraybuffer 1 /direct null');
  peer.ws.send(Buffer.alloc(3));
  t.is((await peer.next()).data.toString(), 'bytes 3');
  peer.ws.close();
  await peer.closed;
  // a plain request to the same route: the direct form throws, Hono answers 500
  t.is((await fetch(`http://127.0.0.1:${port}/direct`)).status, 500);
});
