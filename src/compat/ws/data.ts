// Data as ws takes and gives it: what send() accepts turned into bytes (ws's toBuffer),
// binary messages in the socket's binaryType, close codes and reasons as ws checks them,
// the Sec-WebSocket-Protocol list as ws parses it.

import { Blob } from 'node:buffer';
import { parseExtensions } from '../../ws/headers.js';
import { EMPTY_BUFFER } from './constants.js';

/** What send(), ping() and pong() accept. */
export type Data =
  | string
  | Buffer
  | ArrayBuffer
  | SharedArrayBuffer
  | ArrayBufferView
  | Blob
  | readonly number[]
  | number
  | { valueOf(): ArrayBuffer }
  | null
  | undefined;

/** A message as 'message' gives it: a Buffer (text always), ArrayBuffer, Buffer[] or Blob. */
export type RawData = Buffer | ArrayBuffer | Buffer[] | Blob;

export function isBlob(v: unknown): v is Blob {
  return (
    v instanceof Blob || (typeof globalThis.Blob === 'function' && v instanceof globalThis.Blob)
  );
}

/** ws's toBuffer: views of ArrayBuffers and typed arrays, Buffer.from for the rest (TypeError when it cannot). */
export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data === undefined || data === null) return EMPTY_BUFFER;
  return Buffer.from(data as string);
}

/** A binary message in `binaryType`. */
export function binaryAs(type: string, data: Buffer): RawData {
  switch (type) {
    case 'arraybuffer':
      return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
        ? (data.buffer as ArrayBuffer)
        : (data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer);
    case 'fragments':
      // the engine joins a message's frames before delivering it: one fragment
      return [data];
    case 'blob':
      return new Blob([data]);
    default:
      return data;
  }
}

/** ws's isValidStatusCode: the close codes an application may send. */
export function isValidStatusCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/** The reason close(code, reason) sends, checked as ws's Sender.close checks it (throws like ws). */
export function checkedCloseReason(code: unknown, data: unknown): string {
  if (code === undefined) return '';
  if (typeof code !== 'number' || !isValidStatusCode(code)) {
    throw new TypeError('First argument must be a valid error code number');
  }
  if (data === undefined || data === null || (data as { length?: number }).length === 0) return '';
  const bytes = typeof data === 'string' ? Buffer.from(data) : toBuffer(data);
  if (bytes.length > 123) throw new RangeError('The message must not be greater than 123 bytes');
  return typeof data === 'string' ? data : bytes.toString();
}

// RFC 9110 §5.6.2 tchar, as ws's subprotocol parser reads it
const TOKEN_CHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

/**
 * ws's subprotocol.parse: a comma-separated token list, optional whitespace around the
 * commas; throws SyntaxError on anything else and on a duplicate.
 */
export function parseProtocols(header: string): Set<string> {
  const out = new Set<string>();
  for (const part of header.split(',')) {
    const p = part.replace(/^[ \t]+|[ \t]+$/g, '');
    if (p === '' || ![...p].every((c) => TOKEN_CHAR.test(c))) {
      throw new SyntaxError(`Unexpected character in "${header}"`);
    }
    if (out.has(p)) throw new SyntaxError(`The "${p}" subprotocol is duplicated`);
    out.add(p);
  }
  return out;
}

/** The names of the extensions in a Sec-WebSocket-Extensions value, joined as ws joins them. */
export function extensionNames(value: string): string {
  return (parseExtensions(value) ?? []).map((e) => e.name).join();
}
