// Neutral WebSocket (RFC 6455, HTTP/1.1) load generator on raw sockets, extended from
// ../shared/bench/loadgen.mjs. It knows nothing about the server under test: frames are
// encoded and masked once up front, replies are only counted (frames are skipped, never
// reassembled), so the same client cost applies to every server.
//
//   node bench/loadgen.mjs --url ws://127.0.0.1:PORT/ [--mode echo|idle|setup] [options]
//
// echo  (default) --conns 50 --size 32 --window 64 --seconds 5 [--binary]
//       Each connection keeps `window` messages in flight; prints one JSON line.
// idle  --conns 10000 [--size 32] [--deflate]
//       Opens the connections (200 at a time), exchanges one message on each, prints one
//       JSON line and holds them until stdin closes or a line arrives.
//       --deflate offers permessage-deflate and sends the message compressed (RSV1).
// setup --conns 16 --seconds 3
//       `conns` loops of connect → upgrade → reset; prints handshakes per second.
import crypto from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';

const args = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (!a.startsWith('--')) continue;
  const next = argv[i + 1];
  if (next !== undefined && !next.startsWith('--')) {
    args[a.slice(2)] = next;
    i++;
  } else {
    args[a.slice(2)] = 'true';
  }
}
const url = new URL(args.url ?? 'ws://127.0.0.1:8080/');
const mode = args.mode ?? 'echo';
const conns = +(args.conns ?? (mode === 'idle' ? 10000 : mode === 'setup' ? 16 : 50));
const size = +(args.size ?? 32);
const windowN = +(args.window ?? 64);
const seconds = +(args.seconds ?? 5);
const opcode = args.binary === 'true' ? 2 : 1;
const deflate = args.deflate === 'true';
const port = +url.port || 80;

