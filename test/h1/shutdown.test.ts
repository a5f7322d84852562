// Graceful shutdown of the HTTP/1.1 server: close() sends 1001 to every session, lets
// the peers that answer finish their closing handshake, aborts the others once the grace
// period (shutdownTimeout) is over, and calls terminate exactly once for each; an
// attached server lets go of the HTTP server's upgrades and leaves the rest serving.

import { createServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { attach } from '../../src/server/attach.js';
import { listen } from '../../src/server/h1-server.js';
import type { CloseReason, Handler } from '../../src/ws/handler.js';
import { ok } from '../../src/ws/handler.js';
import { rawClient, recorder, until, wsClient } from '../helpers.js';

test('close(): 1001 to everyone, clean for peers that answer, abort after the grace for the rest', async (t) => {
  const ends: CloseReason[] = [];
  const handler: Handler<null> = {
    handleIn: (_m, s) => ok(s),
    terminate: (r) => {
      ends.push(r);
    },
  };
  const srv = await listen({ routes: { '/': { handler, state: null } }, shutdownTimeout: 300 });
  const answering = [await wsClient(`${srv.url}/`), await wsClient(`${srv.url}/`)];
  const ours = await connectH1(`${srv.url}/`, {
    state: null,
    handler: recorder({ echo: false }).handler,
  });
  // raw peers that never answer the close frame
  const silent = [await rawClient(srv.port), await rawClient(srv.port)];
  for (const c of silent) t.teardown(() => c.socket.destroy());
  await until(() => srv.registry.sessions.size === 5);
  const started = Date.now();
  await srv.close();
  const took = Date.now() - started;
  t.true(took >= 250 && took < 2000, `close() took ${took} ms`);
  for (const p of answering) t.is((await p.closed).code, 1001);
  t.is((await ours.closed).code, 1001);
  for (const c of silent) {
    await c.ended;
    const got = Buffer.concat(c.received);
    t.is(got[0], 0x88, 'a close frame first');
    t.is(got.readUInt16BE(2), 1001);
  }
  await until(() => ends.length === 5);
  t.is(ends.length, 5, 'terminate once per session');
  t.is(ends.filter((r) => r.kind === 'shutdown' && r.wasClean).length, 3);
  t.is(ends.filter((r) => !r.wasClean).length, 2);
  t.is(srv.registry.sessions.size, 0);
});

test('attach().close(): later upgrades are no longer taken (never a 101); the HTTP server keeps serving', async (t) => {
  const server = createServer((_req, res) => res.end('plain'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const attached = attach(server, {
    routes: { '/': { handler: recorder().handler, state: null } },
  });
  const peer = await rawClient(port);
  t.teardown(() => peer.socket.destroy());
  const closing = attached.close();
  const late = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    s.on('error', () => {});
    s.once('data', (d: Buffer) => {
      resolve(d.toString('latin1').split('\r\n')[0] ?? '');
      s.destroy();
    });
  });
  // our upgrade listener is gone: node hands the request to the plain handler
  t.notRegex(late, / 101 /);
  peer.socket.destroy();
  await closing;
  const res = await fetch(`http://127.0.0.1:${port}/`);
  t.is(await res.text(), 'plain');
});
