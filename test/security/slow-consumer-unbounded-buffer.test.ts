// Finding: a peer that sends but never reads made an echo server buffer every reply:
// send() only reported false, and nothing stopped the buffer from growing (tens of MB
// for tens of MB sent). Fixed in src/ws/session.ts: `maxBuffered` (default 16 MiB) with
// `onSlowConsumer` 'close' (1008 "slow consumer", WS_ERR_SLOW_CONSUMER; the default) or
// 'drop' (the message is dropped, send returns false, the connection stays).

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { Opcode } from '../../src/ws/frame.js';
import { type CloseReason, ok } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { clientFrame, delay, rawClient, until } from '../helpers.js';

const MSG = 64 * 1024;

/** A peer that writes `total` bytes of binary messages and reads nothing. */
async function flood(port: number, total: number, watch: () => Session<any> | undefined) {
  const c = await rawClient(port);
  c.socket.pause();
  const frame = clientFrame(Opcode.Binary, Buffer.alloc(MSG, 7));
  let max = 0;
  for (let sent = 0; sent < total && !c.socket.destroyed; sent += MSG * 16) {
    for (let i = 0; i < 16; i++) c.socket.write(frame);
    // the peer's own buffer does not matter: wait until the server has read it
    while (c.socket.writableLength > 1024 * 1024 && !c.socket.destroyed) await delay(1);
    max = Math.max(max, watch()?.bufferedAmount ?? 0);
  }
  return { c, max: () => max, update: () => (max = Math.max(max, watch()?.bufferedAmount ?? 0)) };
}

function endedWith(): { reason: Promise<CloseReason>; terminate: (r: CloseReason) => void } {
  let terminate!: (r: CloseReason) => void;
  const reason = new Promise<CloseReason>((r) => {
    terminate = r;
  });
  return { reason, terminate };
}

test('default policy: an echo server closes a peer that reads nothing with 1008 once 16 MiB wait', async (t) => {
  const end = endedWith();
  const srv = await listen({
    routes: {
      '/': {
        state: null,
        closeTimeout: 300,
        handler: {
          handleIn: (m, s, session) => {
            session.send(m.data);
            return ok(s);
          },
          terminate: end.terminate,
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const watch = () => [...srv.registry.sessions][0];
  const f = await flood(srv.port, 48 * 1024 * 1024, watch);
  t.teardown(() => f.c.socket.destroy());
  const r = await end.reason;
  t.is(r.kind, 'error');
  t.is(r.code, 1008);
  t.is((r.error as WebSocketError).code, 'WS_ERR_SLOW_CONSUMER');
  t.true(f.max() <= 16 * 1024 * 1024 + MSG + 1024, `${f.max()} bytes were buffered`);
});

test("onSlowConsumer 'drop': messages beyond maxBuffered are dropped, send says false, the connection stays", async (t) => {
  const results: boolean[] = [];
  const srv = await listen({
    routes: {
      '/': {
        state: null,
        maxBuffered: 1024 * 1024,
        onSlowConsumer: 'drop',
        handler: {
          handleIn: (m, s, session) => {
            results.push(session.send(m.data));
            return ok(s);
          },
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const watch = () => [...srv.registry.sessions][0];
  const f = await flood(srv.port, 24 * 1024 * 1024, watch);
  t.teardown(() => f.c.socket.destroy());
  await until(() => results.length >= 24 * 16, 10_000, 'the server to read everything');
  f.update();
  t.true(f.max() <= 1024 * 1024 + MSG + 1024, `${f.max()} bytes were buffered`);
  t.true(results.includes(false), 'some messages were refused');
  t.is(watch()?.readyState, 'open');
});

test("onSlowConsumer 'close' with a small maxBuffered: closed with 1008 'slow consumer'", async (t) => {
  const end = endedWith();
  const srv = await listen({
    routes: {
      '/': {
        state: null,
        maxBuffered: 256 * 1024,
        closeTimeout: 200,
        handler: {
          handleIn: (m, s, session) => {
            session.send(m.data);
            return ok(s);
          },
          terminate: end.terminate,
        },
      },
    },
  });
  t.teardown(() => srv.close());
  const f = await flood(srv.port, 16 * 1024 * 1024, () => [...srv.registry.sessions][0]);
  t.teardown(() => f.c.socket.destroy());
  // the peer still reads nothing: the close handshake cannot finish, the close timeout aborts
  const r = await end.reason;
  t.is(r.code, 1008);
  t.false(r.wasClean);
  t.true(f.max() <= 256 * 1024 + MSG + 1024, `${f.max()} bytes were buffered`);
});
