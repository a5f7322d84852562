// Topics with permessage-deflate (issue #17): without server context takeover a published
// message is compressed once for every subscriber with the same terms, and they all get the
// same bytes (RSV1 set); with context takeover each subscriber compresses its own, in order
// with what it sends, read correctly by `ws`.

import { once } from 'node:events';
import net from 'node:net';
import zlib from 'node:zlib';
import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { ok } from '../../src/ws/handler.js';
import { Topics } from '../../src/ws/topics.js';
import { FrameReader } from '../h2/helpers.js';
import { delay, until, wsClient } from '../helpers.js';

/** A raw HTTP/1.1 client that offers permessage-deflate and keeps every frame's bytes. */
async function deflateClient(port: number, path: string) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n',
  );
  const reader = new FrameReader();
  let head = '';
  let buf = Buffer.alloc(0);
  let headDone: () => void;
  const opened = new Promise<void>((r) => {
    headDone = r;
  });
  socket.on('data', (d: Buffer) => {
    if (head) {
      reader.push(d);
      return;
    }
    buf = Buffer.concat([buf, d]);
    const i = buf.indexOf('\r\n\r\n');
    if (i < 0) return;
    head = buf.subarray(0, i).toString('latin1');
    headDone();
    reader.push(buf.subarray(i + 4));
  });
  await opened;
  return {
    socket,
    frames: reader.frames,
    head: () => head,
    /** Payload and RSV1 of frame `i`, inflated when RSV1 is set (RFC 7692 §7.2.2). */
    message(i: number): { rsv1: boolean; text: string } {
      const { rsv1, payload } = reader.frames[i]!;
      const data = rsv1
        ? zlib.inflateRawSync(Buffer.concat([payload, Buffer.from([0, 0, 0xff, 0xff])]), {
            finishFlush: zlib.constants.Z_SYNC_FLUSH,
          })
        : payload;
      return { rsv1, text: data.toString() };
    },
  };
}

function room(topics: Topics, perMessageDeflate: WebSocketRoute['perMessageDeflate']) {
  const route: WebSocketRoute<null> = {
    state: null,
    perMessageDeflate,
    handler: {
      init: (_req, s, session) => {
        session.subscribe('news');
        return ok(s);
      },
      handleIn: (m, s, session) => {
        // a large send being compressed (asynchronously), then a publish: in that order
        if (m.data === 'big, then publish') {
          session.send('B'.repeat(200_000));
          topics.publish('news', 'published after the big one');
        }
        return ok(s);
      },
    },
  };
  return route;
}

const TEXT = 'the same news for everyone, compressible, '.repeat(100); // 4 200 bytes

test.serial(
  'shared terms: one compression for all, the same bytes to each subscriber',
  async (t) => {
    const topics = new Topics();
    const server = await listen({
      routes: { '/news': room(topics, { serverNoContextTakeover: true }) },
      topics,
    });
    t.teardown(() => server.close());
    const raws = await Promise.all([1, 2, 3].map(() => deflateClient(server.port, '/news')));
    for (const r of raws) t.regex(r.head(), /server_no_context_takeover/);
    // a real peer on the same topic and terms
    const peer = await wsClient(`${server.url}/news`, undefined, { perMessageDeflate: true });
    await until(() => topics.subscriberCount('news') === 4);

    const original = zlib.deflateRawSync;
    let compressions = 0;
    zlib.deflateRawSync = ((...args: Parameters<typeof original>) => {
      compressions++;
      return original(...args);
    }) as typeof original;
    try {
      t.is(server.publish('news', TEXT), 4);
      t.is(server.publish('news', 'short: below the threshold'), 4);
      t.is(server.publish('news', TEXT, { compress: false }), 4);
    } finally {
      zlib.deflateRawSync = original;
    }
    t.is(compressions, 1, 'compressed once for four subscribers, and only the large message');
    await until(() => raws.every((r) => r.frames.length === 3) && peer.messages.length === 3);
    for (const r of raws) {
      t.deepEqual(r.message(0), { rsv1: true, text: TEXT });
      t.deepEqual(r.message(1), { rsv1: false, text: 'short: below the threshold' });
      t.deepEqual(r.message(2), { rsv1: false, text: TEXT });
      t.true(r.frames[0]!.bytes.length < 200, `compressed to ${r.frames[0]!.bytes.length} bytes`);
    }
    t.true(
      raws.every((r) => r.frames[0]!.bytes.equals(raws[0]!.frames[0]!.bytes)),
      'identical bytes',
    );
    t.deepEqual(
      peer.messages.map((m) => m.data.toString()),
      [TEXT, 'short: below the threshold', TEXT],
    );

    // a send still being compressed goes out before a publish that follows it
    peer.ws.send('big, then publish');
    await until(() => peer.messages.length === 5);
    t.is(peer.messages[3]!.data.length, 200_000);
    t.is(peer.messages[4]!.data.toString(), 'published after the big one');
    peer.ws.close();
    for (const r of raws) r.socket.destroy();
  },
);

test.serial(
  'context takeover: each subscriber compresses its own, in order, read by ws',
  async (t) => {
    const topics = new Topics();
    const server = await listen({ routes: { '/news': room(topics, true) }, topics });
    t.teardown(() => server.close());
    const peers = await Promise.all(
      [1, 2, 3].map(() => wsClient(`${server.url}/news`, undefined, { perMessageDeflate: true })),
    );
    await until(() => topics.subscriberCount('news') === 3);
    for (const p of peers) t.regex(p.ws.extensions, /permessage-deflate/);
    const original = zlib.deflateRawSync;
    let shared = 0;
    zlib.deflateRawSync = ((...args: Parameters<typeof original>) => {
      shared++;
      return original(...args);
    }) as typeof original;
    const sent: string[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const m = i % 3 === 0 ? `short ${i}` : `${TEXT}${i}`;
        sent.push(m);
        topics.publish('news', m);
        if (i % 7 === 0) await delay(1);
      }
    } finally {
      zlib.deflateRawSync = original;
    }
    t.is(shared, 0, 'nothing is shared: each context refers back to its own messages');
    await until(() => peers.every((p) => p.messages.length === 30));
    for (const p of peers) {
      t.deepEqual(
        p.messages.map((m) => m.data.toString()),
        sent,
      );
    }
    peers[0]!.ws.send('big, then publish');
    // the sender gets its big reply and the publish; the others only the publish
    await until(() => peers[0]!.messages.length === 32 && peers[2]!.messages.length === 31);
    t.is(peers[1]!.messages.length, 31);
    t.is(peers[1]!.messages[30]!.data.toString(), 'published after the big one');
    t.is(peers[0]!.messages[30]!.data.length, 200_000);
    t.is(peers[0]!.messages[31]!.data.toString(), 'published after the big one');
    for (const p of peers) p.ws.close();
  },
);
