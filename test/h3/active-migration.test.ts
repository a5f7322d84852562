// Active migration by the client (issue 20, RFC 9000 §9): session.migrate() moves the
// QUIC connection under a WebSocket to a new local UDP port — the server issued spare
// connection IDs, the new path is probed and validated, then used — and every WebSocket
// on that connection goes on.

import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('active-migration');
});
test.after.always(async () => {
  closeH3Connections();
  if (certs) await removeCerts(certs);
});

const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };

/** A client WebSocket whose messages land in `got`, one promise per awaited message. */
async function client(port: number): Promise<{ ws: Session<null>; next: () => Promise<Buffer> }> {
  const queue: Buffer[] = [];
  const waiting: ((b: Buffer) => void)[] = [];
  const ws = await connectH3<null>(`wss://localhost:${port}/`, {
    handler: {
      handleIn: (m, st) => {
        const b = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data);
        const w = waiting.shift();
        if (w) w(b);
        else queue.push(b);
        return ok(st);
      },
    },
    state: null,
    maxMessage: 4 << 20,
    tls: { ca: certs.ca, servername: 'localhost' },
  });
  const next = () =>
    queue.length > 0
      ? Promise.resolve(queue.shift()!)
      : new Promise<Buffer>((resolve) => waiting.push(resolve));
  return { ws, next };
}

test.serial(
  'session.migrate(): a new local port, the server follows, both WebSockets on the connection go on',
  async (t) => {
    const srv = await listenH3({
      cert: certs.cert,
      key: certs.key,
      hosts: ['127.0.0.1'],
      route: () => ({ handler: echo, state: null, maxMessage: 4 << 20 }),
    });
    try {
      const a = await client(srv.port);
      const b = await client(srv.port);
      t.is(srv.connections.size, 1, 'both WebSockets share one QUIC connection');
      const conn = [...srv.connections][0]!;
      const before = conn.quic.remotePort;
      a.ws.send('a before');
      t.is(String(await a.next()), 'a before');

      const to = await a.ws.migrate();
      t.not(to.port, before, 'a new local port');
      a.ws.send('a after');
      b.ws.send('b after');
      t.is(String(await a.next()), 'a after');
      t.is(String(await b.next()), 'b after');
      // the server's side of the connection now talks to the new port
      await until(() => conn.quic.remotePort === to.port, 3000, 'the server follows');
      t.is(srv.connections.size, 1, 'the same connection, not a new one');
      // a megabyte over the new path, and the old socket is let go
      const big = Buffer.alloc(1 << 20, 9);
      a.ws.send(big);
      t.true((await a.next()).equals(big));
      const st = a.ws.pathStats()!;
      t.is(st.packetsLost, 0);

      // and again: a second move works like the first (the server issued a new spare ID)
      const again = await b.ws.migrate();
      t.not(again.port, to.port);
      b.ws.send('b moved twice');
      t.is(String(await b.next()), 'b moved twice');
      await until(() => conn.quic.remotePort === again.port, 3000, 'the server follows again');

      a.ws.close(1000);
      b.ws.close(1000);
      t.is((await a.ws.closed).code, 1000);
      t.is((await b.ws.closed).code, 1000);
    } finally {
      await srv.close();
    }
  },
);

test('migrate() is refused over HTTP/1.1 and on the server side of HTTP/3', async (t) => {
  const h1 = await listen({ route: () => ({ handler: echo, state: null }) });
  const h3 = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    route: () => ({ handler: echo, state: null }),
  });
  try {
    const s = await connectH1(`ws://127.0.0.1:${h1.port}/`, { handler: echo, state: null });
    await t.throwsAsync(s.migrate(), {
      code: 'WS_ERR_INVALID_STATE',
      message:
        /only a WebSocket over HTTP\/3 can move to a new path \(this one is over HTTP\/1\.1\)/,
    });
    s.close(1000);
    await s.closed;
    const c = await client(h3.port);
    // servers do not migrate (RFC 9000 §9: only the client initiates)
    const serverSide = [...h3.connections][0]!.quic;
    await t.throwsAsync(serverSide.migrate!(), { message: /only a client moves its connection/ });
    c.ws.close(1000);
    await c.ws.closed;
  } finally {
    await h1.close();
    await h3.close();
  }
});
