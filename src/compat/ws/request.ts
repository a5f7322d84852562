// The `request` a WebSocketServer hands to verifyClient, handleProtocols, 'headers' and
// 'connection' when the upgrade did not come as a node:http 'upgrade' event (HTTP/2 and
// HTTP/3 extended CONNECT, or any version through `wss.handle`): an http.IncomingMessage
// built from omniws's Request, with its method, url, httpVersion ('2.0', '3.0'), headers
// (`host` from :authority), and a `socket` stand-in carrying the peer's address and
// whether the connection is encrypted. Its body is empty and ended.

import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestInfo } from '../../server/handler.js';

/** The IncomingMessage of an upgrade request that node:http did not parse. */
export function requestMessage(r: RequestInfo): IncomingMessage {
  const socket = {
    remoteAddress: r.remoteAddress,
    remotePort: r.remotePort,
    remoteFamily: r.remoteAddress?.includes(':') ? 'IPv6' : 'IPv4',
    encrypted: r.secure,
    destroyed: false,
    destroy() {},
  };
  const msg = new IncomingMessage(socket as unknown as Socket);
  const [major, minor] = r.http === '1.1' ? [1, 1] : [Number(r.http), 0];
  msg.httpVersionMajor = major;
  msg.httpVersionMinor = minor;
  msg.httpVersion = `${major}.${minor}`;
  msg.method = r.method;
  msg.url = r.path;
  const headers: Record<string, string | string[]> = {};
  const raw: string[] = [];
  if (r.http !== '1.1' && r.authority !== undefined) {
    headers.host = r.authority;
    raw.push('host', r.authority);
  }
  for (const [k, v] of Object.entries(r.headers)) {
    if (v === undefined) continue;
    headers[k] = typeof v === 'string' ? v : [...v];
    for (const one of typeof v === 'string' ? [v] : v) raw.push(k, one);
  }
  msg.headers = headers;
  msg.rawHeaders = raw;
  msg.complete = true;
  msg.push(null);
  return msg;
}

/**
 * The extra header fields an application pushed onto the 'headers' event's lines (after
 * `first` of ours), as lower-case names and values; fields HTTP/2 and HTTP/3 forbid
 * (connection-specific ones) are left out.
 */
export function pushedHeaders(lines: readonly string[], first: number): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines.slice(first)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const values = out[name] ?? [];
    values.push(line.slice(i + 1).trim());
    out[name] = values;
  }
  return out;
}

// RFC 9113 §8.2.2, RFC 9114 §4.2
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
]);
