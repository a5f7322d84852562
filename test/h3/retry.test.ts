// QUIC address validation with Retry (RFC 9000 §8.1.2), watched through a UDP relay whose
// packet parsing is written here from RFC 9000 §17.2 (not quiche's): with `retry: true`
// the server's first answer is a Retry, the client's next Initial carries its token, and
// the WebSocket then works; a token replayed from another address gets no answer at all;
// 'auto' retries only once `retryAbove` handshakes are in progress.

import dgram from 'node:dgram';
import { once } from 'node:events';
import test from 'ava';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { type H3Listener, type H3ListenOptions, listenH3 } from '../../src/server/h3-server.js';
import { ok, reply } from '../../src/ws/handler.js';
import { recorder } from '../helpers.js';
import {
  delay,
  makeCerts,
  type Packet,
  parsePacket,
  relay,
  removeCerts,
  type TestCerts,
  until,
} from './helpers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('h3-retry');
});
test.after.always(async () => {
  closeH3Connections();
  await removeCerts(certs);
});

/** Send one datagram from a fresh socket; resolves with what came back within `ms`. */
async function sendAlone(port: number, datagram: Buffer, ms = 600): Promise<Packet[]> {
  const s = dgram.createSocket('udp4');
  const got: Packet[] = [];
  s.on('message', (m) => got.push(parsePacket(m)));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  s.send(datagram, port, '127.0.0.1');
  await delay(ms);
  s.close();
  return got;
}

async function server(t: { teardown(f: () => unknown): void }, more: Partial<H3ListenOptions>) {
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    routes: { '/echo': { handler: { handleIn: (m, s: null) => reply(s, m.data) }, state: null } },
    ...more,
  });
  t.teardown(() => l.close());
  return l;
}

/** A WebSocket echo through `port`; returns once `l`'s side has ended too. */
async function echoThrough(port: number, l: H3Listener): Promise<string> {
  const rec = recorder({ echo: false });
  const ws = await connectH3(`wss://127.0.0.1:${port}/echo`, {
    handler: rec.handler,
    state: null,
    tls: { ca: certs.ca },
    sessionIdleTimeout: 50,
  });
  ws.send('through the relay');
  await until(() => rec.messages.length === 1);
  ws.close(1000);
  await ws.closed;
  await until(() => l.registry.sessions.size === 0, 5000, 'the server session to end');
  return String(rec.messages[0]?.data);
}

test('retry: true: the first answer is a Retry, the next Initial carries its token, the WebSocket works', async (t) => {
  const l = await server(t, { retry: true });
  const r = await relay(l.port);
  t.teardown(() => r.close());
  t.is(await echoThrough(r.port, l), 'through the relay');
  t.is(r.fromServer[0]?.type, 'retry');
  t.is(r.fromServer.filter((p) => p.type === 'retry').length, 1);
  const initials = r.fromClient.filter((p) => p.type === 'initial');
  t.is(initials[0]?.token.length, 0, 'the first Initial has no token');
  t.true(
    initials.some((p) => p.token.length > 0),
    'a later Initial carries the Retry token',
  );
});

test('retry: a token replayed from another address gets no answer; a fresh Initial gets a Retry', async (t) => {
  const l = await server(t, { retry: true });
  const r = await relay(l.port);
  t.teardown(() => r.close());
  await echoThrough(r.port, l);
  const first = r.fromClient.find((p) => p.type === 'initial' && p.token.length === 0)!;
  const tokened = r.fromClient.find((p) => p.type === 'initial' && p.token.length > 0)!;
  // the same bytes from a socket the token was not issued to: silently dropped
  t.deepEqual(await sendAlone(l.port, tokened.raw), []);
  // the socket can hear answers: a tokenless Initial from it is answered with a Retry
  const answered = await sendAlone(l.port, first.raw);
  t.deepEqual(
    answered.map((p) => p.type),
    ['retry'],
  );
});

test("retry 'auto' (default): no Retry while few handshakes are in progress; a Retry from retryAbove on", async (t) => {
  const plain = await server(t, {});
  const r1 = await relay(plain.port);
  t.teardown(() => r1.close());
  t.is(await echoThrough(r1.port, plain), 'through the relay');
  t.false(r1.fromServer.some((p) => p.type === 'retry'));
  const firstInitial = r1.fromClient.find((p) => p.type === 'initial')!;

  const busy = await server(t, { retryAbove: 1 });
  // a handshake left half-open (an Initial from a socket that never goes on)
  const halfOpen = await sendAlone(busy.port, firstInitial.raw, 200);
  t.true(halfOpen.length > 0 && !halfOpen.some((p) => p.type === 'retry'), 'state was created');
  const r2 = await relay(busy.port);
  t.teardown(() => r2.close());
  t.is(await echoThrough(r2.port, busy), 'through the relay');
  t.is(r2.fromServer[0]?.type, 'retry');
});

test('handlers see the validated address as the client, as without a Retry', async (t) => {
  let seenPort: number | undefined;
  const l = await server(t, {
    retry: true,
    routes: {
      '/echo': {
        handler: {
          init: (req, s: null) => {
            seenPort = req.remotePort;
            return ok(s);
          },
          handleIn: (m, s: null) => reply(s, m.data),
        },
        state: null,
      },
    },
  });
  const r = await relay(l.port);
  t.teardown(() => r.close());
  await echoThrough(r.port, l);
  t.is(seenPort, r.upstreamPort);
});
