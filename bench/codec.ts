// Receive-side codec throughput: decode + unmask + UTF-8 validate of 16 KiB masked
// text frames, as a server receives them, fed in 64 KiB chunks (frames straddle chunk
// boundaries as they do on a socket). omniws's sans-I/O Protocol (frame decoder,
// unmask, incremental UTF-8 check, message assembly) against ws's Receiver (its
// JavaScript unmask unless `bufferutil` is installed; it is not a dependency here).
//
//   node dist/bench/codec.js omniws|ws [--seconds 2] [--size 16384]
//
// Prints one JSON line. Chunks are unmasked in place by both decoders, so each pass
// decodes a fresh copy of the masked input (the copy is timed for both).

import { randomBytes } from 'node:crypto';
import * as wsModule from 'ws';
import { Protocol } from '../src/ws/protocol.js';

const impl = process.argv[2] ?? 'omniws';
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('seconds', 2);
const size = arg('size', 16 * 1024);
const CHUNK = 64 * 1024;
const FRAMES = 256;

/** FRAMES masked text frames of `size` bytes of varied UTF-8 (ASCII with some 2-4 byte runs). */
function input(): Buffer {
  const text = 'omniws — WebSocket über h1/h2/h3 🚀 '.repeat(Math.ceil(size / 30));
  let payload = Buffer.from(text, 'utf8').subarray(0, size);
  // cut at a code point boundary, pad with ASCII to the exact size
  let end = payload.length;
  while (end > 0 && (payload[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && payload[end - 1]! >= 0xc0) end--;
  payload = Buffer.concat([payload.subarray(0, end), Buffer.alloc(size - end, 0x61)]);
  const frames: Buffer[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const mask = randomBytes(4);
    const hdr =
      size < 126
        ? Buffer.from([0x81, 0x80 | size])
        : size < 65536
          ? Buffer.from([0x81, 0x80 | 126, size >> 8, size & 255])
          : Buffer.from([0x81, 0x80 | 127, 0, 0, 0, 0, size >>> 24, size >> 16, size >> 8, size]);
    const body = Buffer.from(payload);
    for (let i = 0; i < size; i++) body[i] = body[i]! ^ mask[i & 3]!;
    frames.push(hdr, mask, body);
  }
  return Buffer.concat(frames);
}

type Decoder = { push(chunk: Buffer): void; messages(): number };

function omniws(): Decoder {
  let n = 0;
  const p = new Protocol(
    {
      write() {},
      onMessage() {
        n++;
      },
      onPing() {},
      onPong() {},
      onClose() {},
      onFailure(err) {
        throw err;
      },
    },
    { role: 'server' },
  );
  return { push: (c) => p.receive(c), messages: () => n };
}

type ReceiverLike = {
  write(chunk: Buffer): void;
  on(event: string, f: (...args: never[]) => void): void;
};
// ws exports its Receiver at run time; @types/ws does not declare it
const { Receiver } = wsModule as unknown as {
  Receiver: new (opts: { isServer: boolean; maxPayload: number }) => ReceiverLike;
};

function ws(): Decoder {
  let n = 0;
  const r = new Receiver({ isServer: true, maxPayload: 0 });
  r.on('message', () => {
    n++;
  });
  r.on('error', (err: Error) => {
    throw err;
  });
  return { push: (c) => r.write(c), messages: () => n };
}

const source = input();
const decoder = impl === 'ws' ? ws() : omniws();
const pass = (): void => {
  for (let off = 0; off < source.length; off += CHUNK) {
    // a fresh chunk, as a socket read would hand over
    decoder.push(Buffer.from(source.subarray(off, Math.min(off + CHUNK, source.length))));
  }
};
// warm-up
const warmEnd = performance.now() + 300;
while (performance.now() < warmEnd) pass();
const before = decoder.messages();
let bytes = 0;
const t0 = performance.now();
const end = t0 + seconds * 1000;
while (performance.now() < end) {
  pass();
  bytes += source.length;
}
const ms = performance.now() - t0;
const messages = decoder.messages() - before;
if (messages !== (bytes / source.length) * FRAMES) throw new Error(`lost messages: ${messages}`);
console.log(
  JSON.stringify({
    impl,
    size,
    seconds: +(ms / 1000).toFixed(3),
    MBps: +(bytes / (ms / 1000) / 1e6).toFixed(1),
    msgsPerSec: Math.round(messages / (ms / 1000)),
  }),
);
