// The wire of WebTransport over HTTP/3 (draft-ietf-webtrans-http3, RFC 9297, RFC 9221),
// sans I/O: the SETTINGS browsers look for, the stream signals, the capsules on the
// session's CONNECT stream, the datagram prefix and the mapping of WebTransport error
// codes into HTTP/3's. Every decoder throws only WtWireError.
//
// The drafts renamed their settings several times; an endpoint that wants every browser
// to find WebTransport sends them all (unknown settings are ignored: RFC 9114 §7.2.4.1):
// SETTINGS_ENABLE_WEBTRANSPORT (draft-02), WEBTRANSPORT_MAX_SESSIONS (draft-07),
// WT_MAX_SESSIONS (draft-13), WT_ENABLED (draft-15), and H3_DATAGRAM in its RFC 9297 and
// its draft-04 codepoints.

import {
  decodeVarint,
  decodeVarintBig,
  encodeVarint,
  varintLength,
  writeVarint,
} from './varint.js';

/** RFC 9297 §2.1.1 H3_DATAGRAM. */
export const SETTINGS_H3_DATAGRAM = 0x33;
/** draft-ietf-masque-h3-datagram-04's codepoint, which Chromium long sent. */
export const SETTINGS_H3_DATAGRAM_DRAFT04 = 0xffd277;
/** draft-02 SETTINGS_ENABLE_WEBTRANSPORT. */
export const SETTINGS_ENABLE_WEBTRANSPORT = 0x2b603742;
/** draft-02..06's companion: the session limit. */
export const SETTINGS_WEBTRANSPORT_MAX_SESSIONS_DRAFT02 = 0x2b603743;
/** draft-07..12 SETTINGS_WEBTRANSPORT_MAX_SESSIONS. */
export const SETTINGS_WEBTRANSPORT_MAX_SESSIONS = 0xc671706a;
/** draft-13/14 SETTINGS_WT_MAX_SESSIONS. */
export const SETTINGS_WT_MAX_SESSIONS = 0x14e9cd29;
/** draft-15 SETTINGS_WT_ENABLED. */
export const SETTINGS_WT_ENABLED = 0x2c7cf000;

/** A bidirectional stream of a session starts with this signal, then the session ID. */
export const WT_STREAM_SIGNAL = 0x41;
/** A unidirectional stream of a session: this stream type, then the session ID. */
export const WT_UNI_STREAM_TYPE = 0x54;

/** Capsules (RFC 9297 §3.2) on the CONNECT stream. */
export const CAPSULE_DATAGRAM = 0x00;
export const CAPSULE_CLOSE_WEBTRANSPORT_SESSION = 0x2843;
export const CAPSULE_DRAIN_WEBTRANSPORT_SESSION = 0x78ae;

/** RST_STREAM / STOP_SENDING on a session's streams once the session is gone. */
export const WT_SESSION_GONE = 0x170d7b68;
/** The session's CONNECT stream carried something that is not a capsule. */
export const WT_BUFFERED_STREAM_REJECTED = 0x3994bd84;

/** The largest reason a CLOSE_WEBTRANSPORT_SESSION carries (draft: 1024 bytes). */
export const MAX_CLOSE_REASON = 1024;

/** A malformed WebTransport capsule, stream header or datagram. */
export class WtWireError extends Error {
  override readonly name = 'WtWireError';
}

/** The settings a WebTransport endpoint sends, every draft's, beside extended CONNECT. */
export function webTransportSettings(maxSessions: number): [number, number][] {
  return [
    [SETTINGS_H3_DATAGRAM, 1],
    [SETTINGS_H3_DATAGRAM_DRAFT04, 1],
    [SETTINGS_ENABLE_WEBTRANSPORT, 1],
    [SETTINGS_WEBTRANSPORT_MAX_SESSIONS_DRAFT02, maxSessions],
    [SETTINGS_WEBTRANSPORT_MAX_SESSIONS, maxSessions],
    [SETTINGS_WT_MAX_SESSIONS, maxSessions],
    [SETTINGS_WT_ENABLED, 1],
  ];
}

/** Whether a peer's SETTINGS offer WebTransport under any draft's name, with datagrams. */
export function offersWebTransport(settings: ReadonlyMap<number, number>): boolean {
  const datagrams =
    settings.get(SETTINGS_H3_DATAGRAM) === 1 || settings.get(SETTINGS_H3_DATAGRAM_DRAFT04) === 1;
  const wt =
    settings.get(SETTINGS_ENABLE_WEBTRANSPORT) === 1 ||
    (settings.get(SETTINGS_WEBTRANSPORT_MAX_SESSIONS) ?? 0) > 0 ||
    (settings.get(SETTINGS_WT_MAX_SESSIONS) ?? 0) > 0 ||
    settings.get(SETTINGS_WT_ENABLED) === 1;
  return datagrams && wt;
}

/**
 * A WebTransport application error code (0 … 2^32-1) as an HTTP/3 error code: the
 * draft's range from 0x52e4a40fa8db, skipping the reserved codepoints 0x1f * N + 0x21.
 */
