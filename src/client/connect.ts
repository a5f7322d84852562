// The client entry point: `connect(url, { http })` picks the HTTP version that
// carries the WebSocket. 1 (default): RFC 6455 Upgrade. 2: RFC 8441 extended CONNECT
// on a pooled HTTP/2 session (wss:// by ALPN h2, ws:// as h2c with prior knowledge).
// 'auto': what browsers do: HTTP/2 when the origin's TLS handshake selects h2 and its
// SETTINGS allow extended CONNECT, else HTTP/1.1 (ws:// always HTTP/1.1). 3: RFC 9220
// extended CONNECT on a pooled HTTP/3 (QUIC) connection; wss:// only. HTTP/3 code, and
// with it quiche's native binding, is loaded only when asked for (src/h3/load.ts).

import { connectH1, parseWsUrl } from '../h1/client.js';
import { connectH2, connectH2IfOffered, type H2ClientOptions } from '../h2/client.js';
import type { H3ClientOptions } from '../h3/client.js';
import { loadHttp3 } from '../h3/load.js';
import { WebSocketError } from '../ws/errors.js';
import type { Session } from '../ws/session.js';
import type { HttpVersion } from '../ws/transport.js';
import { type Agent, globalAgent } from './agent.js';

/** Which HTTP carries the WebSocket: a number, or the names sessions report ('1.1'…). */
export type HttpChoice = 1 | 2 | 3 | HttpVersion | 'auto';

/**
 * Options of `connect()`: which HTTP, whose pools (the agent), and every HTTP/2 and HTTP/3 client
 * option.
 */
export interface ConnectOptions<S>
  extends Omit<H2ClientOptions<S>, 'h2Pool'>,
    Omit<H3ClientOptions<S>, 'h3Pool'> {
  /** Which HTTP carries the WebSocket (default 1). */
  http?: HttpChoice;
  /** Whose pooled HTTP/2 and HTTP/3 connections to use (default `globalAgent`). */
  agent?: Agent;
}

/**
 * Open a client WebSocket; resolves with the session once the handshake is accepted.
 * Throws WS_ERR_INVALID_URL / WS_ERR_INVALID_ARGUMENT at once for bad arguments.
 */
export function connect<S>(url: string | URL, opts: ConnectOptions<S>): Promise<Session<S>> {
  const http = opts.http ?? 1;
  switch (http) {
    case 1:
    case '1.1':
      return connectH1(url, opts);
    case 2:
    case '2':
      return connectH2(url, withH2Pool(opts));
    case 'auto': {
      // parse (and throw) now, as the other versions do
      const offered = connectH2IfOffered(url, withH2Pool(opts));
      return offered.then((session) => session ?? connectH1(url, opts));
    }
    case 3:
    case '3':
      return connectH3(url, opts);
    default:
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `http must be 1, 2, 3, '1.1', '2', '3' or 'auto', not ${String(http)}`,
      );
  }
}

function withH2Pool<S>(opts: ConnectOptions<S>): H2ClientOptions<S> {
  return opts.agent ? { ...opts, h2Pool: opts.agent.h2Pool } : opts;
}

let h3: typeof import('../h3/client.js') | undefined;

/**
 * A WebSocket over HTTP/3 (RFC 9220), on a pooled QUIC connection. HTTP/3 (and quiche's
 * native binding) loads on the first call; bad arguments throw at once.
 */
export function connectH3<S>(url: string | URL, opts: ConnectOptions<S>): Promise<Session<S>> {
  if (!parseWsUrl(url).secure) {
    throw new WebSocketError(
      'WS_ERR_INVALID_URL',
      'HTTP/3 always runs over TLS (QUIC): use wss:// for a WebSocket over HTTP/3',
    );
  }
  return loadHttp3(() => import('../h3/client.js')).then((m) => {
    h3 = m;
    const agent = opts.agent ?? globalAgent;
    return m.connectH3(url, { ...opts, h3Pool: agent.h3Pool(m) });
  });
}

/** Close the pooled HTTP/3 connections of `globalAgent` (nothing while HTTP/3 was never used). */
export function closeH3Connections(): void {
  h3?.closeH3Connections();
}
