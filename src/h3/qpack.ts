// QPACK (RFC 9204) with the static table only: we advertise
// SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0, so a peer may never insert into a dynamic
// table, and our field sections never reference one (prefix 0x00 0x00).
//
// Headers are [name, value] pairs of latin1 strings: one char per octet, char codes
// 0-255, as node:http does. A caller that wants UTF-8 converts with
// Buffer.from(value, 'latin1').toString('utf8'). An optional third element `true`
// marks a field as never-indexed (the N bit, RFC 9204 §4.5.4): the decoder reports it
// and the encoder keeps it literal.
//
// decodeFieldSection returns fields in wire order and guarantees what RFC 9114 §4.2 and
// §4.3 require of their shape — lowercase token names, pseudo-headers first, no NUL,
// CR or LF in values — throwing an H3Error (H3_MESSAGE_ERROR, stream scope) otherwise.
// Which pseudo-headers a request or response may carry is the caller's check.
// Decompression failures are QpackErrors (QPACK_DECOMPRESSION_FAILED, connection).
// A field section above the caller's limit (RFC 9114 §4.2.2 size) is an H3Error
// (H3_EXCESSIVE_LOAD, stream scope): a server may answer 431 instead of resetting.
//
// The peer's encoder stream goes through parseEncoderStream and its decoder stream
// through DecoderStreamParser; both only validate, as there is no table to update.
// We never need to send on either stream (RFC 9204 §4.2 lets us not open them).

import { Buffer } from 'node:buffer';
import { WebSocketError } from '../ws/errors.js';
import {
  H3_EXCESSIVE_LOAD,
  H3_MESSAGE_ERROR,
  H3Error,
  QPACK_DECODER_STREAM_ERROR,
  QPACK_DECOMPRESSION_FAILED,
  QPACK_ENCODER_STREAM_ERROR,
  QpackError,
} from './errors.js';
import { decodeHuffman, huffmanEncodedLength, writeHuffman } from './huffman.js';

/** A field line: lowercase name, latin1 value, and `true` if it must never be indexed. */
export type Header = readonly [name: string, value: string, neverIndex?: boolean];

