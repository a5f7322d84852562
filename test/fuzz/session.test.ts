// Fuzzing a real server over loopback sockets.
//  - After a valid handshake, random frame streams and garbage in random chunkings: the
//    server answers only with well-formed unmasked frames, closes with a close frame
//    whose code is allowed (1002/1007/1009 for what it refuses) or just ends, never
//    crashes, reports no handler error, and calls terminate exactly once per session.
//  - Random request heads (an upgrade request mutated: bytes flipped, cut, duplicated,
//    junk lines, oversized): every connection gets an HTTP answer or is closed, and no
//    session is left behind.

import net from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { FrameReader } from '../../src/conformance/peer.js';
import { listen } from '../../src/server/h1-server.js';
import { type CloseReason, type Handler, ok, reply } from '../../src/ws/handler.js';
import { delay, rawClient } from '../helpers.js';
import { chunk, cutsArb, runs, SOAK, streamArb } from './gen.js';

interface Tracker {
  calls: number;
  terminated: Promise<CloseReason>;
  resolve: (r: CloseReason) => void;
}

function tracker(): Tracker {
  let resolve!: (r: CloseReason) => void;
  const terminated = new Promise<CloseReason>((r) => {
    resolve = r;
  });
  return { calls: 0, terminated, resolve };
}

const echo: Handler<Tracker> = {
  handleIn: (msg, t) => reply(t, msg.data),
  terminate(reason, t) {
    t.calls++;
    t.resolve(reason);
  },
};

