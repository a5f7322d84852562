// RFC 8441 opening handshake over HTTP/2, both sides, as pure functions: header
// maps in, a discriminated union out; they never write and never throw on bad input.
// The pseudo-header checks are the shared extended CONNECT of src/ws/extended-connect.ts
// (HTTP/3 uses the same); HTTP/2 adds nothing at header level, because nghttp2 already
// refuses connection-specific fields as malformed (RFC 9113 §8.2.2) and refuses
// `:protocol` on a connection where we did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
// (RFC 8441 §3).

import {
  buildExtendedConnect,
  type ConnectKind,
  classifyExtendedConnect,
  type ExtendedConnectOptions,
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

export type { ConnectKind, ExtendedConnectOptions } from '../ws/extended-connect.js';

/** Which streams are ours: an extended CONNECT with `:protocol websocket`. */
export function classifyH2Request(headers: RawHeaders): ConnectKind {
  return classifyExtendedConnect(headers);
}

/**
 * Server side: validate an HTTP/2 extended CONNECT for a WebSocket. On success the
 * response is `:status 200` plus `responseHeaders`; on failure `status` (+ `headers`)
 * in a HEADERS frame that ends the stream.
 */
export function validateH2Request(
  headers: RawHeaders,
  opts: NegotiationOptions = {},
): UpgradeResult {
  return validateExtendedConnect(headers, opts);
}

/** Client side: the request headers of a WebSocket over HTTP/2 (RFC 8441 §5). */
export function buildH2Request(
  target: { secure: boolean; authority: string; path: string },
  opts: ExtendedConnectOptions = {},
): Record<string, string> {
  return buildExtendedConnect(
    { scheme: target.secure ? 'https' : 'http', authority: target.authority, path: target.path },
    opts,
  );
}

/** Client side: check the server's answer. A 2xx opens; there is no Sec-WebSocket-Accept. */
export function validateH2Response(
  status: number,
  headers: RawHeaders,
  opts: ResponseCheckOptions = {},
): ResponseResult {
  return validateExtendedConnectResponse(status, headers, opts);
}