/** RFC 9204 Appendix A. Index = static table index. */
export const STATIC_TABLE: readonly (readonly [name: string, value: string])[] = [
  [':authority', ''], // 0
  [':path', '/'], // 1
  ['age', '0'], // 2
  ['content-disposition', ''], // 3
  ['content-length', '0'], // 4
  ['cookie', ''], // 5
  ['date', ''], // 6
  ['etag', ''], // 7
  ['if-modified-since', ''], // 8
  ['if-none-match', ''], // 9
  ['last-modified', ''], // 10
  ['link', ''], // 11
  ['location', ''], // 12
  ['referer', ''], // 13
  ['set-cookie', ''], // 14
  [':method', 'CONNECT'], // 15
  [':method', 'DELETE'], // 16
  [':method', 'GET'], // 17
  [':method', 'HEAD'], // 18
  [':method', 'OPTIONS'], // 19
  [':method', 'POST'], // 20
  [':method', 'PUT'], // 21
  [':scheme', 'http'], // 22
  [':scheme', 'https'], // 23
  [':status', '103'], // 24
  [':status', '200'], // 25
  [':status', '304'], // 26
  [':status', '404'], // 27
  [':status', '503'], // 28
  ['accept', '*/*'], // 29
  ['accept', 'application/dns-message'], // 30
  ['accept-encoding', 'gzip, deflate, br'], // 31
  ['accept-ranges', 'bytes'], // 32
  ['access-control-allow-headers', 'cache-control'], // 33
  ['access-control-allow-headers', 'content-type'], // 34
  ['access-control-allow-origin', '*'], // 35
  ['cache-control', 'max-age=0'], // 36
  ['cache-control', 'max-age=2592000'], // 37
  ['cache-control', 'max-age=604800'], // 38
  ['cache-control', 'no-cache'], // 39
  ['cache-control', 'no-store'], // 40
  ['cache-control', 'public, max-age=31536000'], // 41
  ['content-encoding', 'br'], // 42
  ['content-encoding', 'gzip'], // 43
  ['content-type', 'application/dns-message'], // 44
  ['content-type', 'application/javascript'], // 45
  ['content-type', 'application/json'], // 46
  ['content-type', 'application/x-www-form-urlencoded'], // 47
  ['content-type', 'image/gif'], // 48
  ['content-type', 'image/jpeg'], // 49
  ['content-type', 'image/png'], // 50
  ['content-type', 'text/css'], // 51
  ['content-type', 'text/html; charset=utf-8'], // 52
  ['content-type', 'text/plain'], // 53
  ['content-type', 'text/plain;charset=utf-8'], // 54
  ['range', 'bytes=0-'], // 55
  ['strict-transport-security', 'max-age=31536000'], // 56
  ['strict-transport-security', 'max-age=31536000; includesubdomains'], // 57
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'], // 58
  ['vary', 'accept-encoding'], // 59
  ['vary', 'origin'], // 60
  ['x-content-type-options', 'nosniff'], // 61
  ['x-xss-protection', '1; mode=block'], // 62
  [':status', '100'], // 63
  [':status', '204'], // 64
  [':status', '206'], // 65
  [':status', '302'], // 66
  [':status', '400'], // 67
  [':status', '403'], // 68
  [':status', '421'], // 69
  [':status', '425'], // 70
  [':status', '500'], // 71
  ['accept-language', ''], // 72
  ['access-control-allow-credentials', 'FALSE'], // 73
  ['access-control-allow-credentials', 'TRUE'], // 74
  ['access-control-allow-headers', '*'], // 75
  ['access-control-allow-methods', 'get'], // 76
  ['access-control-allow-methods', 'get, post, options'], // 77
  ['access-control-allow-methods', 'options'], // 78
  ['access-control-expose-headers', 'content-length'], // 79
  ['access-control-request-headers', 'content-type'], // 80
  ['access-control-request-method', 'get'], // 81
  ['access-control-request-method', 'post'], // 82
  ['alt-svc', 'clear'], // 83
  ['authorization', ''], // 84
  ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"], // 85
  ['early-data', '1'], // 86
  ['expect-ct', ''], // 87
  ['forwarded', ''], // 88
  ['if-range', ''], // 89
  ['origin', ''], // 90
  ['purpose', 'prefetch'], // 91
  ['server', ''], // 92
  ['timing-allow-origin', '*'], // 93
  ['upgrade-insecure-requests', '1'], // 94
  ['user-agent', ''], // 95
  ['x-forwarded-for', ''], // 96
  ['x-frame-options', 'deny'], // 97
  ['x-frame-options', 'sameorigin'], // 98
];

interface StaticName {
  /** Lowest index with this name: the cheapest name reference. */
  nameIndex: number;
  values: Map<string, number>;
}

const STATIC_BY_NAME = new Map<string, StaticName>();
STATIC_TABLE.forEach(([name, value], index) => {
  let entry = STATIC_BY_NAME.get(name);
  if (entry === undefined) {
    entry = { nameIndex: index, values: new Map() };
    STATIC_BY_NAME.set(name, entry);
  }
  if (!entry.values.has(value)) entry.values.set(value, index);
});

const TWO_62 = 2 ** 62;

// RFC 9110 §5.6.2 tchar, lowercase only: RFC 9114 §4.2 "A request or response
// containing uppercase characters in field names MUST be treated as malformed."
const NAME_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
  NAME_CHAR[c.charCodeAt(0)] = 1;
}

// ---------------------------------------------------------------------------
// Prefixed integers (RFC 7541 §5.1, used unmodified by RFC 9204 §4.1.1)

/**
 * Writes `value` as an integer with an N-bit prefix at `offset`; `flags` are the bits
 * above the prefix in the first byte. Returns the offset past it.
 */
