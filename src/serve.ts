// The interop server behind `npm start` / `omniws serve`: the echo and info
// routes plus the interop page, on a plain ws:// port and a TLS port, with
// certificates generated on first run. Prints what a person needs to point a
// browser at it.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { type CertPaths, ensureCerts } from './certs.js';
import { echoRoutes } from './echo.js';
import { type AttachedServer, listen } from './h1/server.js';
import { listenH2 } from './h2/server.js';
import { INTEROP_PAGE } from './interop/page.js';
import { pathnameOf } from './route.js';

export interface ServeOptions {
  host?: string;
  /** Plain ws:// + http:// port; null for none. */
  port?: number | null;
  /** TLS port (wss:// + https://); null for none. */
  tlsPort?: number | null;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Accept permessage-deflate on the echo routes (default true). */
  perMessageDeflate?: boolean;
  /** Where generated certificates live (default certs/out). */
  certsDir?: string;
  log?: (line: string) => void;
}

export interface Endpoint {
  url: string;
  page: string;
  secure: boolean;
  port: number;
}

export interface Served {
  endpoints: Endpoint[];
  certs: CertPaths | undefined;
  close(): Promise<void>;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** The plain HTTP side of the interop server, on HTTP/1.1 and HTTP/2 alike. */
function onRequest(req: AnyRequest, res: AnyResponse): void {
  const path = pathnameOf(req.url ?? '/');
  if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/' || path === '/index.html')) {
    const body = Buffer.from(INTEROP_PAGE);
    (res as ServerResponse).writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
    return;
  }
  const ws = path === '/echo' || path === '/info';
  const h1 = req.httpVersionMajor < 2;
  // HTTP/2 forbids Upgrade/Connection: there a WebSocket path answers 405 + Allow: CONNECT
  const status = ws ? (h1 ? 426 : 405) : 404;
  const body = ws ? 'this is a WebSocket endpoint\n' : 'not found\n';
  (res as ServerResponse).writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(ws && h1 && { upgrade: 'websocket', connection: 'Upgrade' }),
    ...(ws && !h1 && { allow: 'CONNECT' }),
  });
  res.end(body);
}

export async function serve(opts: ServeOptions = {}): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  // browsers offer permessage-deflate on every WebSocket: the interop server accepts it
  const routes = echoRoutes({ perMessageDeflate: opts.perMessageDeflate ?? true });
  const listeners: AttachedServer[] = [];
  const endpoints: Endpoint[] = [];
  let certs: CertPaths | undefined;
  try {
    if (opts.port !== null) {
      const l = await listen({ port: opts.port ?? 8080, host, routes, onRequest });
      listeners.push(l);
      endpoints.push({
        url: `${l.url}/echo`,
        page: `${l.url.replace(/^ws/, 'http')}/`,
        secure: false,
        port: l.port,
      });
    }
    if (opts.tlsPort !== null && opts.tlsPort !== undefined) {
      let cert = opts.cert;
      let key = opts.key;
      if (cert === undefined || key === undefined) {
        certs = await ensureCerts(opts.certsDir, { log });
        cert = readFileSync(certs.cert);
        key = readFileSync(certs.key);
      }
      // HTTP/2 and HTTP/1.1 on one port by ALPN: browsers open WebSockets over h2 (RFC 8441)
      const l = await listenH2({ port: opts.tlsPort, host, routes, onRequest, tls: { cert, key } });
      listeners.push(l);
      // certificates name localhost: browsers should use that name
      const name = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      endpoints.push({
        url: `wss://${name}:${l.port}/echo`,
        page: `https://${name}:${l.port}/`,
        secure: true,
        port: l.port,
      });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  return {
    endpoints,
    certs,
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
}

/** The lines `omniws serve` prints: endpoints, pages, browser command lines. */
export function describeServed(s: Served): string[] {
  const lines: string[] = [];
  for (const e of s.endpoints) lines.push(`listening ${e.url}`);
  for (const e of s.endpoints) lines.push(`interop page: ${e.page}`);
  const tls = s.endpoints.find((e) => e.secure);
  const plain = s.endpoints.find((e) => !e.secure);
  lines.push('', 'Browsers:');
  if (plain)
    lines.push(`  Chromium, HTTP/1.1:  chromium --user-data-dir="$(mktemp -d)" ${plain.page}`);
  if (tls && s.certs) {
    const spki = `--ignore-certificate-errors-spki-list=${s.certs.spkiSha256}`;
    lines.push(
      `  Chromium, TLS (h2/h1): chromium --user-data-dir="$(mktemp -d)" ${spki} ${tls.page}`,
    );
    lines.push(
      `  Chromium, HTTP/3:    chromium --user-data-dir="$(mktemp -d)" ${spki} --enable-quic --origin-to-force-quic-on=localhost:${tls.port} --enable-features=EnableWebsocketsOverHttp3 ${tls.page}`,
    );
    lines.push(
      `  Firefox: import ${s.certs.ca} as an authority (Settings › Certificates), set network.http.http2.websockets=true (and network.http.http3.enabled=true for h3), then open ${tls.page}`,
    );
    lines.push(`  Node clients: NODE_EXTRA_CA_CERTS=${s.certs.ca}`);
  }
  return lines;
}
