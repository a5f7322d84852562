// The interop server behind `npm start` / `omniws serve`: the echo and info routes
// plus the interop page, on a plain ws:// port and a TLS port (HTTP/1.1, HTTP/2 and
// HTTP/3), with certificates generated on first run. Prints what a person needs to
// point a browser at it. It is two calls of `serve()` with one request handler.

import { readFileSync } from 'node:fs';
import type { QuicSettings } from '../h3/quic.js';
import { type WorkerGroup, workerCount, workerInfo } from '../scale/cluster.js';
import { buffered, type RequestHandler, websocket } from '../server/handler.js';
import { serve } from '../server/serve.js';
import { webtransport } from '../server/webtransport.js';
import { processTopics } from '../server/workers.js';
import { Topics } from '../ws/topics.js';
import { type CertPaths, ensureCerts } from './certs.js';
import { echoRoutes, pubsubRoute, pubsubTopic } from './echo.js';
import { INTEROP_PAGE } from './page.js';
import { closeAsked, wtCloseHandler, wtEchoHandler } from './wt-echo.js';

/** Options of `serveInterop()`: address, plain and TLS ports, certificate, HTTP/3, deflate. */
export interface InteropOptions {
  host?: string;
  /** Plain ws:// + http:// port; null for none. */
  port?: number | null;
  /** TLS port (wss:// + https://); null for none. */
  tlsPort?: number | null;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Also serve HTTP/3 on the TLS port number over UDP (default true). */
  http3?: boolean;
  /** QUIC address validation with Retry: listenH3's `retry` (default 'auto'). */
  quicRetry?: boolean | 'auto';
  /** Accept permessage-deflate on the echo routes (default true). */
  perMessageDeflate?: boolean;
  /** Where generated certificates live (default certs/out). */
  certsDir?: string;
  /** See InteropHandlerOptions.onReport. */
  onReport?: (report: InteropReport) => void;
  /** Share the /pubsub rooms with other processes through Redis at this URL (docs/scaling.md). */
  redis?: string;
  /** With `redis`: keep about this many messages per room for recovery (default 0: none). */
  history?: number;
  /** Worker processes on the same ports (serve()'s `workers`; the rooms span them). */
  workers?: number | 'auto';
  /** TLS secrets of the TLS port (h1, h2, h3) to this file, NSS key log format (serve()'s `keylog`). */
  keylog?: string;
  /** QUIC settings of HTTP/3 (the congestion controller, pacing…: serve()'s `quic`). */
  quic?: QuicSettings;
  log?: (line: string) => void;
}

/** One URL the interop server listens on: its page, port, whether TLS, and what carries it. */
export interface Endpoint {
  url: string;
  page: string;
  secure: boolean;
  port: number;
  /** What carries it: 'http/1.1', 'h2+http/1.1' (TCP, ALPN) or 'h3' (UDP). */
  transport: 'http/1.1' | 'h2+http/1.1' | 'h3';
}

/**
 * A running interop server (`serveInterop()`): its endpoints, the certificates it uses, and how to
 * stop it.
 */
export interface Served {
  endpoints: Endpoint[];
  certs: CertPaths | undefined;
  /** The hub of the /pubsub rooms (both ports). */
  topics: Topics;
  /** With `workers`, in the primary: the group (restart one, or all in turn). */
  workers?: WorkerGroup | undefined;
  close(): Promise<void>;
}

/** Options of `interopHandler()`. */
export interface InteropHandlerOptions {
  /** Accept permessage-deflate (default true). */
  perMessageDeflate?: boolean;
  /** The hub of the /pubsub/<topic> rooms: the servers' `topics` (default: a new one). */
  topics?: Topics;
  /**
   * Results the page POSTs to /interop-report when opened with `?report` (browsers run
   * without an automation protocol report this way). Without it, /interop-report is 404.
   */
  onReport?: (report: InteropReport) => void;
}

/** What the interop page reports: its title, the browser's user agent and every check. */
export interface InteropReport {
  title: string;
  userAgent: string;
  results: { name: string; pass: boolean; http: string; ms?: number; detail?: string }[];
}