/** One masked client frame. */
function frame(op, payload, rsv1 = false) {
  const mask = crypto.randomBytes(4);
  const n = payload.length;
  const b0 = 0x80 | (rsv1 ? 0x40 : 0) | op;
  let hdr;
  if (n < 126) {
    hdr = Buffer.from([b0, 0x80 | n]);
  } else if (n < 65536) {
    hdr = Buffer.from([b0, 0x80 | 126, n >> 8, n & 255]);
  } else {
    hdr = Buffer.alloc(10);
    hdr[0] = b0;
    hdr[1] = 0x80 | 127;
    hdr.writeBigUInt64BE(BigInt(n), 2);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < n; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([hdr, mask, body]);
}

function request(extra = '') {
  const key = crypto.randomBytes(16).toString('base64');
  return (
    `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
  );
}

/**
 * Counts the frames of a byte stream without keeping their payloads: only a split
 * header is carried over between chunks.
 */
class FrameCounter {
  hdr = Buffer.alloc(0);
  skip = 0;
  /** Returns [frames, payload bytes] completed in this chunk. */
  push(d) {
    let frames = 0;
    let bytes = 0;
    let off = 0;
    let buf = d;
    if (this.hdr.length > 0) {
      buf = Buffer.concat([this.hdr, d]);
      this.hdr = Buffer.alloc(0);
    }
    const n = buf.length;
    for (;;) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - off);
        this.skip -= k;
        off += k;
        if (this.skip > 0) break;
        frames++;
      }
      if (n - off < 2) break;
      let len = buf[off + 1] & 127;
      let h = 2;
      if (len === 126) {
        if (n - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        h = 4;
      } else if (len === 127) {
        if (n - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        h = 10;
      }
      if (buf[off + 1] & 0x80) h += 4;
      if (n - off < h) break;
      off += h;
      bytes += len;
      if (len === 0) frames++;
      else this.skip = len;
    }
    if (off < n) this.hdr = Buffer.from(buf.subarray(off));
    return [frames, bytes];
  }
}

/** Connect, upgrade; resolves with the socket and the bytes after the 101 head. */
function upgrade(extra = '') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: url.hostname, port });
    s.setNoDelay(true);
    s.write(request(extra));
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = head.length ? Buffer.concat([head, d]) : d;
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      s.removeListener('data', onData);
      const status = head.subarray(0, i).toString('latin1');
      if (!status.startsWith('HTTP/1.1 101')) {
        s.destroy();
        reject(new Error(`bad handshake: ${status.split('\r\n')[0]}`));
        return;
      }
      resolve({ s, rest: head.subarray(i + 4) });
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

async function echo() {
  const one = frame(opcode, Buffer.alloc(size, 'a'));
  let totalMsgs = 0;
  let totalBytes = 0;
  let errors = 0;
  let started = false;
  let done = false;
  const open = async () => {
    const { s, rest } = await upgrade();
    s.on('error', () => errors++);
    const counter = new FrameCounter();
    let inflight = 0;
    const pump = () => {
      if (done) return;
      const k = windowN - inflight;
      if (k <= 0) return;
      s.cork();
      for (let i = 0; i < k; i++) s.write(one);
      s.uncork();
      inflight += k;
    };
    const onData = (d) => {
      const [got, bytes] = counter.push(d);
      inflight -= got;
      if (started && !done) {
        totalMsgs += got;
        totalBytes += bytes;
      }
      if (started) pump();
    };
    s.on('data', onData);
    if (rest.length > 0) onData(rest);
    return { s, start: pump };
  };
  const sockets = await Promise.all(Array.from({ length: conns }, open));
  started = true;
  const t0 = process.hrtime.bigint();
  for (const x of sockets) x.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  done = true;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    JSON.stringify({
      mode,
      conns,
      size,
      window: windowN,
      binary: opcode === 2,
      seconds: +dt.toFixed(3),
      msgsPerSec: Math.round(totalMsgs / dt),
      MBps: +(totalBytes / dt / 1e6).toFixed(1),
      errors,
    }),
  );
  for (const x of sockets) x.s.destroy();
}

async function idle() {
  const payload = Buffer.alloc(size, 'a');
  let msg;
  if (deflate) {
    const z = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    // RFC 7692 §7.2.1: remove the 0x00 0x00 0xff 0xff tail
    msg = frame(opcode, z.subarray(0, z.length - 4), true);
  } else {
    msg = frame(opcode, payload);
  }
  const extra = deflate
    ? 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'
    : '';
  const socks = [];
  let upgraded = 0;
  let echoed = 0;
  let failed = 0;
  const one = async () => {
    let conn;
    try {
      conn = await upgrade(extra);
    } catch {
      failed++;
      return;
    }
    upgraded++;
    const { s, rest } = conn;
    socks.push(s);
    s.on('error', () => {});
    await new Promise((resolve) => {
      const counter = new FrameCounter();
      const onData = (d) => {
        if (counter.push(d)[0] > 0) {
          echoed++;
          s.removeListener('data', onData);
          resolve();
        }
      };
      s.on('data', onData);
      s.write(msg);
      if (rest.length > 0) onData(rest);
    });
  };
  const t0 = Date.now();
  for (let i = 0; i < conns; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, conns - i) }, one));
  }
  console.log(
    JSON.stringify({ mode, conns, upgraded, echoed, failed, deflate, ms: Date.now() - t0 }),
  );
  await new Promise((resolve) => {
    process.stdin.on('data', resolve);
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
  });
  for (const s of socks) s.destroy();
}

async function setup() {
  let done = false;
  let count = 0;
  let errors = 0;
  const req = request();
  const loop = async () => {
    while (!done) {
      await new Promise((resolve) => {
        const s = net.connect({ host: url.hostname, port });
        s.setNoDelay(true);
        let head = '';
        s.on('error', () => {
          errors++;
          resolve();
        });
        s.on('data', (d) => {
          head += d.toString('latin1');
          if (!head.includes('\r\n\r\n')) return;
          if (head.startsWith('HTTP/1.1 101')) count++;
          else errors++;
          // an RST: no TIME_WAIT left behind to exhaust the ephemeral ports
          s.resetAndDestroy();
          resolve();
        });
        s.write(req);
      });
    }
  };
  const t0 = process.hrtime.bigint();
  const loops = Array.from({ length: conns }, loop);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  done = true;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = count;
  await Promise.all(loops);
  console.log(
    JSON.stringify({ mode, conns, seconds: +dt.toFixed(3), perSec: Math.round(n / dt), errors }),
  );
}

if (mode === 'echo') await echo();
else if (mode === 'idle') await idle();
else if (mode === 'setup') await setup();
else throw new Error(`unknown mode ${mode}`);
process.exit(0);
