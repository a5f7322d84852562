// The conformance peer's own permessage-deflate (RFC 7692), independent of
// src/ws/deflate*.ts: node:zlib's one-shot deflateRaw / inflateRaw with Z_SYNC_FLUSH,
// the trailing 00 00 ff ff stripped on send (§7.2.1) and appended on receive (§7.2.2).
// Context takeover is replayed as a preset dictionary: the LZ77 window a continuous
// (de)compressor would hold is the tail of the previous messages' uncompressed bytes, so
// each message is (de)compressed in one call with those bytes as its dictionary, or
// with none under *_no_context_takeover. Inflating with the agreed window bits (not 15)
// makes a compressor that reaches further back than it may fail the case.

import zlib from 'node:zlib';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 32 * 1024;

/** The parameters of one permessage-deflate response element. */
export interface DeflateResponse {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** Parse a Sec-WebSocket-Extensions response: exactly one permessage-deflate element. */
export function parseResponse(header: string | undefined): DeflateResponse | string {
  if (header === undefined || header.trim() === '') return 'no extension negotiated';
  const elements = header.split(',');
  if (elements.length !== 1) return `more than one extension element: ${header}`;
  const [name, ...params] = elements[0]!.split(';').map((p) => p.trim());
  if (name !== 'permessage-deflate') return `not permessage-deflate: ${header}`;
  const r: DeflateResponse = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const seen = new Set<string>();
  for (const p of params) {
    const [key = '', value] = p.split('=').map((x) => x.trim().replace(/^"|"$/g, ''));
    if (seen.has(key)) return `parameter ${key} twice: ${header}`;
    seen.add(key);
    const bits = Number(value);
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== undefined) return `${key} with a value: ${header}`;
        if (key === 'server_no_context_takeover') r.serverNoContextTakeover = true;
        else r.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits':
        if (!/^(?:[89]|1[0-5])$/.test(value ?? '')) return `${key}=${value}: ${header}`;
        if (key === 'server_max_window_bits') r.serverMaxWindowBits = bits;
        else r.clientMaxWindowBits = bits;
        break;
      default:
        return `unknown parameter ${key}: ${header}`;
    }
  }
  return r;
}

/** Render parameters as a response element (what a peer server answers). */
export function renderResponse(p: Partial<DeflateResponse>): string {
  const parts = ['permessage-deflate'];
  if (p.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (p.clientNoContextTakeover) parts.push('client_no_context_takeover');
  if (p.serverMaxWindowBits !== undefined) {
    parts.push(`server_max_window_bits=${p.serverMaxWindowBits}`);
  }
  if (p.clientMaxWindowBits !== undefined) {
    parts.push(`client_max_window_bits=${p.clientMaxWindowBits}`);
  }
  return parts.join('; ');
}

/** One direction's context: the uncompressed tail a continuous stream would keep. */
class Context {
  #history = Buffer.alloc(0);
  constructor(
    readonly takeover: boolean,
    readonly bits: number,
  ) {}

  options(): zlib.ZlibOptions {
    return {
      // zlib refuses 8 for raw deflate; 9 is what RFC 7692 §7.1.2.1 implementations use
      windowBits: Math.max(9, this.bits),
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      ...(this.takeover && this.#history.length > 0 && { dictionary: this.#history }),
    };
  }

  after(data: Buffer): void {
    if (!this.takeover) return;
    const all = this.#history.length === 0 ? data : Buffer.concat([this.#history, data]);
    this.#history = Buffer.from(all.subarray(Math.max(0, all.length - WINDOW)));
  }
}

export interface PeerDeflate {
  /** A message's payload as the peer sends it (RSV1 set on its first frame). */
  compress(data: Buffer): Buffer;
  /** The implementation's compressed message; throws when it does not inflate. */
  decompress(data: Buffer): Buffer;
}

/** The peer's codec for an agreed response, as the `peerRole` side of the connection. */
export function peerDeflate(r: DeflateResponse, peerRole: 'client' | 'server'): PeerDeflate {
  const client = new Context(!r.clientNoContextTakeover, r.clientMaxWindowBits);
  const server = new Context(!r.serverNoContextTakeover, r.serverMaxWindowBits);
  const send = peerRole === 'client' ? client : server;
  const recv = peerRole === 'client' ? server : client;
  return {
    compress(data) {
      let out = zlib.deflateRawSync(data, send.options());
      send.after(data);
      if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) {
        out = out.subarray(0, out.length - 4);
      }
      return out;
    },
    decompress(data) {
      const out = zlib.inflateRawSync(Buffer.concat([data, TAIL]), recv.options());
      recv.after(out);
      return out;
    },
  };
}
