// RFC 6455 §4 opening handshake over HTTP/1.1, both sides, as pure functions:
// headers in, a discriminated union out. They never write bytes and never throw
// on bad input. Statuses follow python-websockets' mapping: method 405 + Allow,
// HTTP version 505, missing Upgrade/Connection 426 + Upgrade, bad version 426 +
// Sec-WebSocket-Version, origin 403, anything else malformed 400.

import { createHash, randomBytes } from 'node:crypto';
import { hasToken, headerValue } from '../ws/headers.js';
import {
  type NegotiationOptions,
  negotiateCommon,
  type RawHeaders,
  type ResponseCheckOptions,
  type ResponseResult,
  reject,
  type UpgradeResult,
  validateNegotiatedResponse,
} from '../ws/negotiate.js';

export type { RawHeaders, UpgradeInfo, UpgradeResult } from '../ws/negotiate.js';

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The part of an HTTP/1.1 request an upgrade check reads: method, HTTP version, target, headers.
 */
export interface H1RequestHead {
  method: string;
  /** As node:http gives it: '1.1', '1.0', … */
  httpVersion: string;
  url: string;
  headers: RawHeaders;
}

/**
 * The Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64 SHA-1 of key + GUID (RFC 6455
 * §4.2.2).
 */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

const BASE64_16 = /^[A-Za-z0-9+/]{22}==$/;

/** Server side: validate an HTTP/1.1 Upgrade request (RFC 6455 §4.2.1). */
export function validateH1Request(
  req: H1RequestHead,
  opts: NegotiationOptions = {},
): UpgradeResult {
  const h = req.headers;
  if (req.method !== 'GET') {
    return reject(405, `method ${req.method} is not GET`, { allow: 'GET' });
  }
  // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request"; a version that does not parse
  // as <major>.<minor> is not one.
  const httpVersion = /^(\d+)\.(\d+)$/.exec(req.httpVersion);
  const major = httpVersion ? Number(httpVersion[1]) : 0;
  const minor = httpVersion ? Number(httpVersion[2]) : 0;
  if (major < 1 || (major === 1 && minor < 1)) {
    return reject(505, `HTTP/${req.httpVersion} is below HTTP/1.1`);
  }
  const host = headerValue(h.host);
  if (host === '') return reject(400, 'missing Host header');
  if (!hasToken(headerValue(h.upgrade), 'websocket')) {
    return reject(426, 'missing "Upgrade: websocket"', {
      upgrade: 'websocket',
      connection: 'Upgrade',
    });
  }
  if (!hasToken(headerValue(h.connection), 'upgrade')) {
    return reject(426, 'missing "Connection: Upgrade"', {
      upgrade: 'websocket',
      connection: 'Upgrade',
    });
  }
  const key = headerValue(h['sec-websocket-key']).trim();
  // RFC 6455 §4.1: "a randomly selected 16-byte value that has been base64-encoded"
  if (!BASE64_16.test(key)) return reject(400, 'missing or invalid Sec-WebSocket-Key');
  const version = headerValue(h['sec-websocket-version']).trim();
  if (version !== '13') {
    // RFC 6455 §4.4: reply with the versions we support
    return reject(426, `unsupported Sec-WebSocket-Version "${version}"`, {
      'sec-websocket-version': '13',
    });
  }
  const common = negotiateCommon(h, opts);
  if (!common.ok) return common;
  const responseHeaders: Record<string, string> = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': acceptKey(key),
    ...common.responseHeaders,
  };
  return {
    ok: true,
    info: { ...common.info, path: req.url, authority: host },
    responseHeaders,
  };
}

// ── client side ──────────────────────────────────────────────────────────────

/**
 * What a client's HTTP/1.1 upgrade request offers: subprotocols, extensions, origin, extra headers.
 */
export interface ClientHandshakeOptions {
  subprotocols?: readonly string[];
  /** Sec-WebSocket-Extensions offer ('' for none). */
  extensions?: string;
  origin?: string;
  headers?: Readonly<Record<string, string>>;
}

/** Build the request headers of an HTTP/1.1 upgrade; `key` must be kept to check the answer. */
export function buildH1Request(
  host: string,
  opts: ClientHandshakeOptions = {},
  key: string = randomBytes(16).toString('base64'),
): { key: string; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
  Object.assign(headers, {
    host,
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': key,
    'sec-websocket-version': '13',
  });
  if (opts.subprotocols && opts.subprotocols.length > 0) {
    headers['sec-websocket-protocol'] = opts.subprotocols.join(', ');
  }
  if (opts.extensions) headers['sec-websocket-extensions'] = opts.extensions;
  if (opts.origin !== undefined) headers.origin = opts.origin;
  return { key, headers };
}

/** Client side: check the server's answer (RFC 6455 §4.1, the client's checks 1–6). */
export function validateH1Response(
  status: number,
  headers: RawHeaders,
  key: string,
  opts: ResponseCheckOptions = {},
): ResponseResult {
  if (status !== 101) return { ok: false, error: `unexpected status ${status}` };
  if (!hasToken(headerValue(headers.upgrade), 'websocket')) {
    return { ok: false, error: 'response lacks "Upgrade: websocket"' };
  }
  if (!hasToken(headerValue(headers.connection), 'upgrade')) {
    return { ok: false, error: 'response lacks "Connection: Upgrade"' };
  }
  if (headerValue(headers['sec-websocket-accept']).trim() !== acceptKey(key)) {
    return { ok: false, error: 'Sec-WebSocket-Accept does not match the key' };
  }
  return validateNegotiatedResponse(headers, opts);
}
