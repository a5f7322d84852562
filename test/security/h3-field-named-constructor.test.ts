// Finding (issue #10 fuzzing, test/fuzz/h2h3-upgrade.test.ts): an HTTP/3 field named
// like an Object.prototype member — "constructor", "__proto__" — made checkH3Request /
// checkH3Response throw a TypeError (the field map was a plain object, so the name found
// the prototype's member where a field was expected, and `.push` was called on it). On a
// server the throw escaped the request handler and the whole QUIC connection, with every
// WebSocket on it, was closed with H3_INTERNAL_ERROR; on a client a server's response
// with such a field failed the same way. The field map now has no prototype.

import test from 'ava';
import { encodeHeadersFrame, encodeSettings } from '../../src/h3/frames.js';
import { encodeFieldSection, type Header } from '../../src/h3/qpack.js';
import { checkH3Request, checkH3Response } from '../../src/h3/upgrade.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { reply } from '../../src/ws/handler.js';
import { fieldsOf, framesOf, makeCerts, rawPeer, removeCerts, until } from '../h3/helpers.js';

const request = (extra: Header[]): Header[] => [
  [':method', 'CONNECT'],
  [':protocol', 'websocket'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/echo'],
  ['sec-websocket-version', '13'],
  ...extra,
];

test('checkH3Request / checkH3Response keep "constructor" and "__proto__" as fields', (t) => {
  for (const name of ['constructor', '__proto__', 'hasownproperty']) {
    const r = checkH3Request(
      request([
        [name, 'a'],
        [name, 'b'],
      ]),
    );
    t.true(r.ok, name);
    if (r.ok) t.deepEqual(r.headers[name], ['a', 'b']);
    const s = checkH3Response([
      [':status', '200'],
      [name, 'x'],
    ]);
    t.true(s.ok, name);
  }
});

test('an extended CONNECT with a field named "constructor" is answered, the connection lives', async (t) => {
  const certs = await makeCerts('security-h3-proto');
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    shutdownTimeout: 100,
    routes: { '/echo': { handler: { handleIn: (m, s) => reply(s, m.data) }, state: null } },
  });
  const { conn, rec } = await rawPeer(l.port, certs);
  t.teardown(async () => {
    conn.destroy();
    await l.close();
    await removeCerts(certs);
  });
  conn.write(conn.openStream('uni')!, [Uint8Array.of(0x00), encodeSettings([[0x01, 0]])]);
  for (const name of ['constructor', '__proto__']) {
    const s = conn.openStream('bidi')!;
    conn.write(
      s,
      encodeHeadersFrame(
        encodeFieldSection(
          request([
            [name, 'x'],
            [name, 'y'],
          ]),
        ),
      ),
    );
    await until(() => framesOf(rec.bytes(s)).some((f) => f.type === 'headers') || conn.closed);
    t.false(conn.closed, `${name}: the connection was closed`);
    const [head] = framesOf(rec.bytes(s));
    t.deepEqual(head?.type === 'headers' && fieldsOf(head.fieldSection)[0], [':status', '200']);
  }
});