/**
 * The interop server's one request handler, the same on HTTP/1.1, HTTP/2 and HTTP/3:
 * /echo, /info and /pubsub/<topic> are WebSockets (asked for without an upgrade: 426 +
 * Upgrade on HTTP/1.1, 405 + Allow: CONNECT on h2/h3, which forbid Upgrade), the page
 * is at `/`. Give the servers it runs on the same `topics`.
 */
export function interopHandler(opts: InteropHandlerOptions = {}): RequestHandler {
  // browsers offer permessage-deflate on every WebSocket: the interop server accepts it
  const deflate = opts.perMessageDeflate ?? true;
  const routes = echoRoutes({ perMessageDeflate: deflate });
  const topics = opts.topics ?? new Topics();
  // published messages are compressed once for all members: no context takeover
  const roomDeflate = deflate && { serverNoContextTakeover: true };
  return (req) => {
    if (req.protocol === 'webtransport') {
      if (req.pathname === '/wt/echo') {
        // the client's first choice of application protocol, if it offered any
        const first = req.protocols?.[0];
        return webtransport(wtEchoHandler, null, first === undefined ? {} : { protocol: first });
      }
      if (req.pathname === '/wt/close') return webtransport(wtCloseHandler, closeAsked(req.query));
      return buffered(404, { 'content-type': 'text/plain; charset=utf-8' }, 'not found\n');
    }
    const route = routes[req.pathname];
    if (route) {
      const { handler, state, ...settings } = route;
      return websocket(handler, state, settings);
    }
    const topic = pubsubTopic(req.pathname);
    if (topic !== undefined) {
      const { handler, state, ...settings } = pubsubRoute(topics, topic);
      return websocket(handler, state, { ...settings, perMessageDeflate: roomDeflate });
    }
    if (req.pathname === '/interop-report' && req.method === 'POST' && opts.onReport) {
      return takeReport(req.body, opts.onReport);
    }
    const page = req.pathname === '/' || req.pathname === '/index.html';
    if (page && (req.method === 'GET' || req.method === 'HEAD')) {
      return buffered(
        200,
        { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        INTEROP_PAGE,
      );
    }
    return buffered(404, { 'content-type': 'text/plain; charset=utf-8' }, 'not found\n');
  };
}

async function takeReport(
  body: { json(limit?: number): Promise<unknown> },
  onReport: (report: InteropReport) => void,
) {
  let report: InteropReport;
  try {
    report = (await body.json(1024 * 1024)) as InteropReport;
  } catch {
    return buffered(400, { 'content-type': 'text/plain; charset=utf-8' }, 'not a JSON report\n');
  }
  onReport(report);
  return buffered(204, {}, '');
}

function groupOf(listeners: readonly { workers?: WorkerGroup }[]): WorkerGroup | undefined {
  return listeners.find((l) => l.workers)?.workers;
}

/** The interop server: a plain port and a TLS port, certificates generated when none are given. */
export async function serveInterop(opts: InteropOptions = {}): Promise<Served> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const workers = workerCount(opts.workers);
  // the certificate first: with workers, the first serve() forks them, and they must
  // find it made, not make one each
  let certs: CertPaths | undefined;
  let cert = opts.cert;
  let key = opts.key;
  if (
    opts.tlsPort !== null &&
    opts.tlsPort !== undefined &&
    (cert === undefined || key === undefined)
  ) {
    certs = await ensureCerts(opts.certsDir, { log });
    cert = readFileSync(certs.cert);
    key = readFileSync(certs.key);
  }
  // one hub for both ports: a room mixes ws:// and wss:// members of every HTTP version,
  // and, through Redis or the workers' primary, members of other processes. The primary
  // of workers serves nothing itself: it needs no hub.
  const primary = workers > 1 && workerInfo() === undefined;
  const hub: Awaited<ReturnType<typeof processTopics>> = primary
    ? { topics: undefined }
    : await processTopics(
        opts.redis === undefined
          ? {}
          : {
              redis: {
                url: opts.redis,
                ...(opts.history && { history: { maxLength: opts.history } }),
              },
            },
      );
  const adapter = hub.adapter;
  const topics = hub.topics instanceof Topics ? hub.topics : new Topics();
  const spread = workers > 1 ? { workers } : {};
  const handle = interopHandler({
    topics,
    ...(opts.onReport && { onReport: opts.onReport }),
    ...(opts.perMessageDeflate !== undefined && { perMessageDeflate: opts.perMessageDeflate }),
  });
  const listeners: { close(): Promise<void>; workers?: WorkerGroup | undefined }[] = [];
  const endpoints: Endpoint[] = [];
  try {
    if (opts.port !== null) {
      const l = await serve({ port: opts.port ?? 8080, host, handle, topics, ...spread });
      listeners.push(l);
      endpoints.push({
        url: `${l.url}/echo`,
        page: `${l.url.replace(/^ws/, 'http')}/`,
        secure: false,
        port: l.port,
        transport: 'http/1.1',
      });
    }
    if (opts.tlsPort !== null && opts.tlsPort !== undefined && cert && key) {
      // HTTP/2 and HTTP/1.1 on one port by ALPN (browsers open WebSockets over h2, RFC
      // 8441), and HTTP/3 on the same port number over UDP, advertised with Alt-Svc
      const http3 = opts.http3 !== false;
      const l = await serve({
        port: opts.tlsPort,
        host,
        tls: { cert, key },
        http: http3 ? [1, 2, 3] : [1, 2],
        handle,
        topics,
        ...spread,
        ...(opts.quicRetry !== undefined && { retry: opts.quicRetry }),
        ...(opts.keylog !== undefined && { keylog: opts.keylog }),
        ...(opts.quic !== undefined && { quic: opts.quic }),
        ...(http3 && { webtransport: true }),
      });
      listeners.push(l);
      // certificates name localhost: browsers should use that name
      const name = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      const endpoint = { url: `wss://${name}:${l.port}/echo`, page: `https://${name}:${l.port}/` };
      endpoints.push({ ...endpoint, secure: true, port: l.port, transport: 'h2+http/1.1' });
      if (http3) endpoints.push({ ...endpoint, secure: true, port: l.port, transport: 'h3' });
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await adapter?.close();
    throw err;
  }
  return {
    endpoints,
    certs,
    topics,
    workers: groupOf(listeners),
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      await adapter?.close();
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
  const h3 = s.endpoints.some((e) => e.transport === 'h3');
  const plain = s.endpoints.find((e) => e.transport === 'http/1.1');
  lines.push('', 'Browsers:');
  if (plain)
    lines.push(`  Chromium, HTTP/1.1:  chromium --user-data-dir="$(mktemp -d)" ${plain.page}`);
  if (tls && s.certs) {
    const spki = `--ignore-certificate-errors-spki-list=${s.certs.spkiSha256}`;
    // WebTransport's own QUIC connection honours the SPKI flag only in developer mode
    const wt = h3 ? ' --webtransport-developer-mode' : '';
    lines.push(
      `  Chromium, TLS (h2/h1): chromium --user-data-dir="$(mktemp -d)" ${spki}${wt} ${tls.page}`,
    );
    if (h3) {
      lines.push(
        `  Chromium, HTTP/3:    chromium --user-data-dir="$(mktemp -d)" ${spki}${wt} --enable-quic --origin-to-force-quic-on=localhost:${tls.port} --enable-features=EnableWebsocketsOverHttp3 ${tls.page}`,
      );
    }
    lines.push(
      `  Firefox: import ${s.certs.ca} as an authority (Settings › Certificates), set network.http.http2.websockets=true${h3 ? ' (and, for HTTP/3 and WebTransport, network.http.http3.disable_when_third_party_roots_found=false)' : ''}, then open ${tls.page}`,
    );
    if (h3) {
      lines.push(
        `  WebTransport: https://localhost:${tls.port}/wt/echo echoes every stream and datagram (the page checks it; ?nowt leaves it out)`,
      );
    }
    lines.push(`  Node clients: NODE_EXTRA_CA_CERTS=${s.certs.ca}`);
  }
  return lines;
}
