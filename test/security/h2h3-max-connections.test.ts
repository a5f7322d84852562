// Finding (issue #10, limits on h2/h3): `maxConnections` was enforced by the HTTP/1.1
// server only; over HTTP/2 and HTTP/3 every extended CONNECT opened a WebSocket, so one
// client could hold any number of sessions over one connection. Now a CONNECT beyond
// the limit (sessions open plus those being decided) is answered 503 + Retry-After, as
// on HTTP/1.1, and a slot freed by a close is usable again.

import test from 'ava';
import { encodeHeadersFrame, encodeSettings } from '../../src/h3/frames.js';
import { encodeFieldSection } from '../../src/h3/qpack.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { reply } from '../../src/ws/handler.js';
import { rawConnect, rawSession } from '../h2/helpers.js';
import { fieldsOf, framesOf, makeCerts, rawPeer, removeCerts, until } from '../h3/helpers.js';

const route = {
  handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
  state: null,
};

test('h2: the CONNECT beyond maxConnections is 503 with Retry-After; a closed slot is reused', async (t) => {
  const l = await listenH2({ routes: { '/echo': route }, maxConnections: 2, shutdownTimeout: 100 });
  const session = await rawSession(`http://127.0.0.1:${l.port}`);
  t.teardown(async () => {
    session.destroy();
    await l.close();
  });
  const a = await rawConnect(session, '/echo');
  const b = await rawConnect(session, '/echo');
  t.is(a.status, 200);
  t.is(b.status, 200);
  const c = await rawConnect(session, '/echo');
  t.is(c.status, 503);
  t.is(c.headers['retry-after'], '1');
  a.stream.close();
  await until(() => l.registry.sessions.size === 1);
  const d = await rawConnect(session, '/echo');
  t.is(d.status, 200);
});

test('h3: the CONNECT beyond maxConnections is 503 with Retry-After', async (t) => {
  const certs = await makeCerts('security-h3-maxconn');
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    routes: { '/echo': route },
    maxConnections: 2,
    shutdownTimeout: 100,
  });
  const { conn, rec } = await rawPeer(l.port, certs);
  t.teardown(async () => {
    conn.destroy();
    await l.close();
    await removeCerts(certs);
  });
  conn.write(conn.openStream('uni')!, [Uint8Array.of(0x00), encodeSettings([[0x01, 0]])]);
  const open = async () => {
    const s = conn.openStream('bidi')!;
    conn.write(
      s,
      encodeHeadersFrame(
        encodeFieldSection([
          [':method', 'CONNECT'],
          [':protocol', 'websocket'],
          [':scheme', 'https'],
          [':authority', 'localhost'],
          [':path', '/echo'],
          ['sec-websocket-version', '13'],
        ]),
      ),
    );
    await until(() => framesOf(rec.bytes(s)).some((f) => f.type === 'headers'));
    const [head] = framesOf(rec.bytes(s));
    return head?.type === 'headers' ? fieldsOf(head.fieldSection) : [];
  };
  t.deepEqual((await open())[0], [':status', '200']);
  t.deepEqual((await open())[0], [':status', '200']);
  const third = await open();
  t.deepEqual(third[0], [':status', '503']);
  t.true(third.some(([k, v]) => k === 'retry-after' && v === '1'));
});
