// omniws/fastify with Fastify 5: the shared adapter checks (suite.ts) on an app written
// the @fastify/websocket way, plus what is Fastify's own: `wsHandler` beside an HTTP
// handler, `request.ws`, encapsulated hooks, the error handler, close on app.close().

import type { AddressInfo } from 'node:net';
import test from 'ava';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { omniwsFastify } from '../../src/exports/fastify.js';
import { until, wsClient } from '../helpers.js';
import { adapterSuite, type Served } from './suite.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: string | null;
  }
}

async function auth(request: FastifyRequest, reply: FastifyReply) {
  const q = request.query as { token?: string };
  if (request.headers.authorization !== 'Bearer ok' && q.token !== 'ok') {
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'who are you?' });
  }
  request.user = 'alice';
}

async function build(app: FastifyInstance): Promise<Served> {
  let opened = 0;
  const closes: string[] = [];
  await app.register(omniwsFastify);
  app.decorateRequest('user', null);
  app.addHook('onRequest', auth);
  app.get<{ Params: { id: string }; Querystring: { x?: string } }>(
    '/echo/:id',
    { websocket: { subprotocols: ['chat'], perMessageDeflate: true } },
    (socket, request) => {
      opened++;
      socket.send(
        `hello id=${request.params.id} user=${request.user} x=${request.query.x ?? ''} http=${socket.http}`,
      );
      socket.on('message', (data, isBinary) => {
        if (!isBinary && data === 'close-me') socket.close(4001, 'asked');
        else socket.send(data);
      });
      socket.on('close', (code, reason) => closes.push(`${code} ${reason}`));
    },
  );
  app.get<{ Params: { id: string } }>('/plain/:id', async (request) => ({
    id: request.params.id,
    user: request.user,
    http: request.raw.httpVersion === '2.0' ? '2' : '1.1',
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    port: (app.server.address() as AddressInfo).port,
    opened: () => opened,
    closes,
    close: () => app.close(),
  };
}

adapterSuite('fastify', (tls) =>
  build(
    tls
      ? (Fastify({
          http2: true,
          https: { allowHTTP1: true, ...tls },
        }) as unknown as FastifyInstance)
      : Fastify(),
  ),
);

test('fastify: wsHandler beside the HTTP handler, request.ws, and a hook inside a plugin', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  await app.register(omniwsFastify, { subprotocols: ['v1'] });
  const seen: boolean[] = [];
  await app.register(async (scoped) => {
    scoped.addHook('preHandler', async (request, reply) => {
      seen.push(request.ws);
      if (request.headers['x-deny'] === '1') return reply.code(403).send('denied');
    });
    scoped.route({
      method: 'GET',
      url: '/both',
      handler: async () => 'plain answer',
      wsHandler: (socket, request) => socket.send(`ws answer ${request.ws} ${socket.protocol}`),
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  t.is(await (await fetch(`http://127.0.0.1:${port}/both`)).text(), 'plain answer');
  const peer = await wsClient(`ws://127.0.0.1:${port}/both`, ['v1']);
  t.is((await peer.next()).data.toString(), 'ws answer true v1');
  peer.ws.close();
  await peer.closed;
  const denied = await t.throwsAsync(
    wsClient(`ws://127.0.0.1:${port}/both`, [], { headers: { 'x-deny': '1' } }),
  );
  t.is(denied?.message, 'status 403');
  t.deepEqual(seen, [false, true, true]);
});

test('fastify: a handler that throws goes to errorHandler; app.close() closes WebSockets with 1001', async (t) => {
  const app = Fastify();
  const errors: string[] = [];
  await app.register(omniwsFastify, {
    errorHandler: (err, socket) => {
      errors.push((err as Error).message);
      socket.close(1011, 'sorry');
    },
  });
  app.get('/boom', { websocket: true }, () => {
    throw new Error('boom');
  });
  app.get('/stay', { websocket: true }, (socket) => socket.send('here'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const boom = await wsClient(`ws://127.0.0.1:${port}/boom`);
  t.deepEqual(await boom.closed, { code: 1011, reason: 'sorry' });
  t.deepEqual(errors, ['boom']);
  const stay = await wsClient(`ws://127.0.0.1:${port}/stay`);
  await stay.next();
  t.is(app.omniws.registry.sessions.size, 1);
  await app.close();
  t.is((await stay.closed).code, 1001);
  await until(() => app.omniws.registry.sessions.size === 0);
  t.is(app.omniws.registry.sessions.size, 0);
});
