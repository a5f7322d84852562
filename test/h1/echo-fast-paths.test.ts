// The fast paths added for issue #7 (performance) must not change a byte on the wire:
// a text reply that is the message being handled reuses its received bytes; text of
// 1 KiB and more that is ASCII decodes as latin1; a tick's small frames leave in one
// buffer, in order with the large ones; the codec keeps its masking key as a number.

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { wsClient } from '../helpers.js';

function route(handleIn: WebSocketRoute<null>['handler']['handleIn']): WebSocketRoute<null> {
  return { state: null, handler: { handleIn } };
}

test('an echo returns the exact text: ASCII, multi-byte, long, short, empty', async (t) => {
  const seen: string[] = [];
  const server = await listen({
    routes: {
      '/': route((m, s) => {
        if (m.type === 'text') seen.push(m.data);
        return reply(s, m.data);
      }),
    },
  });
  const peer = await wsClient(`${server.url}/`);
  try {
    const texts = [
      '',
      'a',
      'x'.repeat(1023),
      'x'.repeat(1024),
      'ascii '.repeat(40_000),
      'é'.repeat(600),
      `${'a'.repeat(2000)}€`,
      '🚀 omniws über h1 '.repeat(500),
    ];
    for (const text of texts) {
      peer.ws.send(text);
      const back = await peer.next();
      t.false(back.binary);
      t.true(back.data.equals(Buffer.from(text, 'utf8')), `length ${text.length}`);
    }
    t.deepEqual(seen, texts);
  } finally {
    peer.ws.close();
    await server.close();
  }
});

test('a reply that differs from the message being handled is encoded, not reused', async (t) => {
  const server = await listen({
    routes: {
      // same length, other content; then the message plus a suffix; then an object frame
      '/': route((m, s) =>
        m.type === 'text'
          ? reply(s, [
              m.data.toUpperCase(),
              `${m.data}!`,
              { type: 'text', data: m.data },
              Buffer.from(m.data),
            ])
          : ok(s),
      ),
    },
  });
  const peer = await wsClient(`${server.url}/`);
  try {
    peer.ws.send('hello, omniws');
    t.is((await peer.next()).data.toString(), 'HELLO, OMNIWS');
    t.is((await peer.next()).data.toString(), 'hello, omniws!');
    const third = await peer.next();
    t.false(third.binary);
    t.is(third.data.toString(), 'hello, omniws');
    const fourth = await peer.next();
    t.true(fourth.binary);
    t.is(fourth.data.toString(), 'hello, omniws');
  } finally {
    peer.ws.close();
    await server.close();
  }
});

test('a text kept and sent later (after other messages) arrives intact', async (t) => {
  let kept = '';
  let session: Session<null> | undefined;
  const server = await listen({
    routes: {
      '/': {
        state: null,
        handler: {
          init: (_req, s, api) => {
            session = api as Session<null>;
            return ok(s);
          },
          handleIn: (m, s) => {
            if (m.type === 'text' && kept === '') kept = m.data;
            return ok(s);
          },
        },
      },
    },
  });
  const peer = await wsClient(`${server.url}/`);
  try {
    peer.ws.send('k'.repeat(5000));
    peer.ws.send('other');
    await new Promise((r) => setTimeout(r, 50));
    session!.send(kept);
    const back = await peer.next();
    t.is(back.data.toString(), 'k'.repeat(5000));
  } finally {
    peer.ws.close();
    await server.close();
  }
});

test('small and large frames written in one tick arrive in order', async (t) => {
  const sizes = [10, 2000, 3, 70_000, 1, 1, 1024, 1025, 0, 5];
  const server = await listen({
    routes: {
      '/': route((_m, s) =>
        reply(
          s,
          sizes.map((n, i) => Buffer.alloc(n, 97 + i)),
        ),
      ),
    },
  });
  const peer = await wsClient(`${server.url}/`);
  try {
    peer.ws.send('go');
    for (const [i, n] of sizes.entries()) {
      const m = await peer.next();
      t.true(m.binary);
      t.true(m.data.equals(Buffer.alloc(n, 97 + i)), `frame ${i} (${n} bytes)`);
    }
  } finally {
    peer.ws.close();
    await server.close();
  }
});

test('masked payloads of every length and alignment are unmasked (binary echo)', async (t) => {
  const server = await listen({ routes: { '/': route((m, s) => reply(s, m.data)) } });
  const peer = await wsClient(`${server.url}/`);
  try {
    for (const n of [1, 2, 3, 4, 5, 63, 64, 65, 67, 127, 128, 129, 1000, 65_535, 65_536, 65_537]) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 31 + n) & 0xff;
      peer.ws.send(data);
      const back = await peer.next();
      t.true(back.data.equals(data), `${n} bytes`);
    }
  } finally {
    peer.ws.close();
    await server.close();
  }
});
