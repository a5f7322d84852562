// RFC 9220 opening handshake over HTTP/3, both sides, as pure functions: field lists
// in, a discriminated union out; they never write and never throw on bad input.
//
// The extended CONNECT checks are the shared ones of src/ws/extended-connect.ts (the
// same as HTTP/2's). What HTTP/3 adds is the message shape that nghttp2 checks for
// HTTP/2 and that we must check ourselves, because our QPACK decoder hands over raw
// field lines (RFC 9114 §4.1.2, §4.2, §4.3): pseudo-headers known, not repeated and
// meant for requests (or responses); no connection-specific fields; `te` only
// "trailers"; :authority and Host agreeing. A malformed message is answered with 400
// (RFC 9114 §4.1.2: "a server MAY send an HTTP response indicating the error prior to
// closing or resetting the stream") and the stream then reset with H3_MESSAGE_ERROR.

import {
  buildExtendedConnect,
  type ConnectKind,
  classifyExtendedConnect,
  type ExtendedConnectOptions,
  isConnectionSpecific,
  validateExtendedConnect,
  validateExtendedConnectResponse,
} from '../ws/extended-connect.js';

import type {
  NegotiationOptions,
  RawHeaders,
  ResponseCheckOptions,
  ResponseResult,
  UpgradeResult,
} from '../ws/negotiate.js';
import type { Header } from './qpack.js';

export type { ConnectKind, ExtendedConnectOptions } from '../ws/extended-connect.js';

/** A field list as a header map: lower-case names, repeated fields as arrays. */
export type H3Headers = Record<string, string | string[]>;

/**
 * The verdict on an HTTP/3 request's or response's field list: its headers, or why it is malformed.
 */
export type MessageCheck = { ok: true; headers: H3Headers } | { ok: false; error: string };

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);

function collect(fields: readonly Header[], pseudo: ReadonlySet<string>): MessageCheck {
  // no prototype: a field named "constructor" or "__proto__" is a field like any other
  // (test/security/h3-field-named-constructor.test.ts)
  const headers: H3Headers = Object.create(null);
  const cookies: string[] = [];
  for (const [name, value] of fields) {
    if (name.startsWith(':')) {
      // RFC 9114 §4.3: "Endpoints MUST NOT generate pseudo-header fields other than those
      // defined in this document … pseudo-header fields defined for requests MUST NOT
      // appear in responses; pseudo-header fields defined for responses MUST NOT appear
      // in requests." §4.3.1: "The same pseudo-header field name MUST NOT appear more
      // than once in a field section."
      if (!pseudo.has(name)) return { ok: false, error: `pseudo-header ${name} not allowed here` };
      if (name in headers) return { ok: false, error: `pseudo-header ${name} repeated` };
      headers[name] = value;
      continue;
    }
    // RFC 9114 §4.2: "any message containing connection-specific fields MUST be treated as malformed"
    if (isConnectionSpecific(name)) {
      return { ok: false, error: `connection-specific field ${name}` };
    }
    // RFC 9114 §4.2: "the TE header field … MUST NOT contain any value other than
    // "trailers"."
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') {
      return { ok: false, error: `te: ${value}` };
    }
    // RFC 9114 §4.2.1: split Cookie fields are joined with "; " for HTTP/1.1-minded code
    if (name === 'cookie') {
      cookies.push(value);
      continue;
    }
    const prev = headers[name];
    if (prev === undefined) headers[name] = value;
    else if (typeof prev === 'string') headers[name] = [prev, value];
    else prev.push(value);
  }
  if (cookies.length > 0) headers.cookie = cookies.join('; ');
  return { ok: true, headers };
}

/** A request's field list as a header map, or why it is malformed (RFC 9114 §4.1.2, §4.3.1). */
export function checkH3Request(fields: readonly Header[]): MessageCheck {
  const c = collect(fields, REQUEST_PSEUDO);
  if (!c.ok) return c;
  const h = c.headers;
  const method = h[':method'];
  if (typeof method !== 'string' || method === '') return { ok: false, error: 'no :method' };
  if (h[':protocol'] !== undefined && method !== 'CONNECT') {
    // RFC 9220 §3 / RFC 8441 §4: :protocol belongs to an extended CONNECT only
    return { ok: false, error: ':protocol on a request that is not CONNECT' };
  }
  if (method === 'CONNECT' && h[':protocol'] === undefined) {
    // RFC 9114 §4.4: "The :scheme and :path pseudo-header fields are omitted"; ":authority"
    // carries the host and port to connect to
    if (h[':scheme'] !== undefined || h[':path'] !== undefined) {
      return { ok: false, error: 'CONNECT with :scheme or :path' };
    }
    if (!h[':authority']) return { ok: false, error: 'CONNECT without :authority' };
  } else {
    // RFC 9114 §4.3.1: "All HTTP/3 requests MUST include exactly one value for the
    // :method, :scheme, and :path pseudo-header fields, unless the request is a CONNECT
    // request" (extended CONNECT keeps them, RFC 8441 §4), and ":path … MUST NOT be empty"
    if (!h[':scheme']) return { ok: false, error: 'no :scheme' };
    if (!h[':path']) return { ok: false, error: 'no :path' };
  }
  const host = h.host;
  // RFC 9114 §4.3.1: "If both fields are present, they MUST contain the same value."
  if (host !== undefined && h[':authority'] !== undefined && host !== h[':authority']) {
    return { ok: false, error: `Host "${String(host)}" differs from :authority` };
  }
  return c;
}

/** A response's field list as a header map, or why it is malformed (RFC 9114 §4.3.2). */
export function checkH3Response(fields: readonly Header[]): MessageCheck & { status?: number } {
  const c = collect(fields, new Set([':status']));
  if (!c.ok) return c;
  const status = c.headers[':status'];
  if (typeof status !== 'string' || !/^[1-5]\d\d$/.test(status)) {
    return { ok: false, error: `invalid :status ${String(status)}` };
  }
  return { ...c, status: Number(status) };
}

/** Which requests are ours: an extended CONNECT with `:protocol websocket`. */
export function classifyH3Request(headers: RawHeaders): ConnectKind {
  return classifyExtendedConnect(headers);
}

/**
 * Server side: validate an HTTP/3 extended CONNECT for a WebSocket (RFC 9220 §3). Takes
 * the field list as received; on success the response is `:status 200` plus
 * `responseHeaders` and the stream becomes the tunnel; on failure `status` (+ `headers`)
 * ends the stream.
 */
export function validateH3Request(
  fields: readonly Header[],
  opts: NegotiationOptions = {},
): UpgradeResult {
  const c = checkH3Request(fields);
  if (!c.ok) return { ok: false, status: 400, error: `malformed request: ${c.error}` };
  return validateExtendedConnect(c.headers, opts);
}

/** Client side: the request of a WebSocket over HTTP/3, as a field list. */
export function buildH3Request(
  target: { authority: string; path: string },
  opts: ExtendedConnectOptions = {},
): Header[] {
  const fields = buildExtendedConnect(
    { scheme: 'https', authority: target.authority, path: target.path },
    opts,
  );
  const out: Header[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!isConnectionSpecific(k) && k !== 'host') out.push([k, v]);
  }
  return out;
}

/** Client side: check the server's answer. A 2xx opens; there is no Sec-WebSocket-Accept. */
export function validateH3Response(
  status: number,
  headers: RawHeaders,
  opts: ResponseCheckOptions = {},
): ResponseResult {
  return validateExtendedConnectResponse(status, headers, opts);
}