export function writePrefixedInt(
  out: Uint8Array,
  offset: number,
  value: number,
  prefixBits: number,
  flags: number,
): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[offset] = flags | value;
    return offset + 1;
  }
  out[offset++] = flags | max;
  value -= max;
  while (value >= 128) {
    out[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[offset++] = value;
  return offset;
}

/** Integer with an N-bit prefix at `offset`: its value and the offset past it; null if truncated. */
export function readPrefixedInt(
  buf: Uint8Array,
  offset: number,
  prefixBits: number,
): { value: number; next: number } | null {
  const r = new Reader(buf, offset, buf.length);
  const value = r.tryInt(prefixBits);
  return value < 0 ? null : { value, next: r.pos };
}

// ---------------------------------------------------------------------------
// Decoding

class Reader {
  pos: number;
  readonly #buf: Uint8Array;
  readonly #end: number;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.#buf = buf;
    this.pos = pos;
    this.#end = end;
  }

  get done(): boolean {
    return this.pos >= this.#end;
  }

  fail(message: string): never {
    throw new QpackError(QPACK_DECOMPRESSION_FAILED, message);
  }

  /** The integer at `pos`, or -1 if the input ends inside it. */
  tryInt(prefixBits: number): number {
    const buf = this.#buf;
    let pos = this.pos;
    if (pos >= this.#end) return -1;
    const max = (1 << prefixBits) - 1;
    let value = buf[pos++]! & max;
    if (value === max) {
      let shift = 0;
      let b: number;
      do {
        if (pos >= this.#end) return -1;
        b = buf[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        // RFC 9204 §4.1.1: "QPACK implementations MUST be able to decode integers up
        // to and including 62 bits long." Longer ones exceed our limit (§7.4).
        if (value >= TWO_62 || (shift > 63 && b & 0x80)) this.fail('integer exceeds 62 bits');
      } while (b & 0x80);
    }
    this.pos = pos;
    return value;
  }

  int(prefixBits: number): number {
    const value = this.tryInt(prefixBits);
    if (value < 0) this.fail('field section ends inside an integer');
    return value;
  }

  /** An N-bit prefix string literal (RFC 9204 §4.1.2) as latin1. */
  string(prefixBits: number): string {
    const huffman = (this.#buf[this.pos]! & (1 << (prefixBits - 1))) !== 0;
    const length = this.int(prefixBits - 1);
    if (length > this.#end - this.pos) this.fail('field section ends inside a string literal');
    let bytes = this.#buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    if (huffman) bytes = decodeHuffman(bytes);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  }
}

function malformed(message: string): never {
  throw new H3Error(H3_MESSAGE_ERROR, message, { scope: 'stream' });
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty field name';
  for (let i = name.charCodeAt(0) === 0x3a ? 1 : 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || NAME_CHAR[c] === 0) {
      return c >= 0x41 && c <= 0x5a
        ? `uppercase field name ${JSON.stringify(name)}`
        : `invalid character 0x${c.toString(16)} in field name`;
    }
  }
  return undefined;
}

function valueProblem(value: string): string | undefined {
  // RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and
  // dangerous"; RFC 9114 §4.1.2 makes them malformed.
  return value.includes('\r') || value.includes('\n') || value.includes('\0')
    ? 'CR, LF or NUL in field value'
    : undefined;
}

function staticEntry(r: Reader, index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index];
  // RFC 9204 §3.1: "When the decoder encounters an invalid static table index in a field
  // line representation, it MUST treat this as a connection error of type
  // QPACK_DECOMPRESSION_FAILED."
  if (entry === undefined) r.fail(`static table index ${index} out of range`);
  return entry;
}

/**
 * Decodes one encoded field section (the payload of a HEADERS or PUSH_PROMISE frame).
 * `maxFieldSectionSize` bounds the decoded size as RFC 9114 §4.2.2 counts it: the
 * length of name and value plus 32 for each field.
 */
export function decodeFieldSection(bytes: Uint8Array, maxFieldSectionSize: number): Header[] {
  const r: Reader = new Reader(bytes, 0, bytes.length);
  const requiredInsertCount = r.int(8);
  // RFC 9204 §4.5.1.1: with our MaxTableCapacity of 0, MaxEntries and FullRange are 0,
  // and "if EncodedInsertCount > FullRange: Error".
  if (requiredInsertCount !== 0) {
    r.fail(`Required Insert Count ${requiredInsertCount} but our dynamic table capacity is 0`);
  }
  if (r.done) r.fail('field section ends inside its prefix');
  const sign = bytes[r.pos]! & 0x80;
  const deltaBase = r.int(7);
  // RFC 9204 §4.5.1.2: "An endpoint MUST treat a field block with a Sign bit of 1 as
  // invalid if the value of Required Insert Count is less than or equal to the value of
  // Delta Base." Otherwise, without dynamic references, any Base is fine.
  if (sign !== 0) r.fail(`negative Base (Delta Base ${deltaBase}, Required Insert Count 0)`);

  const headers: Header[] = [];
  let size = 0;
  let regularSeen = false;
  while (!r.done) {
    const first = bytes[r.pos]!;
    let name: string;
    let value: string;
    let neverIndex = false;
    let literal = true;
    if (first & 0x80) {
      // Indexed Field Line: 1 T Index(6+)
      if ((first & 0x40) === 0) r.fail('indexed field line references the dynamic table');
      [name, value] = staticEntry(r, r.int(6));
      literal = false;
    } else if (first & 0x40) {
      // Literal Field Line with Name Reference: 0 1 N T NameIndex(4+)
      if ((first & 0x10) === 0) r.fail('literal field line references the dynamic table');
      neverIndex = (first & 0x20) !== 0;
      name = staticEntry(r, r.int(4))[0];
      value = r.string(8);
    } else if (first & 0x20) {
      // Literal Field Line with Literal Name: 0 0 1 N H NameLen(3+)
      neverIndex = (first & 0x10) !== 0;
      name = r.string(4);
      value = r.string(8);
      const problem = nameProblem(name);
      if (problem !== undefined) malformed(problem);
    } else {
      // 0001xxxx Indexed Field Line with Post-Base Index, 0000xxxx Literal Field Line
      // with Post-Base Name Reference: both address entries at or above Base, which
      // RFC 9204 §2.2.3 makes invalid when "greater than or equal to the declared
      // Required Insert Count" — here 0.
      r.fail('post-base reference to the dynamic table');
    }
    size += name.length + value.length + 32;
    if (size > maxFieldSectionSize) {
      throw new H3Error(
        H3_EXCESSIVE_LOAD,
        `field section larger than ${maxFieldSectionSize} bytes (RFC 9114 §4.2.2 size)`,
        { scope: 'stream' },
      );
    }
    if (literal) {
      const problem = valueProblem(value);
      if (problem !== undefined) malformed(problem);
    }
    if (name.charCodeAt(0) === 0x3a) {
      // RFC 9114 §4.3: "Any request or response that contains a pseudo-header field that
      // appears in a header section after a regular header field MUST be treated as
      // malformed."
      if (regularSeen) malformed(`pseudo-header ${name} after a regular field`);
    } else {
      regularSeen = true;
    }
    headers.push(neverIndex ? [name, value, true] : [name, value]);
  }
  return headers;
}

/** Size of a field section as RFC 9114 §4.2.2 counts it (for SETTINGS_MAX_FIELD_SECTION_SIZE). */
export function fieldSectionSize(headers: Iterable<Header>): number {
  let size = 0;
  for (const [name, value] of headers) size += name.length + value.length + 32;
  return size;
}

// ---------------------------------------------------------------------------
// Encoding

export interface EncodeOptions {
  /** Huffman-code a string literal when that makes it shorter. Default true. */
  huffman?: boolean;
}

function invalidArgument(message: string): never {
  throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', `QPACK encode: ${message}`);
}

/** Writes a string literal with an N-bit prefix; `flags` are the bits above the H bit. */
function writeString(
  out: Uint8Array,
  o: number,
  s: string,
  prefixBits: number,
  flags: number,
  huffman: boolean,
): number {
  if (huffman) {
    const hlen = huffmanEncodedLength(s);
    if (hlen < s.length) {
      o = writePrefixedInt(out, o, hlen, prefixBits - 1, flags | (1 << (prefixBits - 1)));
      return writeHuffman(s, out, o);
    }
  }
  o = writePrefixedInt(out, o, s.length, prefixBits - 1, flags);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) invalidArgument(`char code ${c} is not latin1 (0-255)`);
    out[o++] = c;
  }
  return o;
}

/**
 * Encodes a field section: prefix 0x00 0x00, then per field an indexed static line if
 * name and value match a static entry, else a literal with a static name reference,
 * else a literal with a literal name. Names are lowercased (RFC 9114 §4.2: "Characters
 * in field names MUST be converted to lowercase prior to their encoding"). Throws a
 * WebSocketError (WS_ERR_INVALID_ARGUMENT) for what a peer would reject: a pseudo-header
 * after a regular field, a name that is not a token, CR/LF/NUL in a value.
 */
export function encodeFieldSection(
  headers: Iterable<Header>,
  opts: EncodeOptions = {},
): Uint8Array {
  const huffman = opts.huffman !== false;
  const list = Array.isArray(headers) ? (headers as readonly Header[]) : [...headers];
  let bound = 2;
  for (const [name, value] of list) bound += name.length + value.length + 12;
  const out = new Uint8Array(bound);
  out[0] = 0x00; // Required Insert Count 0
  out[1] = 0x00; // Sign 0, Delta Base 0
  let o = 2;
  let regularSeen = false;
  for (const [rawName, value, neverIndex] of list) {
    const name = rawName.toLowerCase();
    const problem = nameProblem(name) ?? valueProblem(value);
    if (problem !== undefined) invalidArgument(problem);
    if (name.charCodeAt(0) === 0x3a) {
      if (regularSeen) invalidArgument(`pseudo-header ${name} after a regular field`);
    } else {
      regularSeen = true;
    }
    const entry = STATIC_BY_NAME.get(name);
    if (entry !== undefined) {
      const index = neverIndex === true ? undefined : entry.values.get(value);
      if (index !== undefined) {
        o = writePrefixedInt(out, o, index, 6, 0xc0);
      } else {
        o = writePrefixedInt(out, o, entry.nameIndex, 4, neverIndex === true ? 0x70 : 0x50);
        o = writeString(out, o, value, 8, 0, huffman);
      }
    } else {
      o = writeString(out, o, name, 4, neverIndex === true ? 0x30 : 0x20, huffman);
      o = writeString(out, o, value, 8, 0, huffman);
    }
  }
  return out.subarray(0, o);
}

// ---------------------------------------------------------------------------
// Encoder and decoder streams

/**
 * Validates bytes of the peer's encoder stream (after the stream type). With our
 * capacity of 0 the only acceptable instruction is Set Dynamic Table Capacity 0, a
 * single 0x20 byte (a 5-bit prefix of all ones already means 31 or more), so no state
 * carries over between chunks. Throws a QpackError (QPACK_ENCODER_STREAM_ERROR).
 */
export function parseEncoderStream(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x20) continue;
    let what: string;
    if ((b & 0xe0) === 0x20) {
      // RFC 9204 §4.3.1: "The decoder MUST treat a new dynamic table capacity value that
      // exceeds this limit as a connection error of type QPACK_ENCODER_STREAM_ERROR."
      what = 'Set Dynamic Table Capacity above our limit of 0';
    } else if (b & 0xc0) {
      // RFC 9204 §3.2.2: "It is an error if the encoder attempts to add an entry that is
      // larger than the dynamic table capacity; the decoder MUST treat this as a
      // connection error of type QPACK_ENCODER_STREAM_ERROR."
      what = b & 0x80 ? 'Insert with Name Reference' : 'Insert with Literal Name';
    } else {
      // RFC 9204 §2.2.3: a reference in an encoder instruction to an entry that does not
      // exist is a QPACK_ENCODER_STREAM_ERROR.
      what = 'Duplicate';
    }
    throw new QpackError(
      QPACK_ENCODER_STREAM_ERROR,
      `${what} on the encoder stream, but our dynamic table capacity is 0`,
    );
  }
}

