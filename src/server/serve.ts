// serve(): a whole server on one port number, with one handler (or routes) for every
// HTTP version. With `tls`: HTTP/2 and HTTP/1.1 on TCP, chosen by ALPN, and HTTP/3 on UDP
// with the same port number, advertised to TCP clients with Alt-Svc (RFC 7838). Without:
// HTTP/1.1 (or h2c) on TCP. All listeners share one context: one `maxConnections` count,
// one registry of sessions, one shutdown. HTTP/3 code (and quiche's native binding) is
// loaded only when HTTP/3 is served.

import type { QuicSettings } from '../h3/quic.js';
import type { RedisTopicsOptions } from '../scale/redis.js';
import { WebSocketError } from '../ws/errors.js';
import { Topics, type TopicsAdapter } from '../ws/topics.js';
import type { HttpVersion } from '../ws/transport.js';
import { createHandleContext, type HandleContext, type Server, topicsFace } from './context.js';
import { listen } from './h1-server.js';
import { listenH2 } from './h2-server.js';
import { listenH3 } from './h3-lazy.js';
import type { ServerOptions } from './options.js';

/** A certificate (chain) and its key, PEM; other node:tls options may ride along. */
export interface ServerTls {
  cert: string | Buffer;
  key: string | Buffer;
  [option: string]: unknown;
}

/**
 * Options of `serve()`: port, addresses, TLS and the HTTP versions to serve, plus every server
 * option.
 */
export interface ServeOptions extends ServerOptions {
  /** TCP and UDP port (default 0: any free one; HTTP/3 then takes the TCP port's number). */
  port?: number;
  /**
   * Address(es) to listen on (default 127.0.0.1). TCP binds the first; HTTP/3 listens on
   * all of them, and on both loopback families when given one loopback address
   * (Chromium tries ::1 first for localhost).
   */
  host?: string | readonly string[];
  /** Serve TLS: wss:// and https:// (required for HTTP/2 by ALPN and for HTTP/3). */
  tls?: ServerTls;
  /**
   * The HTTP versions to serve (default with `tls` [1, 2, 3], without [1]). Without TLS a
   * port serves either HTTP/1.1 or HTTP/2 with prior knowledge (h2c), not both.
   */
  http?: readonly (1 | 2 | 3)[];
  /** The request head (and TLS handshake) must arrive within this many ms (default 10 000). */
  handshakeTimeout?: number;
  /** An HTTP/2 or HTTP/3 connection with nothing open this long is sent away (default 60 000). */
  keepAliveTimeout?: number;
  /** Pending TCP connections the kernel may queue (default 4096). */
  backlog?: number;
  /**
   * Largest request header section in bytes: the HTTP/1.1 head (431 above it; default
   * 16 KiB), HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE (the stream is reset above it),
   * HTTP/3's SETTINGS_MAX_FIELD_SECTION_SIZE (default 64 KiB).
   */
  maxHeaderSize?: number;
  /** Header fields of an HTTP/1.1 request beyond this count are ignored (default 2000). */
  maxHeadersCount?: number;
  /** HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE: a stream's receive window (default 256 KiB). */
  initialWindowSize?: number;
  /** HTTP/2 connection-level receive window (default 4 MiB). */
  connectionWindowSize?: number;
  /** QUIC transport settings of HTTP/3. */
  quic?: QuicSettings;
  /** QUIC address validation with Retry (listenH3's `retry`, default 'auto'). */
  retry?: boolean | 'auto';
  /** With `retry: 'auto'`: handshakes in progress from which a Retry is asked for (default 64). */
  retryAbove?: number;
  /** The key of HTTP/3 stateless reset tokens (default: derived from `tls.key`). */
  statelessResetKey?: Uint8Array;
  /**
   * Share topics with other processes and machines through Redis (docs/scaling.md): a
   * URL (`redis://…`, `rediss://…`) or the adapter's options. `close()` disconnects it.
   */
  redis?: string | RedisTopicsOptions;
}

/** The topics hub of a serve(): with `redis`, one whose adapter serve() connected (and closes). */
async function topicsOf(
  options: ServeOptions,
): Promise<{ topics: Topics | ServeOptions['topics']; adapter?: TopicsAdapter }> {
  if (options.redis === undefined) return { topics: options.topics };
  if (options.topics instanceof Topics) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      'serve: give `redis` or a Topics hub (with its own adapter), not both',
    );
  }
  const { RedisTopicsAdapter } = await import('../scale/redis.js');
  const adapter = await RedisTopicsAdapter.connect(
    typeof options.redis === 'string' ? { url: options.redis } : options.redis,
  );
  return { topics: new Topics({ ...options.topics, adapter }), adapter };
}

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
): Promise<Server> {
  const first = hosts[0]!;
  const both = hosts.length === 1 && LOOPBACK.has(first) ? ['127.0.0.1', '::1'] : hosts;
  return listenH3({ ...opts, port, host: both, tls: opts.tls! }, ctx);
}

/**
 * Serve `handle` (or `routes`) on every HTTP version asked for, on one port number.
 * Resolves once every listener is bound; `close()` closes WebSockets with 1001 and stops.
 */
export async function serve(options: ServeOptions): Promise<Server> {
  const http = versionsOf(options);
  const hosts = hostsOf(options.host);
  let h3Port: number | undefined;
  const { topics, adapter } = await topicsOf(options);
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
      const udp = await listenUdp(opts, tcp?.port ?? opts.port ?? 0, hosts, ctx);
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
