// permessage-deflate (RFC 7692): byte examples, negotiation tables, limits
// (a 1 KB → 1 GiB bomb), ordering, the limiter, context release, and the wiring
// into the HTTP/1.1 server and client.

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import zlib from 'node:zlib';
import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { acceptKey, validateH1Request } from '../../src/h1/upgrade.js';
import { listen } from '../../src/server/h1-server.js';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  clientExtensions,
  DEFLATE_LEAN,
  type DeflateOptions,
  type DeflateParams,
  negotiateDeflateServer,
  PerMessageDeflate,
  RSV1,
  sharedLimiter,
} from '../../src/ws/deflate.js';
import { WebSocketError } from '../../src/ws/errors.js';
import { encodeFrame, Opcode } from '../../src/ws/frame.js';
import { type Message, ok, reply } from '../../src/ws/handler.js';
import { parseExtensions } from '../../src/ws/headers.js';
import { Protocol, type ProtocolSink } from '../../src/ws/protocol.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function pmd(
  role: 'server' | 'client' = 'server',
  params: Partial<DeflateParams> = {},
  options: DeflateOptions = { threshold: 0 },
  maxMessage?: number,
): PerMessageDeflate {
  return new PerMessageDeflate({
    role,
    params: { ...DEFAULTS, ...params },
    options,
    ...(maxMessage !== undefined && { maxMessage }),
  });
}

/** A client-role Protocol (it reads unmasked server frames) that owns RSV1. */
function receiver(): { p: Protocol; got: { data: Buffer; rsv: number; binary: boolean }[] } {
  const got: { data: Buffer; rsv: number; binary: boolean }[] = [];
  const sink: ProtocolSink = {
    write() {},
    onMessage: (binary, data, rsv) => got.push({ binary, data, rsv }),
    onPing() {},
    onPong() {},
    onClose() {},
    onFailure(err) {
      throw err;
    },
  };
  return { p: new Protocol(sink, { role: 'client', rsvOwned: RSV1 }), got };
}

// ── RFC 7692 §7.2.3 byte examples ────────────────────────────────────────────

test('§7.2.3.1 "Hello" in one frame: c1 07 f2 48 cd c9 c9 07 00, both ways', async (t) => {
  const d = pmd();
  const enc = await d.encode(Buffer.from('Hello'), false);
  t.is(enc.rsv, RSV1);
  const frame = Buffer.concat(encodeFrame(Opcode.Text, enc.data, { rsv: enc.rsv }));
  t.is(frame.toString('hex'), 'c107f248cdc9c90700');
  const { p, got } = receiver();
  p.receive(frame);
  t.is(got.length, 1);
  t.is(got[0]!.rsv, RSV1);
  const c = pmd('client');
  t.is((await c.decode(got[0]!.data, got[0]!.rsv, false)).toString(), 'Hello');
  d.close();
  c.close();
});

test('§7.2.3.1 "Hello" in two fragments: RSV1 only on the first frame', async (t) => {
  const { p, got } = receiver();
  p.receive(hex('41 03 f2 48 cd'));
  p.receive(hex('80 04 c9 c9 07 00'));
  t.is(got.length, 1);
  t.is(got[0]!.rsv, RSV1);
  const c = pmd('client');
  t.is((await c.decode(got[0]!.data, RSV1, false)).toString(), 'Hello');
  c.close();
});

test('§7.2.3.2 context takeover: the second "Hello" is f2 00 11 00 00', async (t) => {
  const d = pmd();
  const a = await d.encode(Buffer.from('Hello'), false);
  const b = await d.encode(Buffer.from('Hello'), false);
  t.is(Buffer.from(a.data).toString('hex'), 'f248cdc9c90700');
  t.is(Buffer.from(b.data).toString('hex'), 'f200110000');
  const c = pmd('client');
  t.is((await c.decode(Buffer.from(a.data), RSV1, false)).toString(), 'Hello');
  t.is((await c.decode(hex('f2 00 11 00 00'), RSV1, false)).toString(), 'Hello');
  d.close();
  c.close();
});

