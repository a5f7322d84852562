// serve(): a whole server on one port number, with one handler (or routes) for every
// HTTP version. With `tls`: HTTP/2 and HTTP/1.1 on TCP, chosen by ALPN, and HTTP/3 on UDP
// with the same port number, advertised to TCP clients with Alt-Svc (RFC 7838). Without:
// HTTP/1.1 (or h2c) on TCP. All listeners share one context: one `maxConnections` count,
// one registry of sessions, one shutdown. HTTP/3 code (and quiche's native binding) is
// loaded only when HTTP/3 is served.

import type { QuicRouter } from '../h3/quic-server.js';
import { workerCount } from '../scale/cluster.js';
import { WebSocketError } from '../ws/errors.js';
import type { HttpVersion } from '../ws/transport.js';
import { createHandleContext, type HandleContext, type Server, topicsFace } from './context.js';
import { listen } from './h1-server.js';
import { listenH2 } from './h2-server.js';
import { listenH3 } from './h3-lazy.js';
import type { ServeOptions } from './serve-options.js';
import { processTopics, serveWorkers } from './workers.js';

export type { ServeOptions, ServerTls } from './serve-options.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function versionsOf(opts: ServeOptions): (1 | 2 | 3)[] {
  const http = [...new Set(opts.http ?? (opts.tls ? [1, 2, 3] : [1]))].sort();
  if (http.length === 0 || http.some((v) => v !== 1 && v !== 2 && v !== 3)) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      `serve: http must list 1, 2 and/or 3, not ${JSON.stringify(opts.http)}`,
    );
  }
  if (!opts.tls && http.includes(3)) {
    throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'serve: HTTP/3 needs tls: { cert, key }');
  }
  if (!opts.tls && http.includes(1) && http.includes(2)) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      'serve: without tls a port serves HTTP/1.1 or HTTP/2 (h2c), not both; give tls (ALPN chooses) or one version',
    );
  }
  return http as (1 | 2 | 3)[];
}

function hostsOf(host: ServeOptions['host']): string[] {
  const hosts = host === undefined ? ['127.0.0.1'] : typeof host === 'string' ? [host] : [...host];
  if (hosts.length === 0) throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'serve: no host');
  return hosts;
}

/** HTTP/1.1 and/or HTTP/2 on TCP; undefined when only HTTP/3 is served. */
async function listenTcp(
  opts: ServeOptions,
  http: readonly (1 | 2 | 3)[],
  host: string,
  ctx: HandleContext,
): Promise<Server | undefined> {
  const common = {
    ...opts,
    host,
    port: opts.port ?? 0,
    ...(opts.tls && { tls: opts.tls }),
  };
  if (http.includes(2)) {
    return listenH2({ ...common, allowHTTP1: http.includes(1) }, ctx);
  }
  if (http.includes(1)) return listen(common, ctx);
  return undefined;
}

/** HTTP/3 on UDP, loaded on first use. */
async function listenUdp(
  opts: ServeOptions,
  port: number,
  hosts: readonly string[],
  ctx: HandleContext,
  router: QuicRouter | undefined,
): Promise<Server> {
  const first = hosts[0]!;
  const both = hosts.length === 1 && LOOPBACK.has(first) ? ['127.0.0.1', '::1'] : hosts;
  return listenH3({ ...opts, port, host: both, tls: opts.tls!, ...(router && { router }) }, ctx);
}

/**
 * Serve `handle` (or `routes`) on every HTTP version asked for, on one port number.
 * Resolves once every listener is bound; `close()` closes WebSockets with 1001 and stops.
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const workers = workerCount(options.workers);
  if (workers > 1) return serveWorkers(options, workers, serveHere);
  return serveHere(options);
}

/** serve() in this process (`router`: a worker's HTTP/3 routing among its group). */
async function serveHere(options: ServeOptions, router?: QuicRouter): Promise<Server> {
  const http = versionsOf(options);
  const hosts = hostsOf(options.host);
  let h3Port: number | undefined;
  const { topics, adapter } = await processTopics(options);
  const opts: ServeOptions = {
    ...options,
    ...(topics !== undefined && { topics }),
    ...(options.altSvc === undefined &&
      http.includes(3) && {
        altSvc: () => (h3Port === undefined ? undefined : `h3=":${h3Port}"; ma=86400`),
      }),
  };
  const ctx = createHandleContext(opts, 'answer');
  const listeners: Server[] = [];
  try {
    const tcp = await listenTcp(opts, http, hosts[0]!, ctx);
    if (tcp) listeners.push(tcp);
    if (http.includes(3)) {
      const udp = await listenUdp(opts, tcp?.port ?? opts.port ?? 0, hosts, ctx, router);
      listeners.push(udp);
      h3Port = udp.port;
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await adapter?.close();
    throw err;
  }
  const main = listeners[0]!;
  return {
    url: main.url,
    port: main.port,
    host: main.host,
    versions: listeners.flatMap((l) => l.versions) as HttpVersion[],
    registry: ctx.registry,
    ...topicsFace(ctx.registry),
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      await adapter?.close();
    },
  };
}
