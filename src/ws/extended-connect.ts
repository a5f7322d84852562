// The extended CONNECT handshake shared by HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220):
// the request pseudo-header checks, the request a client builds, and the client's
// check of the answer. Pure functions over header maps; each HTTP version's own
// validator adds only what is its own. Sec-WebSocket-Key/Accept do not exist here
// (RFC 8441 §5: "the Sec-WebSocket-Key and Sec-WebSocket-Accept header fields are not used").
//
// Statuses: method 405 + Allow, an unknown :protocol 501 (RFC 8441 §4 leaves the status
// to the server; 501 is customary), anything malformed 400, origin 403. A bad
// Sec-WebSocket-Version gets 400 + Sec-WebSocket-Version rather than RFC 6455's 426:
// a 426 "MUST send an Upgrade header field" (RFC 9110 §15.5.22), which HTTP/2 and
// HTTP/3 forbid (RFC 9113 §8.2.2, RFC 9114 §4.2).

import { headerValue } from './headers.js';
import {
  type NegotiationOptions,
  negotiateCommon,
  type RawHeaders,
  type ResponseCheckOptions,
  type ResponseResult,
  reject,
  type UpgradeResult,
  validateNegotiatedResponse,
} from './negotiate.js';

// RFC 9113 §8.2.2 and RFC 9114 §4.2: connection-specific fields make an HTTP/2 or HTTP/3
// message malformed; an endpoint must not generate them.
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Whether a (lower-case) field may not appear in an HTTP/2 or HTTP/3 message. */
export function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name);
}

/** The `:protocol` value of a WebSocket (RFC 8441 §4, the HTTP Upgrade Token Registry). */
export const WEBSOCKET_PROTOCOL = 'websocket';

/** How a request's pseudo-headers relate to us: a WebSocket, another `:protocol`, or neither. */
export type ConnectKind = 'websocket' | 'other-protocol' | 'not-extended-connect';

export function classifyExtendedConnect(h: RawHeaders): ConnectKind {
  if (headerValue(h[':method']) !== 'CONNECT') return 'not-extended-connect';
  const protocol = h[':protocol'];
  if (protocol === undefined) return 'not-extended-connect';
  return headerValue(protocol).toLowerCase() === WEBSOCKET_PROTOCOL
    ? 'websocket'
    : 'other-protocol';
}

/** Server side: validate an extended CONNECT that asks for a WebSocket (RFC 8441 §4–5, RFC 9220 §3). */
export function validateExtendedConnect(
  h: RawHeaders,
  opts: NegotiationOptions = {},
): UpgradeResult {
  const method = headerValue(h[':method']);
  if (method !== 'CONNECT') {
    return reject(405, `method ${method || '(none)'} is not CONNECT`, { allow: 'CONNECT' });
  }
  if (h[':protocol'] === undefined) {
    // RFC 8441 §4: a CONNECT without :protocol is the RFC 9113 §8.5 tunnel, not a WebSocket
    return reject(400, 'CONNECT without :protocol');
  }
  const protocol = headerValue(h[':protocol']);
  if (protocol.toLowerCase() !== WEBSOCKET_PROTOCOL) {
    return reject(501, `:protocol "${protocol}" is not supported`);
  }
  // RFC 8441 §4: "On requests bearing the :protocol pseudo-header field, the :scheme and
  // :path pseudo-header fields of the target URI MUST also be included."
  const scheme = headerValue(h[':scheme']);
  if (scheme !== 'https' && scheme !== 'http') {
    return reject(400, `missing or invalid :scheme "${scheme}"`);
  }
  const path = headerValue(h[':path']);
  if (!path.startsWith('/')) return reject(400, `missing or invalid :path "${path}"`);
  const authority = headerValue(h[':authority']);
  if (authority === '') return reject(400, 'missing :authority');
  const version = headerValue(h['sec-websocket-version']).trim();
  if (version !== '13') {
    return reject(400, `unsupported Sec-WebSocket-Version "${version}"`, {
      'sec-websocket-version': '13',
    });
  }
  const common = negotiateCommon(h, opts);
  if (!common.ok) return common;
  return {
    ok: true,
    info: { ...common.info, path, authority },
    responseHeaders: common.responseHeaders,
  };
}

// ── client side ──────────────────────────────────────────────────────────────

/** Where an extended CONNECT goes (RFC 8441 §4, RFC 9220): its :scheme, :authority and :path. */
export interface ExtendedConnectTarget {
  scheme: 'https' | 'http';
  authority: string;
  /** Path and query. */
  path: string;
}

/** What a client's extended CONNECT offers: subprotocols, extensions, origin, extra fields. */
export interface ExtendedConnectOptions {
  subprotocols?: readonly string[];
  /** Sec-WebSocket-Extensions offer ('' for none). */
  extensions?: string;
  origin?: string;
  /** Extra request fields (names are lower-cased; pseudo-headers are not accepted here). */
  headers?: Readonly<Record<string, string>>;
}

/** The request of an extended CONNECT for a WebSocket: pseudo-headers first, then fields. */
export function buildExtendedConnect(
  target: ExtendedConnectTarget,
  opts: ExtendedConnectOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':protocol': WEBSOCKET_PROTOCOL,
    ':scheme': target.scheme,
    ':path': target.path,
    ':authority': target.authority,
  };
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    const name = k.toLowerCase();
    if (!name.startsWith(':')) headers[name] = v;
  }
  headers['sec-websocket-version'] = '13';
  if (opts.subprotocols && opts.subprotocols.length > 0) {
    headers['sec-websocket-protocol'] = opts.subprotocols.join(', ');
  }
  if (opts.extensions) headers['sec-websocket-extensions'] = opts.extensions;
  if (opts.origin !== undefined) headers.origin = opts.origin;
  return headers;
}

/** Client side: check the answer to an extended CONNECT. Any 2xx opens the tunnel (RFC 8441 §5). */
export function validateExtendedConnectResponse(
  status: number,
  headers: RawHeaders,
  opts: ResponseCheckOptions = {},
): ResponseResult {
  if (!(status >= 200 && status <= 299)) return { ok: false, error: `unexpected status ${status}` };
  return validateNegotiatedResponse(headers, opts);
}
