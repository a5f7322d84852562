// The answers a server gives by itself, written once for HTTP/1.1, HTTP/2 and HTTP/3:
// no handler wanted the request (404), a WebSocket endpoint asked without an upgrade
// (426 / 405), a foreign `:protocol` (501), too many WebSockets or shutting down (503),
// and the answer to an exception from the handler.

import { STATUS_CODES } from 'node:http';
import { WebSocketError } from '../ws/errors.js';
import type { HttpVersion } from '../ws/transport.js';
import type { BufferedResponse, ResponseHeaders } from './handler.js';

/** A short text answer. */
export function statusResponse(
  status: number,
  headers: ResponseHeaders = {},
  text = `${STATUS_CODES[status] ?? ''}\n`,
): BufferedResponse {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
    body: text,
  };
}

/** The answer to a `websocket()` on a request that did not ask for one. */
export function notAnUpgrade(http: HttpVersion): BufferedResponse {
  // RFC 9110 §15.5.22: a 426 "MUST send an Upgrade header field", which HTTP/2 and HTTP/3
  // forbid (RFC 9113 §8.2.2, RFC 9114 §4.2): there the resource allows only CONNECT
  return http === '1.1'
    ? statusResponse(
        426,
        { upgrade: 'websocket', connection: 'Upgrade' },
        'this is a WebSocket endpoint\n',
      )
    : statusResponse(405, { allow: 'CONNECT' }, 'this is a WebSocket endpoint\n');
}

/** An upgrade beyond `maxConnections`. */
export function tooManyWebSockets(): BufferedResponse {
  return statusResponse(503, { 'retry-after': '1' }, 'too many WebSocket connections\n');
}

/** An upgrade while the server shuts down. */
export function shuttingDown(): BufferedResponse {
  return statusResponse(503, {}, 'shutting down\n');
}

/**
 * RFC 8441 §4 (RFC 9220 §3): an extended CONNECT with a `:protocol` the server does not
 * support gets an error status; 501 is the customary one (a plain CONNECT too: we are
 * not a proxy).
 */
export function foreignProtocol(): BufferedResponse {
  return statusResponse(501);
}

/**
 * The answer to an exception from the handler: its own status when it carries one (a
 * decision timeout: 503 + Retry-After), else 500. `report` hears of what gets a 500.
 */
export function errorResponse(err: unknown, report: (err: Error) => void): BufferedResponse {
  const status = (err as WebSocketError)?.status;
  if (err instanceof WebSocketError && status !== undefined && status >= 400 && status <= 599) {
    const retry: ResponseHeaders = status === 503 ? { 'retry-after': '1' } : {};
    return statusResponse(status, retry, `${err.message}\n`);
  }
  report(err as Error);
  return statusResponse(500);
}
