// Where a server listens: the address and URL after binding, and node:http's
// request-head bounds that `handshakeTimeout` sets on HTTP/1.1 (listen and listenH2's
// TLS port alike).

import type { AddressInfo, Server as NetServer } from 'node:net';

/**
 * node:http's request-head bounds for `handshakeTimeout`: it answers 408 to a head not
 * complete in time, checking its connections every connectionsCheckingInterval ms (30 s
 * by default: too coarse for short timeouts).
 */
export function headTimeouts(handshakeTimeout: number): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: handshakeTimeout,
    requestTimeout: Math.max(handshakeTimeout, 300_000),
    connectionsCheckingInterval: Math.max(25, Math.min(5000, Math.floor(handshakeTimeout / 4))),
  };
}

/** Listen on `opts.port` (default any) and `opts.host` (default 127.0.0.1); the address and ws(s):// URL. */
export async function bind(
  server: NetServer,
  opts: { port?: number | undefined; host?: string | undefined; tls?: unknown },
  backlog?: number,
): Promise<{ port: number; host: string; url: string }> {
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, backlog, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return { port, host, url: urlOf(opts.tls ? 'wss' : 'ws', host, port) };
}

/** ws(s)://host:port, with an IPv6 address in brackets. */
export function urlOf(scheme: 'ws' | 'wss', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
