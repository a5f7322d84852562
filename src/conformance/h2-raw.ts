// A raw HTTP/2 client for the handshake cases: node:http2 refuses to send the requests
// those cases are about (no :scheme, a `connection` field, an upper-case name…), so this
// one writes its frames itself. HPACK: the request is literal fields without indexing
// and without Huffman (RFC 7541 §6.2.2), always valid; we announce a header table of 0
// (SETTINGS_HEADER_TABLE_SIZE), so the response can be read with the static table, of
// which only :status (indexes 8–14) matters here, and literal names.

import net from 'node:net';
import tls from 'node:tls';
import { decodeHuffman } from '../h3/huffman.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
export const SETTINGS_ENABLE_CONNECT_PROTOCOL_H2 = 0x8;

export interface RawH2Target {
  host: string;
  port: number;
  /** TLS with ALPN h2 (else h2c with prior knowledge). */
  tls?: tls.ConnectionOptions | undefined;
}

export interface RawH2Outcome {
  /** The server's SETTINGS (identifier → value). */
  settings: Map<number, number>;
  /** The response's :status, if any. */
  status?: number;
  /** The other response fields (lower-case names; a static name index as `#N`). */
  fields: [string, string][];
  /** RST_STREAM error code on our stream, if any. */
  rst?: number;
  /** GOAWAY error code, if any. */
  goaway?: number;
  /** The connection closed before anything answered the request. */
  closed: boolean;
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An integer with an N-bit prefix (RFC 7541 §5.1; QPACK's are the same, RFC 9204 §4.1.1). */
export function prefixInteger(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** Literal field without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
export function encodeLiteralFields(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(
      Buffer.from([0x00, ...prefixInteger(n.length, 7, 0)]),
      n,
      Buffer.from(prefixInteger(v.length, 7, 0)),
      v,
    );
  }
  return Buffer.concat(parts);
}

const STATUS_BY_INDEX: Record<number, string> = {
  8: '200',
  9: '204',
  10: '206',
  11: '304',
  12: '400',
  13: '404',
  14: '500',
};

/** Decode a header block with the static table's :status entries and literal names. */
export function decodeHeaderBlock(b: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const int = (prefixBits: number): number => {
    const max = (1 << prefixBits) - 1;
    let v = b[i++]! & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      const byte = b[i++];
      if (byte === undefined) throw new Error('truncated HPACK integer');
      v += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return v;
    }
  };
  const str = (): string => {
    const huff = (b[i]! & 0x80) !== 0;
    const len = int(7);
    const raw = b.subarray(i, i + len);
    i += len;
    return Buffer.from(huff ? decodeHuffman(raw) : raw).toString('latin1');
  };
  const nameOf = (index: number) =>
    STATUS_BY_INDEX[index] !== undefined ? ':status' : `#${index}`;
  while (i < b.length) {
    const x = b[i]!;
    if (x & 0x80) {
      const idx = int(7);
      out.push([nameOf(idx), STATUS_BY_INDEX[idx] ?? '']);
    } else if ((x & 0xe0) === 0x20) {
      int(5); // dynamic table size update
    } else {
      const prefix = x & 0x40 ? 6 : 4;
      const idx = int(prefix);
      const name = idx === 0 ? str() : nameOf(idx);
      out.push([name, str()]);
    }
  }
  return out;
}

/**
 * Open a connection, wait for the server's SETTINGS, send one request (HEADERS with
 * `fields`, END_STREAM when `endStream`), and report how the server answered within `ms`.
 */
export function rawH2Request(
  target: RawH2Target,
  fields: readonly (readonly [string, string])[] | null,
  opts: { endStream?: boolean; ms?: number } = {},
): Promise<RawH2Outcome> {
  return new Promise((resolve) => {
    const socket: net.Socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, ...target.tls, ALPNProtocols: ['h2'] })
      : net.connect(target.port, target.host);
    const out: RawH2Outcome = { settings: new Map(), fields: [], closed: false };
    let buf = Buffer.alloc(0);
    let block: Buffer[] = [];
    let sent = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    const timer = setTimeout(finish, opts.ms ?? 3000);
    socket.on('error', () => {
      out.closed = true;
      finish();
    });
    socket.on('close', () => {
      out.closed = true;
      finish();
    });
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      // SETTINGS_HEADER_TABLE_SIZE = 0, SETTINGS_ENABLE_PUSH = 0
      const s = Buffer.alloc(12);
      s.writeUInt16BE(0x1, 0);
      s.writeUInt32BE(0, 2);
      s.writeUInt16BE(0x2, 6);
      s.writeUInt32BE(0, 8);
      socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, s)]));
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        let p = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        if (type === SETTINGS && (flags & 1) === 0) {
          for (let k = 0; k + 6 <= p.length; k += 6)
            out.settings.set(p.readUInt16BE(k), p.readUInt32BE(k + 2));
          socket.write(frame(SETTINGS, 1, 0, Buffer.alloc(0)));
          if (!sent) {
            sent = true;
            if (fields === null) {
              finish();
              return;
            }
            const flagsOut = END_HEADERS | (opts.endStream ? END_STREAM : 0);
            socket.write(frame(HEADERS, flagsOut, 1, encodeLiteralFields(fields)));
          }
        } else if ((type === HEADERS || type === 0x9) && id === 1) {
          if (type === HEADERS) {
            if (flags & PADDED) p = p.subarray(1, p.length - p[0]!);
            if (flags & PRIORITY) p = p.subarray(5);
          }
          block.push(p);
          if (flags & END_HEADERS) {
            try {
              out.fields = decodeHeaderBlock(Buffer.concat(block));
            } catch {
              out.fields = [['#undecodable', '']];
            }
            block = [];
            const st = out.fields.find(([k]) => k === ':status');
            if (st) out.status = Number(st[1]);
            out.fields = out.fields.filter(([k]) => k !== ':status');
            finish();
          }
        } else if (type === RST_STREAM && id === 1) {
          out.rst = p.readUInt32BE(0);
          finish();
        } else if (type === GOAWAY) {
          out.goaway = p.readUInt32BE(4);
          finish();
        } else if (type === DATA) {
          // ignore bodies
        }
      }
    });
  });
}