test('§7.2.3.2 without context takeover the same message is compressed afresh', async (t) => {
  const d = pmd('server', { serverNoContextTakeover: true });
  const text = Buffer.from('Hello, Hello, Hello, Hello');
  const a = await d.encode(text, false);
  const b = await d.encode(text, false);
  t.is(a.rsv, RSV1);
  t.is(b.rsv, RSV1);
  t.deepEqual(Buffer.from(b.data), Buffer.from(a.data));
  t.false(d.contexts.deflate, 'the compressor is freed between messages');
  // "Hello" alone does not shrink (7 bytes > 5): without context takeover it goes as it is
  t.deepEqual(await d.encode(Buffer.from('Hello'), false), { data: Buffer.from('Hello'), rsv: 0 });
  d.close();
});

test('an empty message is sent as 00 and read back, with and without context takeover', async (t) => {
  for (const noContext of [false, true]) {
    const d = pmd('server', { serverNoContextTakeover: noContext });
    const c = pmd('client', { serverNoContextTakeover: noContext });
    for (const m of ['Hello', '', '', 'Hello again', '']) {
      const e = await d.encode(Buffer.from(m), false);
      // without context takeover the smaller form, the empty payload, goes uncompressed
      if (m === '') t.deepEqual(Buffer.from(e.data), noContext ? Buffer.alloc(0) : hex('00'));
      const back =
        e.rsv === 0 ? Buffer.from(e.data) : await c.decode(Buffer.from(e.data), e.rsv, false);
      t.is(back.toString(), m);
    }
    // a peer that sends an empty compressed payload leaves the stream as it was
    t.is((await c.decode(Buffer.alloc(0), RSV1, false)).length, 0);
    const e = await d.encode(Buffer.from('Hello, Hello, Hello'), false);
    t.is((await c.decode(Buffer.from(e.data), RSV1, false)).toString(), 'Hello, Hello, Hello');
    d.close();
    c.close();
  }
});

test('§7.2.3.3 a DEFLATE block with no compression', async (t) => {
  const { p, got } = receiver();
  p.receive(hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00'));
  const c = pmd('client');
  t.is((await c.decode(got[0]!.data, got[0]!.rsv, false)).toString(), 'Hello');
  c.close();
});

test('§7.2.3.4 two DEFLATE blocks in one message', async (t) => {
  const { p, got } = receiver();
  p.receive(hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00'));
  const c = pmd('client');
  t.is((await c.decode(got[0]!.data, got[0]!.rsv, false)).toString(), 'Hello');
  c.close();
});

test('control frames never carry RSV1, even with permessage-deflate agreed (1002)', (t) => {
  const errors: WebSocketError[] = [];
  const p = new Protocol(
    {
      write() {},
      onMessage() {},
      onPing() {},
      onPong() {},
      onClose() {},
      onFailure: (e) => errors.push(e),
    },
    { role: 'client', rsvOwned: RSV1 },
  );
  p.receive(hex('c9 00')); // ping with RSV1
  t.is(errors[0]?.code, 'WS_ERR_UNEXPECTED_RSV');
  t.is(errors[0]?.closeCode, 1002);
});

test('RSV1 on a continuation frame is a protocol error', (t) => {
  const errors: WebSocketError[] = [];
  const p = new Protocol(
    {
      write() {},
      onMessage() {},
      onPing() {},
      onPong() {},
      onClose() {},
      onFailure: (e) => errors.push(e),
    },
    { role: 'client', rsvOwned: RSV1 },
  );
  p.receive(hex('41 03 f2 48 cd'));
  p.receive(hex('c0 04 c9 c9 07 00'));
  t.is(errors[0]?.code, 'WS_ERR_UNEXPECTED_RSV');
});

test('without the extension the codec refuses RSV1 (the bits owned are passed in)', (t) => {
  const errors: WebSocketError[] = [];
  const p = new Protocol(
    {
      write() {},
      onMessage() {},
      onPing() {},
      onPong() {},
      onClose() {},
      onFailure: (e) => errors.push(e),
    },
    { role: 'client' },
  );
  p.receive(hex('c1 07 f2 48 cd c9 c9 07 00'));
  t.is(errors[0]?.code, 'WS_ERR_UNEXPECTED_RSV');
});

// ── sending ──────────────────────────────────────────────────────────────────

test('threshold: shorter messages go uncompressed with RSV1 clear (default 1024)', async (t) => {
  const d = pmd('server', {}, {});
  t.is(d.threshold, 1024);
  const small = Buffer.alloc(1023, 'a');
  const r = d.encode(small, false);
  t.false(r instanceof Promise, 'no zlib job for a small message');
  t.deepEqual(r, { data: small, rsv: 0 });
  const big = await d.encode(Buffer.alloc(1024, 'a'), false);
  t.is(big.rsv, RSV1);
  t.true(big.data.length < 100);
  d.close();
});

test('no context takeover: an incompressible message goes out as it is', async (t) => {
  const d = pmd('server', { serverNoContextTakeover: true });
  const noise = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 251));
  const r = await d.encode(noise, true);
  // either way the peer reads it; the smaller one is sent
  t.true(r.data.length <= noise.length);
  d.close();
});

