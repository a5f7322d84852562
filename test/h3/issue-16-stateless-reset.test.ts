// Issue 16: a restarted HTTP/3 server was not noticed until the QUIC idle timeout (30 s):
// it dropped the packets of connections it did not know, silently. Now it answers them
// with a Stateless Reset (RFC 9000 §10.3) whose token it derives from its key and the
// packet's connection ID, so the client ends the connection at once and a reconnecting
// client dials again within its policy's delay. Real processes: `omniws serve` is
// SIGKILLed and started again on the same port with the same certificates.

import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { connectClient } from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import { StatelessResets } from '../../src/h3/quic-reset.js';
import { serve } from '../../src/server/serve.js';
import { type CloseReason, ok } from '../../src/ws/handler.js';
import { makeCerts, removeCerts } from '../certs.js';
import { until } from '../helpers.js';
import { freeTcpPort, killProcess, startServeProcess } from '../serve-process.js';

const _bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'omniws.js');

test.after.always(() => closeH3Connections());

test('tokens: HMAC of the key and the connection ID; resets: short, smaller than their trigger, rate-limited', (t) => {
  const cid = Buffer.alloc(20, 7);
  const a = new StatelessResets(Buffer.from('key one'), 20, 3);
  const again = new StatelessResets(Buffer.from('key one'), 20, 3);
  const other = new StatelessResets(Buffer.from('key two'), 20, 3);
  t.is(a.token(cid).length, 16);
  t.deepEqual(a.token(cid), again.token(cid), 'the same key: the same token, after a restart too');
  t.notDeepEqual(a.token(cid), other.token(cid));
  t.notDeepEqual(a.token(cid), a.token(Buffer.alloc(20, 8)), 'one token per connection ID');
  const short = (n: number) => Buffer.concat([Buffer.from([0x41]), cid, Buffer.alloc(n - 21, 1)]);
  const reset = a.answer(short(30), 0)!;
  t.is(reset.length, 29, 'one byte shorter than a packet of 43 bytes or less (§10.3)');
  t.is(reset[0]! & 0xc0, 0x40, 'fixed bits 01: it looks like a short header');
  t.deepEqual(reset.subarray(-16), a.token(cid), 'it ends with the token');
  t.is(a.answer(short(1200), 0)!.length, 43, 'at most 43 bytes however large the trigger');
  t.is(a.answer(short(21), 0), null, 'a reset-sized packet gets nothing: no reset loops');
  const long = short(1200);
  long[0] = 0xc0;
  t.is(a.answer(long, 0), null, 'a long header (an unknown handshake) gets nothing');
  t.truthy(a.answer(short(100), 0), 'the third of this second');
  t.is(a.answer(short(100), 0), null, 'over the rate: 3 per second here');
  t.truthy(a.answer(short(100), 1000), 'the next second');
});

test('a raw unknown short-header packet is answered with a reset that carries the token', async (t) => {
  const certs = await makeCerts('reset-raw');
  t.teardown(() => removeCerts(certs));
  const server = await serve({ tls: { cert: certs.cert, key: certs.key }, http: [3] });
  t.teardown(() => server.close());
  const udp = dgram.createSocket('udp4');
  t.teardown(() => udp.close());
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const cid = Buffer.alloc(20, 9);
  const got = new Promise<Buffer>((r) => udp.once('message', r));
  udp.send(
    Buffer.concat([Buffer.from([0x40]), cid, Buffer.alloc(60, 2)]),
    server.port,
    '127.0.0.1',
  );
  const reset = await got;
  t.is(reset.length, 43);
  // the server's key is derived from its TLS key: the same as a fresh StatelessResets of it
  t.deepEqual(reset.subarray(-16), new StatelessResets(certs.key, 20).token(cid));
});

test('a SIGKILLed and restarted server: the client learns at once, connectClient dials again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-reset-'));
  const port = await freeTcpPort();
  let proc = await startServeProcess(port, dir);
  t.teardown(async () => {
    await killProcess(proc);
    await rm(dir, { recursive: true, force: true });
  });
  const ca = await readFile(join(dir, 'ca.pem'));
  const url = `wss://localhost:${port}/echo`;

  // a plain session: it ends as soon as its next packet meets the new server
  let ended: { reason: CloseReason; at: number } | undefined;
  const session = await connect(url, {
    http: 3,
    tls: { ca },
    state: null,
    handler: {
      handleIn: (_m, s) => ok(s),
      terminate: (reason) => {
        ended = { reason, at: Date.now() };
      },
    },
  });
  // a reconnecting client on its own connection (another pool)
  const opens: number[] = [];
  const conn = connectClient(url, {
    http: 3,
    tls: { ca },
    quic: { maxIdleTimeout: 29_000 },
    state: null,
    policy: new ReconnectPolicy({ initialDelay: 100, maxDelay: 200 }),
    heartbeat: { interval: 200, timeout: 20_000 },
    handler: {
      handleIn: (_m, s) => ok(s),
      handleConnect: (_info, s) => {
        opens.push(Date.now());
        return ok(s);
      },
    },
  });
  await conn.opened;

  await killProcess(proc);
  proc = await startServeProcess(port, dir);
  const restarted = Date.now();
  session.send('anyone there?');
  await until(() => ended !== undefined, 5000, 'the session to end');
  t.is(ended!.reason.code, 1006);
  t.true(ended!.at - restarted < 2000, `ended ${ended!.at - restarted} ms after the restart`);
  // the heartbeat's next ping meets the new server, the reset ends the connection, and
  // the policy dials again (the idle timeout, 29 s, would have taken far longer)
  await until(() => opens.length === 2, 10_000, 'a second connection');
  t.true(opens[1]! - restarted < 5000, `reconnected ${opens[1]! - restarted} ms after the restart`);
  conn.close();
  await conn.closed;
});
