// Finding: while an async handler was busy, the session kept reading until 64 messages
// (`maxQueued`) were queued, whatever their size: with the default maxMessage of 64 MiB
// one connection could make the server hold 4 GiB. Fixed in src/ws/session.ts:
// `maxQueuedBytes` (default 1 MiB) also pauses reading.

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import { Opcode } from '../../src/ws/frame.js';
import { ok } from '../../src/ws/handler.js';
import { clientFrame, delay, rawClient, until } from '../helpers.js';
import { gc, used } from '../memory.js';

test.serial(
  'a busy handler and 48 MiB of 1 MiB messages: reading pauses after ~1 MiB, not 48',
  async (t) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let handled = 0;
    const srv = await listen({
      routes: {
        '/': {
          state: null,
          handler: {
            handleIn: async (_m, s) => {
              handled++;
              await gate;
              return ok(s);
            },
          },
        },
      },
    });
    t.teardown(() => srv.close());
    const c = await rawClient(srv.port);
    t.teardown(() => c.socket.destroy());
    await gc();
    const before = used();
    const frame = clientFrame(Opcode.Binary, Buffer.alloc(1024 * 1024, 3));
    for (let i = 0; i < 48; i++) c.socket.write(frame);
    await until(() => handled === 1, 5000, 'the first message');
    await delay(300);
    // what the server did not read waits in our socket (the kernel holds a few MB more)
    t.true(c.socket.writableLength > 32 * 1024 * 1024, `${c.socket.writableLength} bytes unread`);
    await gc();
    const held = used() - before - c.socket.writableLength;
    t.true(held < 16 * 1024 * 1024, `${(held / 1e6).toFixed(1)} MB held by the server`);
    release();
    await until(() => handled === 48, 10_000, 'every message, once the handler is free');
    t.pass();
  },
);
