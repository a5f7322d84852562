// A client WebSocket's start, as ws's initAsClient begins it: the checks that throw from
// the constructor (protocol version, subprotocols, the URL), then the handshake over the
// HTTP version asked for: HTTP/1.1 (the default) as ws does it, with node:http
// (./client-h1.ts); HTTP/2, HTTP/3 or 'auto' through omniws's connect() (./client-connect.ts).

import { openViaConnect } from './client-connect.js';
import { openH1 } from './client-h1.js';
import type { ClientHost } from './internal.js';
import type { ClientOptions } from './options.js';
import { parseTarget } from './url.js';

const PROTOCOL_VERSIONS = [8, 13];
// RFC 6455 §4.1: each subprotocol is a token
const SUBPROTOCOL = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/;

/** Check what ws checks in its constructor (throwing as ws does), then start the handshake. */
export function startClient(
  host: ClientHost,
  address: string | URL,
  protocols: readonly string[],
  options: ClientOptions,
): void {
  const version = options.protocolVersion ?? 13;
  if (!PROTOCOL_VERSIONS.includes(version)) {
    throw new RangeError(
      `Unsupported protocol version: ${version} (supported versions: ${PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
  const { url, error } = parseTarget(address);
  host.setUrl(url.href);
  if (error) throw error;
  const seen = new Set<string>();
  for (const p of protocols) {
    if (typeof p !== 'string' || !SUBPROTOCOL.test(p) || seen.has(p)) {
      throw new SyntaxError('An invalid or duplicated subprotocol was specified');
    }
    seen.add(p);
  }
  const http = options.http ?? 1;
  if (http === 1 || http === '1.1') openH1(host, url, protocols, options);
  else openViaConnect(host, url, protocols, options);
}
