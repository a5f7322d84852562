// A chat room on Fastify with omniws/fastify: the page at /, the room's WebSocket at
// /chat/:room. A hook refuses visitors without a name (401) before any upgrade; every
// message is published to the room's topic (omniws topics), so everyone in it gets it.
//   npm run build; node examples/fastify-app/server.js      http://127.0.0.1:3000/?name=ann
// With `tls` (start({ tls: { key, cert } })) Fastify serves HTTP/2 and HTTP/1.1 on one
// port, and browsers open the WebSocket over HTTP/2.

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { omniwsFastify } from 'omniws/fastify';

const page = await readFile(new URL('./index.html', import.meta.url), 'utf8');

export async function start({ port = 3000, host = '127.0.0.1', tls } = {}) {
  const app = Fastify(tls ? { http2: true, https: { allowHTTP1: true, ...tls } } : {});
  await app.register(omniwsFastify, { perMessageDeflate: true });
  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
  await app.register(async (chat) => {
    chat.addHook('preValidation', async (req, reply) => {
      if (!req.query.name) return reply.code(401).send('a name, please');
    });
    chat.get('/chat/:room', { websocket: { subprotocols: ['chat'] } }, (socket, req) => {
      const topic = `room:${req.params.room}`;
      const { name } = req.query;
      socket.session.subscribe(topic);
      app.omniws.publish(topic, `${name} joined over HTTP/${socket.http}`);
      socket.on('message', (text) => app.omniws.publish(topic, `${name}: ${text}`));
      socket.on('close', () => app.omniws.publish(topic, `${name} left`));
    });
  });
  await app.listen({ port, host });
  const scheme = tls ? 'https' : 'http';
  return {
    url: `${scheme}://${tls ? 'localhost' : host}:${app.server.address().port}`,
    close: () => app.close(),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000) });
  console.log(`chat on ${url}/?name=ann`);
}