test('window bits 8 agreed: zlib uses 9, and a peer with a 256-byte window still reads it', async (t) => {
  const d = pmd('server', { serverMaxWindowBits: 8 });
  const text = Buffer.from(
    Array.from({ length: 400 }, (_, i) => `line ${i % 37} of a repetitive text\n`).join(''),
  );
  const r = await d.encode(text, false);
  t.is(r.rsv, RSV1);
  t.true(r.data.length < text.length / 4);
  const back = zlib.inflateRawSync(Buffer.concat([r.data, hex('0000ffff')]), {
    windowBits: 8,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  t.true(back.equals(text));
  // and the other way: a server that agreed client_max_window_bits=8 inflates with 9
  const s = pmd('server', { clientMaxWindowBits: 8 });
  t.true((await s.decode(Buffer.from(r.data), RSV1, false)).equals(text));
  d.close();
  s.close();
});

// ── order and the limiter ────────────────────────────────────────────────────

test('order: 300 concurrent messages of mixed sizes settle and decode in call order', async (t) => {
  const d = pmd('server', {}, { threshold: 64, concurrency: 3 });
  const c = pmd('client', {}, { threshold: 64, concurrency: 3 });
  const msgs = Array.from({ length: 300 }, (_, i) =>
    Buffer.from(`${i}:`.padEnd(i % 7 === 0 ? 10 : 50 + ((i * 131) % 5000), String(i % 10))),
  );
  const settled: number[] = [];
  const limiter = sharedLimiter(3);
  let maxActive = 0;
  const encoded = await Promise.all(
    msgs.map((m, i) =>
      Promise.resolve(d.encode(m, true)).then((r) => {
        maxActive = Math.max(maxActive, limiter.active);
        settled.push(i);
        return r;
      }),
    ),
  );
  t.deepEqual(
    settled,
    msgs.map((_, i) => i),
  );
  t.true(encoded.some((e) => e.rsv === 0) && encoded.some((e) => e.rsv === RSV1));
  const order: number[] = [];
  const decoded = await Promise.all(
    encoded.map((e, i) =>
      (e.rsv === 0
        ? Promise.resolve(Buffer.from(e.data))
        : c.decode(Buffer.from(e.data), e.rsv, true)
      ).then((b) => {
        order.push(i);
        return b;
      }),
    ),
  );
  t.true(decoded.every((b, i) => b.equals(msgs[i]!)));
  t.true(maxActive <= 3);
  d.close();
  c.close();
});

test('limiter: 40 connections × 5 messages never run more than `concurrency` zlib jobs', async (t) => {
  const limiter = sharedLimiter(4);
  let maxActive = 0;
  const timer = setInterval(() => {
    maxActive = Math.max(maxActive, limiter.active);
  }, 0);
  const conns = Array.from({ length: 40 }, () =>
    pmd('server', {}, { threshold: 0, concurrency: 4 }),
  );
  const payload = Buffer.alloc(64 * 1024, 'xyz');
  const all = conns.flatMap((d) =>
    Array.from({ length: 5 }, () => Promise.resolve(d.encode(payload, true))),
  );
  await Promise.all(
    all.map((p) => p.then(() => (maxActive = Math.max(maxActive, limiter.active)))),
  );
  clearInterval(timer);
  t.true(maxActive >= 1 && maxActive <= 4, `max active ${maxActive}`);
  t.is(limiter.active, 0);
  t.is(limiter.waiting, 0);
  for (const d of conns) d.close();
});

test('close() rejects queued work and frees the limiter slots it held', async (t) => {
  const limiter = sharedLimiter(1);
  const d = pmd('server', {}, { threshold: 0, concurrency: 1 });
  const jobs = [1, 2, 3].map(() => Promise.resolve(d.encode(Buffer.alloc(100_000, 'q'), true)));
  d.close();
  for (const j of jobs) {
    const err = await t.throwsAsync(j);
    t.is((err as WebSocketError).code, 'WS_ERR_INVALID_STATE');
  }
  t.is(limiter.active, 0);
  const e = pmd('server', {}, { threshold: 0, concurrency: 1 });
  t.is((await e.encode(Buffer.from('still works'), false)).rsv, RSV1);
  e.close();
});

// ── receiving: limits and errors ─────────────────────────────────────────────

/** `size` zeros as one permessage-deflate payload, built in chunks (1 GiB → about 1 MB). */
async function bomb(size: number): Promise<Buffer> {
  const d = zlib.createDeflateRaw({ level: 1, strategy: zlib.constants.Z_RLE });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const zeros = Buffer.alloc(16 * 1024 * 1024);
  for (let n = 0; n < size; n += zeros.length) d.write(zeros);
  await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  d.close();
  const b = Buffer.concat(out);
  return b.subarray(0, b.length - 4); // without 00 00 ff ff
}

test.serial(
  'a 1 KB → 1 GiB bomb fails with 1009 after at most maxMessage + one chunk',
  async (t) => {
    const compressed = await bomb(1024 * 1024 * 1024);
    t.true(compressed.length < 1.2 * 1024 * 1024, `bomb is ${compressed.length} bytes`);
    const maxMessage = 16 * 1024 * 1024;
    const d = pmd('server', {}, {}, maxMessage);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 1);
    const started = Date.now();
    const err = await t.throwsAsync(d.decode(compressed, RSV1, true));
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    t.true(err instanceof WebSocketError);
    t.is((err as WebSocketError).code, 'WS_ERR_MESSAGE_TOO_BIG');
    t.is((err as WebSocketError).closeCode, 1009);
    const grew = (peak - before) / 1024 / 1024;
    t.log(`RSS grew ${grew.toFixed(1)} MiB; stopped after ${Date.now() - started} ms`);
    t.true(grew < 64, `RSS grew ${grew.toFixed(1)} MiB`);
    t.false(d.contexts.inflate, 'the inflater is dropped');
    d.close();
  },
);

test('maxMessage exactly: a message of maxMessage bytes passes, one more fails', async (t) => {
  const text = Buffer.alloc(100_000, 'ab');
  const compress = async () => {
    const e = pmd('client', {}, { threshold: 0 });
    const r = await e.encode(text, true);
    e.close();
    return Buffer.from(r.data);
  };
  const ok = pmd('server', {}, {}, 100_000);
  t.true((await ok.decode(await compress(), RSV1, true)).equals(text));
  const tight = pmd('server', {}, {}, 99_999);
  const err = await t.throwsAsync(tight.decode(await compress(), RSV1, true));
  t.is((err as WebSocketError).closeCode, 1009);
  ok.close();
  tight.close();
});

test('invalid compressed data fails with WS_ERR_DECOMPRESSION / 1007', async (t) => {
  const d = pmd();
  const err = await t.throwsAsync(d.decode(hex('ff ff ff ff'), RSV1, false));
  t.is((err as WebSocketError).code, 'WS_ERR_DECOMPRESSION');
  t.is((err as WebSocketError).closeCode, 1007);
  d.close();
});

// ── memory: contexts released ────────────────────────────────────────────────

test('release() (hibernation) frees both contexts; the peer may still refer back', async (t) => {
  const sender = pmd('client');
  const d = pmd('server');
  const m1 = await sender.encode(Buffer.from('Hello, hibernating world'), false);
  t.is((await d.decode(Buffer.from(m1.data), RSV1, false)).toString(), 'Hello, hibernating world');
  await d.encode(Buffer.alloc(2000, 'z'), true);
  t.deepEqual(d.contexts, { deflate: true, inflate: true, dictionary: 0 });
  d.release();
  t.deepEqual(d.contexts, { deflate: false, inflate: false, dictionary: 24 });
  // the sender kept its context: its next message refers to the first one
  const m2 = await sender.encode(Buffer.from('Hello, hibernating world!'), false);
  t.true(m2.data.length < 10, 'a back-reference');
  t.is((await d.decode(Buffer.from(m2.data), RSV1, false)).toString(), 'Hello, hibernating world!');
  // and after another release, with a longer history
  d.release();
  const m3 = await sender.encode(Buffer.from('Hello, hibernating world!'), false);
  t.is((await d.decode(Buffer.from(m3.data), RSV1, false)).toString(), 'Hello, hibernating world!');
  sender.close();
  d.close();
});

test('release() with jobs in flight waits for them', async (t) => {
  const d = pmd();
  const p = d.encode(Buffer.alloc(50_000, 'w'), true);
  d.release();
  const r = await p;
  t.is(r.rsv, RSV1);
  t.false(d.contexts.deflate);
  d.close();
});

test('the remembered window is at most 2^windowBits bytes', async (t) => {
  const sender = pmd('client', { clientMaxWindowBits: 9 });
  const d = pmd('server', { clientMaxWindowBits: 9 });
  for (let i = 0; i < 20; i++) {
    const m = await sender.encode(Buffer.from(`message ${i} `.repeat(20)), false);
    await d.decode(Buffer.from(m.data), RSV1, false);
  }
  d.release();
  t.is(d.contexts.dictionary, 512);
  const m = await sender.encode(Buffer.from(`message 19 `.repeat(20)), false);
  t.is((await d.decode(Buffer.from(m.data), RSV1, false)).toString(), 'message 19 '.repeat(20));
  sender.close();
  d.close();
});

test('no context takeover on the peer: the inflater is freed after each message', async (t) => {
  const sender = pmd('client', { clientNoContextTakeover: true });
  const d = pmd('server', { clientNoContextTakeover: true });
  const text = 'Hello, Hello, Hello, Hello';
  const m = await sender.encode(Buffer.from(text), false);
  t.is(m.rsv, RSV1);
  t.false(sender.contexts.deflate);
  t.is((await d.decode(Buffer.from(m.data), RSV1, false)).toString(), text);
  t.false(d.contexts.inflate);
  sender.close();
  d.close();
});

// ── negotiation tables (RFC 7692 §7) ─────────────────────────────────────────

const offers = (v: string) => parseExtensions(v)!;

test('server negotiation table', (t) => {
  const rows: [string, DeflateOptions, string | null, Partial<DeflateParams>?][] = [
    ['permessage-deflate', {}, 'permessage-deflate', DEFAULTS],
    // Chromium's offer
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate', DEFAULTS],
    [
      'permessage-deflate; client_max_window_bits',
      { clientMaxWindowBits: 12 },
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 12 },
    ],
    [
      'permessage-deflate; client_max_window_bits',
      DEFLATE_LEAN,
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
      { serverNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    ],
    // the client did not allow limiting its window: only ours is limited
    [
      'permessage-deflate',
      DEFLATE_LEAN,
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=12',
      { serverNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 15 },
    ],
    [
      'permessage-deflate; client_max_window_bits=10',
      {},
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 12 },
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=10',
      {},
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 9 },
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 9 },
    ],
    [
      'permessage-deflate; server_max_window_bits="8"',
      {},
      'permessage-deflate; server_max_window_bits=8',
      { serverMaxWindowBits: 8 },
    ],
    [
      'permessage-deflate; server_no_context_takeover',
      {},
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'permessage-deflate; client_no_context_takeover',
      {},
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    [
      'permessage-deflate',
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ],
    // several offers: the first acceptable one wins
    [
      'permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover, permessage-deflate',
      {},
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    ['x-webkit-deflate-frame, permessage-deflate', {}, 'permessage-deflate', DEFAULTS],
    // declined: duplicate, unknown, missing or bad values
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, null],
    ['permessage-deflate; client_max_window_bits; client_max_window_bits=10', {}, null],
    ['permessage-deflate; server_no_context_takeover=1', {}, null],
    ['permessage-deflate; client_no_context_takeover=yes', {}, null],
    ['permessage-deflate; server_max_window_bits', {}, null],
    ['permessage-deflate; server_max_window_bits=7', {}, null],
    ['permessage-deflate; server_max_window_bits=16', {}, null],
    ['permessage-deflate; server_max_window_bits=08', {}, null],
    ['permessage-deflate; client_max_window_bits=0', {}, null],
    ['permessage-deflate; client_max_window_bits=1a', {}, null],
    ['permessage-deflate; mystery', {}, null],
    ['x-webkit-deflate-frame', {}, null],
  ];
  for (const [offer, opts, response, params] of rows) {
    const r = negotiateDeflateServer(offers(offer), opts);
    if (response === null) {
      t.is(r, null, offer);
    } else {
      t.is(r?.response, response, offer);
      t.deepEqual(r?.params, { ...DEFAULTS, ...params }, offer);
    }
  }
});

