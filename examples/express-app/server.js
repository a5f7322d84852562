// A chat room on Express with omniws/express: the page at /, the room's WebSocket at
// /chat/:room (`app.ws`). A middleware refuses visitors without a name (401) before any
// upgrade; every message is published to the room's topic (omniws topics).
//   npm run build; node examples/express-app/server.js      http://127.0.0.1:3000/?name=ann
// With `tls`, the server is node:http2's createSecureServer({ allowHTTP1: true }):
// browsers open the WebSocket over HTTP/2 and the page comes over HTTP/2 too (Express
// cannot take node's HTTP/2 requests; omniws hands them to it: docs/frameworks.md).

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { omniwsExpress } from 'omniws/express';

const page = await readFile(new URL('./index.html', import.meta.url), 'utf8');

function requireName(req, res, next) {
  if (!req.query.name) res.status(401).send('a name, please');
  else next();
}

export async function start({ port = 3000, host = '127.0.0.1', tls } = {}) {
  const server = tls ? http2.createSecureServer({ allowHTTP1: true, ...tls }) : http.createServer();
  const chat = omniwsExpress(express(), server, { perMessageDeflate: true });
  const { app } = chat;
  server.on('request', app);
  app.get('/', (_req, res) => res.type('html').send(page));
  app.ws('/chat/:room', { subprotocols: ['chat'] }, requireName, (socket, req) => {
    const topic = `room:${req.params.room}`;
    const { name } = req.query;
    socket.session.subscribe(topic);
    chat.server.publish(topic, `${name} joined over HTTP/${socket.http}`);
    socket.on('message', (text) => chat.server.publish(topic, `${name}: ${text}`));
    socket.on('close', () => chat.server.publish(topic, `${name} left`));
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const scheme = tls ? 'https' : 'http';
  return {
    url: `${scheme}://${tls ? 'localhost' : host}:${server.address().port}`,
    async close() {
      await chat.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await start({ port: Number(process.env.PORT ?? 3000) });
  console.log(`chat on ${url}/?name=ann`);
}
