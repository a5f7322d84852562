// A chat room on Hono (@hono/node-server) with omniws/hono: the page at /, the room's
// WebSocket at /chat/:room (`upgradeWebSocket`). A middleware refuses visitors without a
// name (401) before any upgrade; every message is published to the room's topic.
//   npm run build; node examples/hono-app/server.js         http://127.0.0.1:3000/?name=ann
// With `tls`, @hono/node-server makes an http2.createSecureServer({ allowHTTP1: true }):
// the page and the WebSocket come over HTTP/2.

import { readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createNodeWebSocket } from 'omniws/hono';

const page = await readFile(new URL('./index.html', import.meta.url), 'utf8');

export async function start({ port = 3000, host = '127.0.0.1', tls } = {}) {
  const app = new Hono();
  const { upgradeWebSocket, injectWebSocket, close } = createNodeWebSocket({
    app,
    perMessageDeflate: true,
  });
  let omni;
  app.get('/', (c) => c.html(page));
  app.use('/chat/*', async (c, next) => {
    if (!c.req.query('name')) return c.text('a name, please', 401);
    await next();
  });
  app.get(
    '/chat/:room',
    upgradeWebSocket(
      (c) => {
        const topic = `room:${c.req.param('room')}`;
        const name = c.req.query('name');
        return {
          onOpen(_evt, ws) {
            ws.raw.subscribe(topic);
            omni.publish(topic, `${name} joined over HTTP/${ws.raw.http}`);
          },
          onMessage(evt) {
            omni.publish(topic, `${name}: ${evt.data}`);
          },
          onClose() {
            omni.publish(topic, `${name} left`);
          },
        };
      },
      { subprotocols: ['chat'] },
    ),
  );
  const server = serve({
    fetch: app.fetch,
    port,
    hostname: host,
    ...(tls && {
      createServer: http2.createSecureServer,
      serverOptions: { allowHTTP1: true, ...tls },
    }),
  });
  omni = injectWebSocket(server);
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  const scheme = tls ? 'https' : 'http';
  return {
    url: `${scheme}://${tls ? 'localhost' : host}:${server.address().port}`,
    async close() {
      await close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000) });
  console.log(`chat on ${url}/?name=ann`);
}