export function wtToH3Code(code: number): bigint {
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
    throw new RangeError(`a WebTransport error code is 0 … 2^32-1, not ${code}`);
  }
  return 0x52e4a40fa8dbn + BigInt(code) + BigInt(Math.floor(code / 0x1e));
}

/** The WebTransport code inside an HTTP/3 error code, or null when it is not one of them. */
export function h3ToWtCode(h3: bigint | number): number | null {
  const v = BigInt(h3);
  const first = 0x52e4a40fa8dbn;
  const last = wtToH3Code(0xffffffff);
  if (v < first || v > last) return null;
  if ((v - 0x21n) % 0x1fn === 0n) return null; // reserved
  const shifted = v - first;
  return Number(shifted - shifted / 0x1fn);
}

/** The header of a session's stream: the signal or stream type, then the session ID. */
export function encodeStreamHeader(kind: 'bidi' | 'uni', sessionId: number): Uint8Array {
  const type = kind === 'bidi' ? WT_STREAM_SIGNAL : WT_UNI_STREAM_TYPE;
  const out = new Uint8Array(varintLength(type) + varintLength(sessionId));
  writeVarint(out, writeVarint(out, 0, type), sessionId);
  return out;
}

/**
 * Parse the session ID after a stream's signal/type varint (already read): the ID and the
 * bytes it took, or null when `buf` ends before it does.
 */
export function readSessionId(
  buf: Uint8Array,
  offset: number,
): { id: number; next: number } | null {
  let v: ReturnType<typeof decodeVarint>;
  try {
    v = decodeVarint(buf, offset);
  } catch (err) {
    throw new WtWireError(`bad session ID: ${(err as Error).message}`);
  }
  if (v === null) return null;
  // RFC 9000 §2.1: a session is a client-initiated bidirectional stream (ID ≡ 0 mod 4)
  if (v.value % 4 !== 0)
    throw new WtWireError(`session ID ${v.value} is not a client request stream`);
  return { id: v.value, next: offset + v.length };
}

/** An HTTP Datagram for a session: the quarter stream ID (RFC 9297 §2.1), then the payload. */
export function encodeDatagram(sessionId: number, payload: Uint8Array): Uint8Array {
  const q = sessionId / 4;
  const out = new Uint8Array(varintLength(q) + payload.length);
  out.set(payload, writeVarint(out, 0, q));
  return out;
}

/** A QUIC DATAGRAM's session ID and payload. */
export function decodeDatagram(data: Uint8Array): { sessionId: number; payload: Uint8Array } {
  let v: ReturnType<typeof decodeVarint>;
  try {
    v = decodeVarint(data, 0);
  } catch (err) {
    throw new WtWireError(`bad datagram prefix: ${(err as Error).message}`);
  }
  if (v === null) throw new WtWireError('a datagram shorter than its quarter stream ID');
  return { sessionId: v.value * 4, payload: data.subarray(v.length) };
}

/** One capsule: type, length, value (RFC 9297 §3.2). */
export function encodeCapsule(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(value.length) + value.length);
  out.set(value, writeVarint(out, writeVarint(out, 0, type), value.length));
  return out;
}

/** CLOSE_WEBTRANSPORT_SESSION: a 32-bit code and a UTF-8 reason of at most 1024 bytes. */
export function encodeCloseCapsule(code: number, reason: string): Uint8Array {
  const text = Buffer.from(reason, 'utf8');
  if (text.length > MAX_CLOSE_REASON) {
    throw new RangeError(`a close reason is at most ${MAX_CLOSE_REASON} bytes, not ${text.length}`);
  }
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
    throw new RangeError(`a close code is 0 … 2^32-1, not ${code}`);
  }
  const value = new Uint8Array(4 + text.length);
  new DataView(value.buffer).setUint32(0, code);
  value.set(text, 4);
  return encodeCapsule(CAPSULE_CLOSE_WEBTRANSPORT_SESSION, value);
}

export const encodeDrainCapsule = (): Uint8Array =>
  encodeCapsule(CAPSULE_DRAIN_WEBTRANSPORT_SESSION, new Uint8Array(0));

export type Capsule =
  | { type: 'close'; code: number; reason: string }
  | { type: 'drain' }
  | { type: 'other'; capsuleType: bigint; length: number };

/**
 * Capsules from the CONNECT stream's DATA, in pieces as they come. Unknown capsules are
 * skipped (RFC 9297 §3.2) without being kept whole; a known one is kept up to `max` bytes.
 */
export class CapsuleParser {
  #buf: Uint8Array = new Uint8Array(0);
  /** Bytes of an unknown capsule still to skip. */
  #skip = 0;
  readonly #max: number;

  constructor(max = 64 * 1024) {
    this.#max = max;
  }