test('client offer table', (t) => {
  t.is(buildDeflateOffer(), 'permessage-deflate; client_max_window_bits');
  t.is(buildDeflateOffer({ clientMaxWindowBits: false }), 'permessage-deflate');
  t.is(
    buildDeflateOffer({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
    }),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
  );
  t.is(
    buildDeflateOffer(DEFLATE_LEAN),
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12',
  );
  t.throws(() => buildDeflateOffer({ serverMaxWindowBits: 16 }), { instanceOf: RangeError });
  t.throws(() => clientExtensions({ perMessageDeflate: { memLevel: 0 } }), {
    instanceOf: RangeError,
  });
});

test('client response table: what it did not offer fails the connection', (t) => {
  const rows: [DeflateOptions, string, Partial<DeflateParams> | string][] = [
    [{}, 'permessage-deflate', DEFAULTS],
    // python-websockets' default server answer
    [
      {},
      'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12',
      { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    ],
    [{}, 'permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
    [{}, 'permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: true }],
    [{ clientNoContextTakeover: true }, 'permessage-deflate', { clientNoContextTakeover: true }],
    [{ clientMaxWindowBits: 11 }, 'permessage-deflate', { clientMaxWindowBits: 11 }],
    [
      { clientMaxWindowBits: 11 },
      'permessage-deflate; client_max_window_bits=9',
      { clientMaxWindowBits: 9 },
    ],
    [
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 9 },
    ],
    [
      { clientMaxWindowBits: false },
      'permessage-deflate; client_max_window_bits=12',
      'not offered',
    ],
    [{}, 'permessage-deflate; client_max_window_bits', 'without a value'],
    [
      { clientMaxWindowBits: 11 },
      'permessage-deflate; client_max_window_bits=12',
      'above the offer',
    ],
    [
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=11',
      'above the offer',
    ],
    [{}, 'permessage-deflate; server_max_window_bits=16', 'invalid'],
    [{}, 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', 'duplicate'],
    [{}, 'permessage-deflate; foo=bar', 'unknown'],
    [{}, 'permessage-deflate, permessage-deflate', 'one permessage-deflate'],
  ];
  for (const [opts, response, want] of rows) {
    const r = acceptDeflateResponse(offers(response), opts);
    if (typeof want === 'string') {
      t.true('error' in r && r.error.includes(want), `${response}: ${JSON.stringify(r)}`);
    } else {
      t.deepEqual(r, { ...DEFAULTS, ...want }, response);
    }
  }
});

test('clientExtensions: permessage-deflate or anything else the client did not offer fails', (t) => {
  const off = clientExtensions({});
  t.is(off.offer, '');
  t.false(off.accept(offers('permessage-deflate')));
  t.regex(off.error ?? '', /not offered/);
  const on = clientExtensions({ perMessageDeflate: true, extensions: 'x-foo' });
  t.is(on.offer, 'permessage-deflate; client_max_window_bits, x-foo');
  t.false(on.accept(offers('permessage-deflate, x-foo')), 'x-foo needs acceptExtensions');
  const both = clientExtensions({
    perMessageDeflate: true,
    extensions: 'x-foo',
    acceptExtensions: (r) => r.length === 1 && r[0]!.name === 'x-foo',
  });
  t.true(both.accept(offers('permessage-deflate; server_no_context_takeover, x-foo')));
  const ext = both.extension(1000) as PerMessageDeflate;
  t.true(ext.params.serverNoContextTakeover);
  ext.close();
  t.true(on.accept(offers('')));
  t.is(on.extension(), undefined, 'nothing agreed: no extension');
});

test('the h1 validator accepts permessage-deflate only when enabled, and passes the params on', (t) => {
  const head = (ext: string) => ({
    method: 'GET',
    httpVersion: '1.1',
    url: '/',
    headers: {
      host: 'x',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-extensions': ext,
    },
  });
  const off = validateH1Request(head('permessage-deflate; client_max_window_bits'));
  t.true(off.ok && off.responseHeaders['sec-websocket-extensions'] === undefined);
  t.true(off.ok && off.info.deflate === undefined);
  const on = validateH1Request(head('permessage-deflate; client_max_window_bits, x-foo'), {
    perMessageDeflate: { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    negotiateExtensions: (o) => (o.length === 1 && o[0]!.name === 'x-foo' ? 'x-foo' : undefined),
  });
  t.true(on.ok);
  if (!on.ok) return;
  t.is(
    on.responseHeaders['sec-websocket-extensions'],
    'permessage-deflate; server_max_window_bits=12; client_max_window_bits=12, x-foo',
  );
  t.deepEqual(on.info.deflate, { ...DEFAULTS, serverMaxWindowBits: 12, clientMaxWindowBits: 12 });
});

// ── wired into the server and client (HTTP/1.1) ──────────────────────────────

/** A raw client that offers permessage-deflate and sends hand-made frames. */
async function rawDeflateClient(port: number, offer = 'permessage-deflate', path = '/ws') {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Extensions: ${offer}\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
  });
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await new Promise<void>((resolve) => {
    const check = () => (buf.includes('\r\n\r\n') ? resolve() : socket.once('data', check));
    check();
  });
  const i = buf.indexOf('\r\n\r\n');
  const head = buf.subarray(0, i).toString('latin1');
  return {
    socket,
    head,
    closed,
    rest: () => buf.subarray(i + 4),
    send(op: Opcode, payload: Uint8Array, rsv = RSV1) {
      socket.write(
        Buffer.concat(encodeFrame(op, payload, { rsv, mask: (k) => k.set([9, 8, 7, 6]) })),
      );
    },
  };
}

function closeCodeOf(frames: Buffer): number | undefined {
  // the server's close frame: 88 len code…
  const i = frames.indexOf(0x88);
  return i < 0 ? undefined : frames.readUInt16BE(i + 2);
}

test('server: a bomb over the wire closes 1009 and never reaches the handler', async (t) => {
  const seen: Message[] = [];
  const srv = await listen({
    perMessageDeflate: true,
    maxMessage: 1024 * 1024,
    routes: {
      '/ws': {
        handler: {
          handleIn: (m, s) => {
            seen.push(m);
            return ok(s);
          },
        },
        state: null,
      },
    },
  });
  const c = await rawDeflateClient(srv.port);
  t.regex(c.head, /sec-websocket-extensions: permessage-deflate\r?$/im);
  c.send(Opcode.Binary, await bomb(64 * 1024 * 1024));
  await c.closed;
  t.is(closeCodeOf(c.rest()), 1009);
  t.is(seen.length, 0);
  await srv.close();
});

test('server: compressed text that is not UTF-8 closes 1007; garbage closes 1007', async (t) => {
  const srv = await listen({
    perMessageDeflate: true,
    routes: { '/ws': { handler: { handleIn: (m, s) => reply(s, m.data) }, state: null } },
  });
  const bad = zlib.deflateRawSync(Buffer.from([0xc3, 0x28]), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const c = await rawDeflateClient(srv.port);
  c.send(Opcode.Text, bad.subarray(0, bad.length - 4));
  await c.closed;
  t.is(closeCodeOf(c.rest()), 1007);
  const g = await rawDeflateClient(srv.port);
  g.send(Opcode.Text, hex('ff ff ff ff'));
  await g.closed;
  t.is(closeCodeOf(g.rest()), 1007);
  await srv.close();
});

test('server default is off; a route can turn it on; our client and server agree', async (t) => {
  const echo = { handler: { handleIn: (m: Message, s: null) => reply(s, m.data) }, state: null };
  const srv = await listen({
    routes: { '/plain': echo, '/ws': { ...echo, perMessageDeflate: { threshold: 0 } } },
  });
  const plain = await rawDeflateClient(srv.port, 'permessage-deflate', '/plain');
  t.notRegex(plain.head, /sec-websocket-extensions/i);
  plain.socket.destroy();
  const got: Message[] = [];
  let resolveN!: () => void;
  const done = new Promise<void>((r) => {
    resolveN = r;
  });
  const session = await connectH1(`${srv.url}/ws`, {
    perMessageDeflate: { threshold: 0 },
    fragmentSize: 1000,
    handler: {
      handleIn: (m, s) => {
        got.push(m);
        if (got.length === 3) resolveN();
        return ok(s);
      },
    },
    state: null,
  });
  t.is(session.extensions, 'permessage-deflate');
  session.send('Hello');
  session.send(Buffer.alloc(100_000, 7));
  session.send('é'.repeat(10_000));
  await done;
  t.is(got[0]?.data, 'Hello');
  t.true(Buffer.alloc(100_000, 7).equals(got[1]?.data as Buffer));
  t.is(got[2]?.data, 'é'.repeat(10_000));
  session.close();
  await session.closed;
  await srv.close();
});

/** A server that answers every upgrade with 101 and the given Sec-WebSocket-Extensions. */
async function answering(extensions: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer();
  server.on('upgrade', (req, socket) => {
    const key = String(req.headers['sec-websocket-key']);
    socket.end(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('h1 client: a response it did not offer fails the handshake with the reason', async (t) => {
  const handler = { handleIn: (_m: Message, s: null) => ok(s) };
  const cases: [string, boolean | DeflateOptions, RegExp][] = [
    ['permessage-deflate', false, /not offered: permessage-deflate/],
    ['permessage-deflate; mystery=1', true, /unknown parameter mystery/],
    [
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: false },
      /not offered/,
    ],
    [
      'permessage-deflate; server_max_window_bits=15',
      { serverMaxWindowBits: 10 },
      /above the offer/,
    ],
    ['permessage-deflate, permessage-deflate', true, /one permessage-deflate/],
    ['x-unknown', true, /not offered: x-unknown/],
  ];
  for (const [response, perMessageDeflate, want] of cases) {
    const srv = await answering(response);
    const err = await t.throwsAsync(
      connectH1(srv.url, { handler, state: null, perMessageDeflate, timeout: 5000 }),
    );
    t.is((err as WebSocketError).code, 'WS_ERR_HANDSHAKE', response);
    t.regex(err?.message ?? '', want, response);
    await srv.close();
  }
});

test('a burst of 200 messages each way keeps its order through async compression', async (t) => {
  const srv = await listen({
    perMessageDeflate: { threshold: 100 },
    routes: {
      '/ws': {
        state: null,
        handler: { handleIn: (m, s) => reply(s, m.data) },
      },
    },
  });
  const got: string[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => {
    resolveAll = r;
  });
  const session = await connectH1(`${srv.url}/ws`, {
    perMessageDeflate: { threshold: 100 },
    handler: {
      handleIn: (m, s) => {
        got.push(String(m.data));
        if (got.length === 200) resolveAll();
        return ok(s);
      },
    },
    state: null,
  });
  // sizes on both sides of the threshold: some go through zlib, some do not
  const sent = Array.from({ length: 200 }, (_, i) => `${i};`.padEnd(i % 3 === 0 ? 20 : 3000, 'x'));
  for (const m of sent) session.send(m);
  await all;
  t.deepEqual(got, sent);
  session.close();
  await session.closed;
  await srv.close();
});

test('a session that ends while messages are being compressed reports no error', async (t) => {
  const errors: Error[] = [];
  const srv = await listen({
    perMessageDeflate: true,
    onError: (e) => errors.push(e),
    routes: {
      '/ws': {
        state: null,
        handler: {
          init: (_req, s, session) => {
            for (let i = 0; i < 5; i++) session.send(Buffer.alloc(2_000_000, i));
            (session as unknown as { abort(): void }).abort();
            return ok(s);
          },
          handleIn: (_m, s) => ok(s),
        },
      },
    },
  });
  const c = await connectH1(`${srv.url}/ws`, {
    perMessageDeflate: true,
    handler: { handleIn: (_m, s) => ok(s) },
    state: null,
  });
  await c.closed;
  await srv.close();
  await new Promise((r) => setTimeout(r, 100)); // the dropped jobs settle
  t.deepEqual(
    errors.map((e) => e.message),
    [],
  );
});
