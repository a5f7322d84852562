// A client's handshake over HTTP/2 (RFC 8441), HTTP/3 (RFC 9220) or 'auto', through
// omniws's connect(): ws's options become connect()'s (headers, origin, TLS, deflate,
// limits), and its outcome becomes ws's events: 'upgrade' with the 200 response, 'open',
// or 'unexpected-response' / 'error' and 'close'. There is no http.ClientRequest on these
// versions: 'unexpected-response' gets a stand-in with `abort()` and `destroy()`, and the
// response as an IncomingMessage without a body.

import http, { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Agent } from '../../client/agent.js';
import { type ConnectOptions, connect } from '../../client/connect.js';
import type { UpgradeRequest } from '../../ws/handler.js';
import type { Session } from '../../ws/session.js';
import { CONNECTING } from './constants.js';
import { handshakeErrorOf } from './errors.js';
import type { ClientHost } from './internal.js';
import { type ClientOptions, deflateOptionsOf, sessionOptionsOf } from './options.js';

/** node:tls options ws passes on to https.request, for the QUIC or TLS connection. */
const TLS_KEYS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
  'ciphers',
  'minVersion',
  'maxVersion',
  'checkServerIdentity',
  'crl',
  'ecdhCurve',
  'sigalgs',
  'secureOptions',
  'session',
] as const;

/** A response as an IncomingMessage (status and headers; its body was not kept). */
export function responseMessage(status: number, headers: Record<string, unknown>): IncomingMessage {
  const res = new IncomingMessage({ destroy() {} } as unknown as Socket);
  res.statusCode = status;
  res.statusMessage = http.STATUS_CODES[status] ?? '';
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    // node gives set-cookie as a list; the fields came joined with ", " (a date in
    // Expires has one too: a cookie starts where a name=value follows the comma)
    res.headers[k] =
      k === 'set-cookie' && typeof v === 'string' ? v.split(/,\s*(?=[^;,=\s]+=)/) : (v as string);
  }
  res.complete = true;
  res.push(null);
  return res;
}

function connectOptions(
  host: ClientHost,
  protocols: readonly string[],
  o: ClientOptions,
): ConnectOptions<null> {
  const tlsOpts: Record<string, unknown> = {};
  for (const k of TLS_KEYS) if (o[k] !== undefined) tlsOpts[k] = o[k];
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  const pmd = deflateOptionsOf(o.perMessageDeflate ?? true);
  return {
    http: o.http ?? 1,
    handler: host.handler({
      // the 200 (or 101, for 'auto' on HTTP/1.1) as ws's 'upgrade' event
      beforeOpen: (req: UpgradeRequest) => {
        const r = req.response;
        if (r) host.ws.emit('upgrade', responseMessage(r.status, r.headers));
        return host.ws.readyState === CONNECTING;
      },
    }),
    state: null,
    ...sessionOptionsOf(o),
    ...(protocols.length > 0 && { subprotocols: protocols }),
    ...(pmd !== undefined && { perMessageDeflate: pmd }),
    ...(o.origin !== undefined && { origin: o.origin }),
    ...(Object.keys(headers).length > 0 && { headers }),
    ...(o.handshakeTimeout !== undefined && { handshakeTimeout: o.handshakeTimeout }),
    ...(Object.keys(tlsOpts).length > 0 && { tls: tlsOpts as ConnectionOptions }),
    ...(o.agent instanceof Agent && { agent: o.agent }),
  };
}

/** Start the handshake of `host` with connect(). Throws at once for options that cannot work. */
export function openViaConnect(
  host: ClientHost,
  url: URL,
  protocols: readonly string[],
  options: ClientOptions,
): void {
  let aborted = false;
  host.onAbort(() => {
    aborted = true;
  });
  const pending: Promise<Session<null>> = connect(url, connectOptions(host, protocols, options));
  pending.then(
    (session) => {
      // closed while connecting: the session's init saw it and aborted
      if (aborted) session.abort();
    },
    (err: unknown) => {
      if (aborted) return;
      host.onAbort(null);
      const e = err as { code?: string; response?: { status: number; headers: object } };
      if (e?.code === 'WS_ERR_HANDSHAKE_STATUS' && e.response) {
        const res = responseMessage(
          e.response.status,
          e.response.headers as Record<string, unknown>,
        );
        const req = requestStandIn(url);
        if (host.ws.emit('unexpected-response', req, res)) {
          host.fail(null);
          return;
        }
      }
      host.fail(handshakeErrorOf(err));
    },
  );
}

/** What 'unexpected-response' gets for its request where no http.ClientRequest exists. */
function requestStandIn(url: URL) {
  return {
    method: 'CONNECT',
    path: url.pathname + url.search,
    host: url.hostname,
    protocol: url.protocol === 'ws:' ? 'http:' : 'https:',
    abort() {},
    destroy() {},
  };
}