  push(chunk: Uint8Array): Capsule[] {
    let data = chunk;
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, data.length);
      this.#skip -= n;
      data = data.subarray(n);
    }
    const buf = this.#buf.length === 0 ? data : concat(this.#buf, data);
    const out: Capsule[] = [];
    let off = 0;
    for (;;) {
      // a type may be any varint (GREASE capsules, RFC 9297 §5.4: 0x29 * N + 0x17)
      let t: ReturnType<typeof decodeVarintBig>;
      let l: ReturnType<typeof decodeVarint>;
      try {
        t = decodeVarintBig(buf, off);
        l = t === null ? null : decodeVarint(buf, off + t.length);
      } catch (err) {
        throw new WtWireError(`bad capsule header: ${(err as Error).message}`);
      }
      if (t === null || l === null) break;
      const start = off + t.length + l.length;
      const known =
        t.value === BigInt(CAPSULE_CLOSE_WEBTRANSPORT_SESSION) ||
        t.value === BigInt(CAPSULE_DRAIN_WEBTRANSPORT_SESSION);
      if (!known) {
        out.push({ type: 'other', capsuleType: t.value, length: l.value });
        const have = Math.min(l.value, buf.length - start);
        off = start + have;
        this.#skip = l.value - have;
        if (this.#skip > 0) break;
        continue;
      }
      if (l.value > this.#max) throw new WtWireError(`a capsule of ${l.value} bytes`);
      if (buf.length - start < l.value) break;
      const value = buf.subarray(start, start + l.value);
      off = start + l.value;
      if (t.value === BigInt(CAPSULE_DRAIN_WEBTRANSPORT_SESSION)) {
        out.push({ type: 'drain' });
        continue;
      }
      if (value.length < 4) throw new WtWireError('a CLOSE_WEBTRANSPORT_SESSION without its code');
      if (value.length - 4 > MAX_CLOSE_REASON)
        throw new WtWireError('a close reason over 1024 bytes');
      let reason: string;
      try {
        reason = new TextDecoder('utf-8', { fatal: true }).decode(value.subarray(4));
      } catch {
        throw new WtWireError('a close reason that is not UTF-8');
      }
      out.push({
        type: 'close',
        code: new DataView(value.buffer, value.byteOffset).getUint32(0),
        reason,
      });
    }
    this.#buf = off >= buf.length ? new Uint8Array(0) : buf.slice(off);
    if (this.#buf.length > this.#max + 16)
      throw new WtWireError('a capsule header that never ends');
    return out;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export { encodeVarint };

// ── application protocols (draft-ietf-webtrans-http3-13 and later, §3.3) ─────────────
// The client offers `WT-Available-Protocols`, a Structured Field List of Strings (RFC
// 9651 §3.1, §3.3.3); the server picks one of them into `WT-Protocol`, a String. The
// W3C API's `protocols` option and `protocol` attribute ride on them.

/** Whether `p` can be an offered protocol: a non-empty Structured Field String (printable ASCII). */
export function isWtProtocol(p: string): boolean {
  return p.length > 0 && p.length <= 512 && /^[\x20-\x7e]+$/.test(p);
}

/** `p` as a Structured Field String: quoted, with `\` and `"` escaped. */
export function sfString(p: string): string {
  return `"${p.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The value of WT-Available-Protocols for `protocols`. */
export function encodeAvailableProtocols(protocols: readonly string[]): string {
  return protocols.map(sfString).join(', ');
}

/**
 * Parse one Structured Field String at `i` of `s`: [value, index after it], or null when
 * it is not one.
 */
function parseSfString(s: string, i: number): [string, number] | null {
  if (s[i] !== '"') return null;
  let out = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === '\\') {
      const n = s[j + 1];
      if (n !== '"' && n !== '\\') return null;
      out += n;
      j++;
    } else if (c === '"') {
      return [out, j + 1];
    } else if (c < ' ' || c > '~') {
      return null;
    } else {
      out += c;
    }
  }
  return null;
}

/**
 * The protocols a WT-Available-Protocols value offers, in order; null when the value is
 * not a List of Strings (RFC 9651: a field that fails to parse is ignored whole).
 * Parameters on a member are allowed and dropped.
 */
export function parseAvailableProtocols(value: string): string[] | null {
  const s = value.trim();
  const out: string[] = [];
  if (s === '') return out;
  let i = 0;
  for (;;) {
    const r = parseSfString(s, i);
    if (r === null) return null;
    out.push(r[0]);
    const after = skipParameters(s, r[1]);
    if (after === null) return null;
    i = after;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i === s.length) return out;
    if (s[i] !== ',') return null;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i === s.length) return null; // a trailing comma
  }
}

/** The protocol a WT-Protocol value names; null when it is not a String. */
export function parseWtProtocol(value: string): string | null {
  const s = value.trim();
  const r = parseSfString(s, 0);
  if (r === null) return null;
  return skipParameters(s, r[1]) === s.length ? r[0] : null;
}

/** Past a member's parameters (`;key` or `;key=value`, dropped) from `i`; null when malformed. */
function skipParameters(s: string, i: number): number | null {
  let at = i;
  while (s[at] === ';') {
    const m = /^;\s*[a-z*][a-z0-9_.*-]*(=("(?:[^"\\]|\\.)*"|[^,;\s]+))?/.exec(s.slice(at));
    if (m === null) return null;
    at += m[0].length;
  }
  return at;
}
