// Test helpers for HTTP/2: certificates per test file, an independent raw peer
// (node's bare http2 client with WebSocket frames built and parsed here, per
// RFC 6455 §5.2), and a TCP proxy that reads the HTTP/2 frames of an h2c connection
// so tests can see END_STREAM and RST_STREAM on the wire.

import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';

export { makeCerts, removeCerts, type TestCerts } from '../certs.js';
export { until } from '../helpers.js';

// ── RFC 6455 frames, written independently of src/ws/frame.ts ─────────────────

export const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A masked client frame (RFC 6455 §5.2, §5.3) with a fixed key. */
export function clientFrame(
  opcode: number,
  payload: Uint8Array | string,
  fin = true,
  key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
  const len = data.length;
  const head: number[] = [(fin ? 0x80 : 0) | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i]! ^ key[i % 4]!;
  return Buffer.concat([Buffer.from(head), key, masked]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export interface ParsedFrame {
  fin: boolean;
  /** RSV1: permessage-deflate's "compressed" bit. */
  rsv1: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** The whole frame as it came, header included. */
  bytes: Buffer;
}

/** Parses frames from a growing buffer of server bytes. */
export class FrameReader {
  #buf = Buffer.alloc(0);
  readonly frames: ParsedFrame[] = [];
  #waiters: (() => void)[] = [];

  push(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) break;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1]! & 0x80) !== 0;
      const keyOff = off;
      if (masked) off += 4;
      if (b.length < off + len) break;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ b[keyOff + (i % 4)]!;
      this.frames.push({
        fin: (b[0]! & 0x80) !== 0,
        rsv1: (b[0]! & 0x40) !== 0,
        opcode: b[0]! & 0x0f,
        masked,
        payload,
        bytes: Buffer.from(b.subarray(0, off + len)),
      });
      this.#buf = b.subarray(off + len);
    }
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves with the n-th frame (0-based) once it arrived. */
  async frame(n: number, ms = 5000): Promise<ParsedFrame> {
    const deadline = Date.now() + ms;
    while (this.frames.length <= n) {
      if (Date.now() > deadline) throw new Error(`frame ${n} did not arrive`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.frames[n]!;
  }
}

// ── a raw HTTP/2 peer ──────────────────────────────────────────────────────────

/** Connect node's bare client and wait for the server's first SETTINGS. */
export async function rawSession(
  origin: string,
  opts: http2.SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
  const session = http2.connect(origin, opts);
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}

export interface RawWs {
  stream: ClientHttp2Stream;
  status: number;
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  reader: FrameReader;
  /** Resolves when the server ended its side (END_STREAM). */
  ended: Promise<void>;
  /** Resolves with the RST_STREAM code (0 for a clean close) when the stream closed. */
  closed: Promise<number>;
}

/** Open an extended CONNECT for a WebSocket by hand. */
export function rawConnect(
  session: ClientHttp2Session,
  path: string,
  extra: Record<string, string> = {},
): Promise<RawWs> {
  const stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': path,
      'sec-websocket-version': '13',
      ...extra,
    },
    { endStream: false },
  );
  stream.on('error', () => {});
  const reader = new FrameReader();
  const ended = new Promise<void>((resolve) => stream.once('end', resolve));
  const closed = new Promise<number>((resolve) =>
    stream.once('close', () => resolve(stream.rstCode ?? -1)),
  );
  stream.on('data', (d: Buffer) => reader.push(d));
  return new Promise((resolve, reject) => {
    stream.once('response', (headers) => {
      resolve({ stream, status: Number(headers[':status']), headers, reader, ended, closed });
    });
    stream.once('close', () => reject(new Error(`stream closed, code ${stream.rstCode}`)));
  });
}

// ── HTTP/2 frames on the wire (RFC 9113 §4.1) ──────────────────────────────────

export const H2 = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7 } as const;
export const END_STREAM = 0x1;

export interface WireFrame {
  type: number;
  flags: number;
  streamId: number;
  length: number;
  /** First 4 payload bytes as a number (RST_STREAM's error code). */
  code: number | undefined;
}

class WireParser {
  #buf = Buffer.alloc(0);
  #skip: number;
  readonly frames: WireFrame[] = [];
  constructor(prefaceBytes: number) {
    this.#skip = prefaceBytes;
  }
  push(chunk: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, this.#buf.length);
      this.#buf = this.#buf.subarray(n);
      this.#skip -= n;
    }
    while (this.#buf.length >= 9) {
      const length = this.#buf.readUIntBE(0, 3);
      if (this.#buf.length < 9 + length) break;
      const type = this.#buf[3]!;
      this.frames.push({
        type,
        flags: this.#buf[4]!,
        streamId: this.#buf.readUInt32BE(5) & 0x7fffffff,
        length,
        code: length >= 4 ? this.#buf.readUInt32BE(9) : undefined,
      });
      this.#buf = this.#buf.subarray(9 + length);
    }
  }
}

export interface SniffingProxy {
  /** h2c origin of the proxy. */
  origin: string;
  port: number;
  /** Frames the server sent. */
  fromServer: WireFrame[];
  /** Frames the client sent (after the 24-byte preface). */
  fromClient: WireFrame[];
  close(): Promise<void>;
}

/** A TCP proxy in front of an h2c server that records every HTTP/2 frame header. */
export async function sniffingProxy(targetPort: number): Promise<SniffingProxy> {
  const fromServer = new WireParser(0);
  const fromClient = new WireParser(24);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d) => {
      fromClient.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      fromServer.push(d);
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    fromServer: fromServer.frames,
    fromClient: fromClient.frames,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A deferred value. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export type { ExecutionContext };
