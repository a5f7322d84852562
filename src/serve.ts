// The interop server behind `npm start` / `omniws serve`: the echo and info
// routes plus the interop page, on a plain ws:// port and a TLS port, with
// certificates generated on first run. Prints what a person needs to point a
// browser at it.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { type CertPaths, ensureCerts } from './certs.js';
import { echoRoutes } from './echo.js';
import { listen } from './h1/server.js';
import { listenH2 } from './h2/server.js';
import { listenH3 } from './h3/server.js';
import { INTEROP_PAGE } from './interop/page.js';
import { type HttpResponse, pathnameOf } from './route.js';

export interface ServeOptions {
  host?: string;
  /** Plain ws:// + http:// port; null for none. */
  port?: number | null;
  /** TLS port (wss:// + https://); null for none. */
  tlsPort?: number | null;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Also serve HTTP/3 on the TLS port number over UDP (default true). */
  http3?: boolean;
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
  /** What carries it: 'http/1.1', 'h2+http/1.1' (TCP, ALPN) or 'h3' (UDP). */
  transport: 'http/1.1' | 'h2+http/1.1' | 'h3';
}

export interface Served {
  endpoints: Endpoint[];
  certs: CertPaths | undefined;
  close(): Promise<void>;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * The plain HTTP side of the interop server, the same on HTTP/1.1, HTTP/2 and HTTP/3:
 * the page at `/`; a WebSocket path asked for without an upgrade gets 426 + Upgrade on
 * HTTP/1.1 and 405 + Allow: CONNECT on h2/h3 (which forbid Upgrade/Connection).
 */
export function interopResponse(
  method: string,
  path: string,
  http: '1.1' | '2' | '3',
  extraHeaders: Record<string, string> = {},
): HttpResponse {
  const pathname = pathnameOf(path);
  if ((method === 'GET' || method === 'HEAD') && (pathname === '/' || pathname === '/index.html')) {
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        ...extraHeaders,
      },
      body: method === 'HEAD' ? '' : INTEROP_PAGE,
    };
  }
  const ws = pathname === '/echo' || pathname === '/info';
  const h1 = http === '1.1';
  return {
    status: ws ? (h1 ? 426 : 405) : 404,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      ...(ws && h1 && { upgrade: 'websocket', connection: 'Upgrade' }),
      ...(ws && !h1 && { allow: 'CONNECT' }),
      ...extraHeaders,
    },
    body: ws ? 'this is a WebSocket endpoint\n' : 'not found\n',
  };
}

/** A node:http / node:http2 compat listener answering with `interopResponse`; `extraHeaders` is read per request. */
function requestListener(extraHeaders: Record<string, string>) {
  return (req: AnyRequest, res: AnyResponse): void => {
    const r = interopResponse(
      req.method ?? 'GET',
      req.url ?? '/',
      req.httpVersionMajor < 2 ? '1.1' : '2',
      extraHeaders,
    );
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0));
    (res as ServerResponse).writeHead(r.status, { ...r.headers, 'content-length': body.length });
    res.end(body);
  };
}

export async function serve(opts: ServeOptions = {}): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  // browsers offer permessage-deflate on every WebSocket: the interop server accepts it
  const routes = echoRoutes({ perMessageDeflate: opts.perMessageDeflate ?? true });
  const listeners: { close(): Promise<void> }[] = [];
  const endpoints: Endpoint[] = [];
  let certs: CertPaths | undefined;
  try {
    if (opts.port !== null) {
      const l = await listen({
        port: opts.port ?? 8080,
        host,
        routes,
        onRequest: requestListener({}),
      });
      listeners.push(l);
      endpoints.push({
        url: `${l.url}/echo`,
        page: `${l.url.replace(/^ws/, 'http')}/`,
        secure: false,
        port: l.port,
        transport: 'http/1.1',
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
      const altSvc: Record<string, string> = {};
      // HTTP/2 and HTTP/1.1 on one port by ALPN: browsers open WebSockets over h2 (RFC 8441)
      const l = await listenH2({
        port: opts.tlsPort,
        host,
        routes,
        tls: { cert, key },
        onRequest: requestListener(altSvc),
      });
      listeners.push(l);
      if (opts.http3 !== false) {
        // HTTP/3 on the same port number over UDP (RFC 9220 WebSockets, the page too),
        // on both loopback families when serving loopback: Chromium tries ::1 first
        const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
        const h3 = await listenH3({
          port: l.port,
          hosts: loopback ? ['127.0.0.1', '::1'] : [host],
          cert,
          key,
          routes,
          onRequest: (req) => interopResponse(req.method, req.path, '3'),
        });
        listeners.push(h3);
        // RFC 7838: advertise HTTP/3 on the h1/h2 responses of this origin
        altSvc['alt-svc'] = `h3=":${h3.port}"; ma=86400`;
      }
      // certificates name localhost: browsers should use that name
      const name = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      endpoints.push({
        url: `wss://${name}:${l.port}/echo`,
        page: `https://${name}:${l.port}/`,
        secure: true,
        port: l.port,
        transport: 'h2+http/1.1',
      });
      if (opts.http3 !== false) {
        endpoints.push({
          url: `wss://${name}:${l.port}/echo`,
          page: `https://${name}:${l.port}/`,
          secure: true,
          port: l.port,
          transport: 'h3',
        });
      }
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
  // one `listening URL` line per TCP endpoint (a contract interop scripts rely on)
  for (const e of s.endpoints) {
    if (e.transport !== 'h3') lines.push(`listening ${e.url}`);
  }
  for (const e of s.endpoints) {
    if (e.transport === 'h3') lines.push(`also over HTTP/3 (UDP ${e.port}): ${e.url}`);
  }
  for (const e of s.endpoints) if (e.transport !== 'h3') lines.push(`interop page: ${e.page}`);
  const tls = s.endpoints.find((e) => e.transport === 'h2+http/1.1');
  const plain = s.endpoints.find((e) => e.transport === 'http/1.1');
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
