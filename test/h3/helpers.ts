// Test helpers for HTTP/3: certificates per test file, a recording QUIC handler, a raw
// QUIC peer that writes hand-built HTTP/3 bytes (to play a misbehaving client), and a
// small HTTP/3 client for plain requests, built on our H3Connection.

import dgram from 'node:dgram';
import { once } from 'node:events';
import { H3Connection } from '../../src/h3/connection.js';
import { FrameDecoder, type FrameEvent } from '../../src/h3/frames.js';
import { decodeFieldSection, type Header } from '../../src/h3/qpack.js';
import type { QuicCloseInfo, QuicConnection, QuicConnectionHandler } from '../../src/h3/quic.js';
import { connectQuic } from '../../src/h3/quic-client.js';
import type { H3Stream } from '../../src/h3/stream.js';

import type { TestCerts } from '../certs.js';

export { makeCerts, removeCerts, type TestCerts } from '../certs.js';
export { delay, until } from '../helpers.js';

export interface Recorded {
  data: Map<number, Buffer[]>;
  fins: Set<number>;
  resets: Map<number, number>;
  stops: Map<number, number | null>;
  closed: Promise<QuicCloseInfo>;
  closeInfo: QuicCloseInfo | undefined;
  handler: QuicConnectionHandler;
  bytes(stream: number): Buffer;
  waitFin(stream: number): Promise<Buffer>;
}

export function record(
  onData?: (stream: number, data: Uint8Array, fin: boolean) => void,
): Recorded {
  const data = new Map<number, Buffer[]>();
  const fins = new Set<number>();
  const resets = new Map<number, number>();
  const stops = new Map<number, number | null>();
  const finWaiters = new Map<number, () => void>();
  let resolveClosed!: (i: QuicCloseInfo) => void;
  const closed = new Promise<QuicCloseInfo>((r) => {
    resolveClosed = r;
  });
  const bytes = (stream: number) => Buffer.concat(data.get(stream) ?? []);
  const r: Recorded = {
    data,
    fins,
    resets,
    stops,
    closed,
    closeInfo: undefined,
    bytes,
    handler: {
      onStreamData(stream, chunk, fin) {
        const list = data.get(stream) ?? [];
        list.push(Buffer.from(chunk));
        data.set(stream, list);
        if (fin) {
          fins.add(stream);
          finWaiters.get(stream)?.();
        }
        onData?.(stream, chunk, fin);
      },
      onStreamReset(stream, code) {
        resets.set(stream, code);
      },
      onStreamStopped(stream, code) {
        stops.set(stream, code);
      },
      onStreamDrain() {},
      onClose(info) {
        r.closeInfo = info;
        resolveClosed(info);
      },
    },
    waitFin(stream) {
      if (fins.has(stream)) return Promise.resolve(bytes(stream));
      return new Promise((resolve) => finWaiters.set(stream, () => resolve(bytes(stream))));
    },
  };
  return r;
}

/** A raw QUIC client with ALPN h3 that sends whatever bytes a test writes. */
export async function rawPeer(
  port: number,
  certs: TestCerts,
  host = '127.0.0.1',
): Promise<{ conn: QuicConnection; rec: Recorded }> {
  const rec = record();
  const conn = await connectQuic({
    host,
    port,
    servername: 'localhost',
    ca: certs.ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: () => rec.handler,
  });
  return { conn, rec };
}

/** The frames on a received byte string (after a uni stream's type byte, if `skip`). */
export function framesOf(bytes: Uint8Array, skip = 0): FrameEvent[] {
  return new FrameDecoder().push(bytes.subarray(skip));
}

