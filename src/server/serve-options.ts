// The options of serve(): its own (ports, addresses, TLS, versions, workers, Redis) and
// every server option.

import type { QuicSettings } from '../h3/quic.js';
import type { RedisTopicsOptions } from '../scale/redis.js';
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
  /** TLS secrets to this file, NSS key log format (default SSLKEYLOGFILE; HTTP/3 too). */
  keylog?: string;
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
  /**
   * Most header fields an HTTP/1.1 request head may have; beyond it the answer is 431
   * (node:http's default: 1000).
   */
  maxHeadersCount?: number;
  /** HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE: a stream's receive window (default 256 KiB). */
  initialWindowSize?: number;
  /** HTTP/2 connection-level receive window (default 4 MiB). */
  connectionWindowSize?: number;
  /** QUIC transport settings of HTTP/3. */
  quic?: QuicSettings;
  /** WebTransport on the HTTP/3 listener (listenH3's `webtransport`; docs/webtransport.md). */
  webtransport?: boolean | { maxSessions?: number };
  /** With `quic.earlyData`: what becomes of a request not safe to replay in 0-RTT (listenH3's). */
  unsafeEarlyData?: 'wait' | 'reject';
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
  /**
   * Worker processes on the same ports (default 1: this process serves; 'auto': one per
   * core). The primary forks them once; they run this program, whose serve() then
   * listens in each of them (docs/scaling.md). In the primary, serve() resolves once
   * every worker listens.
   */
  workers?: number | 'auto';
}
