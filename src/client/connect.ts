// The client entry point: `connect(url, { http })` picks the HTTP version that
// carries the WebSocket. 1 (default): RFC 6455 Upgrade. 2: RFC 8441 extended CONNECT
// on a pooled HTTP/2 session (wss:// by ALPN h2, ws:// as h2c with prior knowledge).
// 'auto': what browsers do: HTTP/2 when the origin's TLS handshake selects h2 and its
// SETTINGS allow extended CONNECT, else HTTP/1.1 (ws:// always HTTP/1.1). 3: RFC 9220
// extended CONNECT on a pooled HTTP/3 (QUIC) connection; wss:// only.

import { connectH1 } from '../h1/client.js';
import { connectH2, connectH2IfOffered, type H2ClientOptions } from '../h2/client.js';
import { connectH3, type H3ClientOptions } from '../h3/client.js';
import { WebSocketError } from '../ws/errors.js';
import type { Session } from '../ws/session.js';

export type HttpChoice = 1 | 2 | 3 | 'auto';

export interface ConnectOptions<S> extends H2ClientOptions<S>, H3ClientOptions<S> {
  /** Which HTTP carries the WebSocket (default 1). */
  http?: HttpChoice;
}

/**
 * Open a client WebSocket; resolves with the session once the handshake is accepted.
 * Throws WS_ERR_INVALID_URL / WS_ERR_INVALID_ARGUMENT at once for bad arguments.
 */
export function connect<S>(url: string | URL, opts: ConnectOptions<S>): Promise<Session<S>> {
  const http = opts.http ?? 1;
  switch (http) {
    case 1:
      return connectH1(url, opts);
    case 2:
      return connectH2(url, opts);
    case 'auto': {
      // parse (and throw) now, as the other versions do
      const offered = connectH2IfOffered(url, opts);
      return offered.then((session) => session ?? connectH1(url, opts));
    }
    case 3:
      return connectH3(url, opts);
    default:
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `http must be 1, 2, 3 or 'auto', not ${String(http)}`,
      );
  }
}