export interface Fetched {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** An HTTP/3 client connection (our H3Connection) for plain requests. */
export async function h3Client(
  port: number,
  certs: TestCerts,
  host = '127.0.0.1',
): Promise<{
  h3: H3Connection;
  settings: Promise<void>;
  fetch(fields: Header[], body?: Uint8Array): Promise<Fetched>;
  close(): void;
}> {
  let h3!: H3Connection;
  let settled!: () => void;
  const settings = new Promise<void>((r) => {
    settled = r;
  });
  await connectQuic({
    host,
    port,
    servername: 'localhost',
    ca: certs.ca,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    timeout: 5000,
    onEstablished: (q) => {
      h3 = new H3Connection(q, { role: 'client' }, { onSettings: settled });
      return h3;
    },
  });
  return {
    h3,
    settings,
    fetch(fields, body) {
      return fetchOn(h3.request(fields, body === undefined), body);
    },
    close() {
      h3.close();
    },
  };
}

/** Send an optional body on a request stream and collect the response. */
export function fetchOn(s: H3Stream, body?: Uint8Array): Promise<Fetched> {
  if (body !== undefined) s.sendData(body, true);
  return new Promise((resolve, reject) => {
    let status = 0;
    const headers: Record<string, string> = {};
    const chunks: Uint8Array[] = [];
    s.setSink({
      onHeaders(fields, trailers) {
        if (trailers) return;
        for (const [k, v] of fields) {
          if (k === ':status') status = Number(v);
          else headers[k] = v;
        }
      },
      onData(c) {
        chunks.push(c);
      },
      onEnd() {
        resolve({ status, headers, body: Buffer.concat(chunks) });
      },
      onAbort(err) {
        if (status !== 0) resolve({ status, headers, body: Buffer.concat(chunks) });
        else reject(err);
      },
      onDrain() {},
      onClose() {},
    });
  });
}

/** Decode a HEADERS payload for assertions. */
export function fieldsOf(fieldSection: Uint8Array): Header[] {
  return decodeFieldSection(fieldSection, 1 << 20);
}

// ── a UDP relay that parses QUIC packet headers (RFC 9000 §17.2, not quiche's) ──

export type LongType = 'initial' | '0rtt' | 'handshake' | 'retry';

export interface Packet {
  raw: Buffer;
  /** Long-header type (QUIC v1), or 'short'. */
  type: LongType | 'short';
  /** An Initial's token (empty when none). */
  token: Buffer;
}

function varint(b: Buffer, at: number): [number, number] {
  const len = 1 << (b[at]! >> 6);
  let v = b[at]! & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + b[at + i]!;
  return [v, at + len];
}

/** RFC 9000 §17.2: the first packet of a datagram. */
export function parsePacket(raw: Buffer): Packet {
  const first = raw[0]!;
  if ((first & 0x80) === 0) return { raw, type: 'short', token: Buffer.alloc(0) };
  const type = (['initial', '0rtt', 'handshake', 'retry'] as const)[(first & 0x30) >> 4]!;
  let at = 5; // first byte, version
  at += 1 + raw[at]!; // DCID
  at += 1 + raw[at]!; // SCID
  let token: Buffer = Buffer.alloc(0);
  if (type === 'initial') {
    const [n, after] = varint(raw, at);
    token = raw.subarray(after, after + n);
  }
  return { raw, type, token };
}

export interface Relay {
  port: number;
  /** The port the server sees the client at. */
  upstreamPort: number;
  /** NAT rebinding: from now on the client's datagrams reach the server from a new port. */
  rebind(): Promise<void>;
  fromServer: Packet[];
  fromClient: Packet[];
  close(): void;
}

/** A UDP relay for one client in front of a QUIC server on 127.0.0.1:`target`. */
export async function relay(target: number): Promise<Relay> {
  const front = dgram.createSocket('udp4');
  const fromServer: Packet[] = [];
  const fromClient: Packet[] = [];
  let client: { port: number; address: string } | null = null;
  const upstream = async () => {
    const b = dgram.createSocket('udp4');
    b.on('message', (msg) => {
      fromServer.push(parsePacket(msg));
      if (client) front.send(msg, client.port, client.address);
    });
    b.bind(0, '127.0.0.1');
    await once(b, 'listening');
    return b;
  };
  let back = await upstream();
  front.on('message', (msg, rinfo) => {
    client = rinfo;
    fromClient.push(parsePacket(msg));
    back.send(msg, target, '127.0.0.1');
  });
  front.bind(0, '127.0.0.1');
  await once(front, 'listening');
  const r: Relay = {
    port: front.address().port,
    upstreamPort: back.address().port,
    fromServer,
    fromClient,
    async rebind() {
      const old = back;
      back = await upstream();
      old.close();
      r.upstreamPort = back.address().port;
    },
    close() {
      front.close();
      back.close();
    },
  };
  return r;
}