/** `p`, or an error after `ms` (the timer is cleared either way: no handle outlives a test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** True when `p` settles within `ms`, false otherwise. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return within(p, ms, '').then(
    () => true,
    () => false,
  );
}

const isWireCode = (c: number) =>
  (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);

test.serial(
  'random frames after the handshake: the server closes or ends, never crashes, terminates once',
  async (t) => {
    t.timeout(SOAK ? 30 * 60_000 : 60_000);
    const trackers = new Map<string, Tracker>();
    const errors: Error[] = [];
    const srv = await listen({
      route: (req) => {
        const tr = trackers.get(req.pathname);
        return tr
          ? { handler: echo, state: tr, maxMessage: 2048, closeTimeout: 300 }
          : { status: 404 };
      },
      onError: (err) => errors.push(err),
    });
    t.teardown(() => srv.close());
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        streamArb('client', 8),
        cutsArb,
        fc.boolean(),
        async (stream, cuts, slow) => {
          const path = `/fuzz/${++n}`;
          const tr = tracker();
          trackers.set(path, tr);
          const c = await rawClient(srv.port, path);
          try {
            for (const piece of chunk(stream, cuts)) {
              if (c.socket.destroyed) break;
              c.socket.write(piece);
              if (slow) await delay(1);
            }
            // the server closes by itself, or we end our side and it must follow
            const closedByServer = await settlesWithin(c.ended, 100);
            if (!closedByServer) c.socket.end();
            await within(c.ended, 3000, 'the server never closed the connection');
            const reason = await within(tr.terminated, 3000, 'terminate never ran');
            await delay(0);
            if (tr.calls !== 1) throw new Error(`terminate ran ${tr.calls} times`);
            // what the server sent: unmasked frames, at most one close, nothing after it
            const frames = new FrameReader().push(Buffer.concat(c.received));
            let closes = 0;
            for (const f of frames) {
              if (f.masked || f.rsv !== 0) throw new Error('masked or RSV frame from the server');
              if (closes > 0) throw new Error('a frame after the close frame');
              if (f.op === 0x8) {
                closes++;
                const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
                if (code !== 1005 && !isWireCode(code)) throw new Error(`close code ${code} sent`);
                if (reason.kind === 'error' && ![1002, 1007, 1009, 1006].includes(reason.code)) {
                  throw new Error(`failed with ${reason.code}`);
                }
              }
            }
          } finally {
            c.socket.destroy();
          }
          return true;
        },
      ),
      { numRuns: runs(25) },
    );
    t.deepEqual(errors, []);
    await within(
      (async () => {
        while (srv.registry.sessions.size > 0) await delay(5);
      })(),
      3000,
      'sessions left in the registry',
    );
    t.pass();
  },
);

const GOOD_HEAD =
  'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n';

type Edit =
  | { flip: number; to: number }
  | { cut: number }
  | { insert: number; text: string }
  | { dup: number; len: number }
  | { pad: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ flip: fc.nat(), to: fc.nat(255) }),
  fc.record({ cut: fc.nat() }),
  fc.record({
    insert: fc.nat(),
    text: fc.oneof(
      fc.constantFrom('\r\n', '\n', ':', ' ', '\r\nX: y', '\r\nUpgrade: h2c', '\u0000', 'é'),
      fc.string({ unit: 'binary', maxLength: 10 }),
    ),
  }),
  fc.record({ dup: fc.nat(), len: fc.nat(40) }),
  fc.record({ pad: fc.integer({ min: 100, max: 5000 }) }),
);

function applyEdits(edits: Edit[]): Buffer {
  let b = Buffer.from(GOOD_HEAD, 'latin1');
  for (const e of edits) {
    const at = (i: number) => (b.length === 0 ? 0 : i % b.length);
    if ('flip' in e) {
      if (b.length > 0) b[at(e.flip)] = e.to;
    } else if ('cut' in e) b = b.subarray(0, at(e.cut));
    else if ('insert' in e) {
      const i = at(e.insert);
      b = Buffer.concat([b.subarray(0, i), Buffer.from(e.text, 'latin1'), b.subarray(i)]);
    } else if ('dup' in e) {
      const i = at(e.dup);
      b = Buffer.concat([b.subarray(0, i + e.len), b.subarray(i)]);
    } else {
      // a long header line, past maxHeaderSize when it is large
      const i = b.indexOf('\r\n') + 2;
      b = Buffer.concat([
        b.subarray(0, i),
        Buffer.from(`X-Pad: ${'a'.repeat(e.pad)}\r\n`),
        b.subarray(i),
      ]);
    }
  }
  return b;
}

test.serial(
  'random request heads: an HTTP answer or a close for each, no session left behind',
  async (t) => {
    t.timeout(SOAK ? 30 * 60_000 : 60_000);
    let started = 0;
    let ended = 0;
    const errors: Error[] = [];
    const srv = await listen({
      routes: {
        '/ws': {
          state: null,
          subprotocols: ['chat'],
          handler: {
            init: (_req, s) => {
              started++;
              return ok(s);
            },
            handleIn: (_m, s) => ok(s),
            terminate: () => {
              ended++;
            },
          },
        },
      },
      handshakeTimeout: 150,
      maxHeaderSize: 2048,
      onError: (err) => errors.push(err),
    });
    t.teardown(() => srv.close());
    await fc.assert(
      fc.asyncProperty(fc.array(editArb, { maxLength: 4 }), cutsArb, async (edits, cuts) => {
        const head = applyEdits(edits);
        const socket = net.connect(srv.port, '127.0.0.1');
        socket.on('error', () => {});
        let answer = '';
        socket.on('data', (d: Buffer) => {
          if (answer.length < 64) answer += d.toString('latin1');
        });
        const closed = new Promise<void>((r) => socket.once('close', () => r()));
        try {
          await new Promise<void>((r, reject) => {
            socket.once('connect', r);
            socket.once('error', reject);
          });
          for (const piece of chunk(head, cuts)) socket.write(piece);
          // an answer, or a close (408 after handshakeTimeout at the latest)
          await within(
            Promise.race([
              closed,
              (async () => {
                while (!answer.includes('\r\n')) await delay(2);
              })(),
            ]),
            3000,
            `no answer to ${JSON.stringify(head.toString('latin1').slice(0, 120))}`,
          );
          if (answer !== '' && !/^HTTP\/1\.1 \d{3} /.test(answer)) {
            throw new Error(`not an HTTP answer: ${JSON.stringify(answer)}`);
          }
        } finally {
          socket.destroy();
        }
        return true;
      }),
      { numRuns: runs(60) },
    );
    await within(
      (async () => {
        while (srv.registry.sessions.size > 0 || started !== ended) await delay(5);
      })(),
      3000,
      `sessions left: ${started} started, ${ended} ended`,
    );
    t.deepEqual(errors, []);
  },
);