/**
 * Validates the peer's decoder stream (after the stream type), chunk by chunk. Our
 * field sections never reference the dynamic table, so only Stream Cancellation is
 * acceptable; it carries nothing we act on. Throws a QpackError
 * (QPACK_DECODER_STREAM_ERROR).
 */
export class DecoderStreamParser {
  /** Inside the continuation bytes of a Stream Cancellation's stream ID, how many seen. */
  #continuation = -1;

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.#continuation >= 0) {
        if (++this.#continuation > 9) fail('stream ID exceeds 62 bits');
        if ((b & 0x80) === 0) this.#continuation = -1;
        continue;
      }
      if (b & 0x80) {
        // RFC 9204 §4.4.1: "If an encoder receives a Section Acknowledgment instruction
        // referring to a stream on which every encoded field section with a non-zero
        // Required Insert Count has already been acknowledged, this MUST be treated as a
        // connection error of type QPACK_DECODER_STREAM_ERROR."
        fail('Section Acknowledgment, but no field section of ours needs one');
      }
      if ((b & 0x40) === 0) {
        // RFC 9204 §4.4.3: "An encoder that receives an Increment field equal to zero, or
        // one that increases the Known Received Count beyond what the encoder has sent,
        // MUST treat this as a connection error of type QPACK_DECODER_STREAM_ERROR."
        fail('Insert Count Increment, but we never insert');
      }
      // Stream Cancellation: 0 1 StreamID(6+)
      if ((b & 0x3f) === 0x3f) this.#continuation = 0;
    }
  }
}

function fail(message: string): never {
  throw new QpackError(QPACK_DECODER_STREAM_ERROR, message);
}
