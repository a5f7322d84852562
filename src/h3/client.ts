// HTTP/3 WebSocket client (RFC 9220): one pooled HTTP/3 connection per origin (and TLS
// options) carries many WebSockets, each an extended CONNECT on a request stream. The
// request is built by `buildH3Request` and the answer checked by the pure
// `validateH3Response`; the stream then becomes a client-role Session over an H3Transport.
//
// RFC 9220 §3 (after RFC 8441 §3): "A client MUST NOT send a :protocol pseudo-header
// field unless it has received the SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with a
// value of 1", so every WebSocket waits for the server's SETTINGS and fails with
// WS_ERR_EXTENDED_CONNECT_UNSUPPORTED without it.
//
// Connections never keep the process alive without a WebSocket on them: with none left
// the socket is unref'd and the connection closed (H3_NO_ERROR) after
// `sessionIdleTimeout`. A connection that received GOAWAY takes no new WebSockets (its
// open ones continue); the next WebSocket to the origin opens a new connection.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  type ClientOptions,
  clientSession,
  connectionFailed,
  handshakeOffer,
  handshakeTimeoutOf,
  type ParsedUrl,
  parseWsUrl,
  responseCheck,
} from '../h1/client.js';
import { ConnectionPool, optionsKey, type Pooled } from '../h2/pool.js';
import { type ClientExtensions, clientExtensions } from '../ws/deflate.js';
import { handshakeTimeoutError, WebSocketError } from '../ws/errors.js';
import type { ResponseResult } from '../ws/negotiate.js';
import type { Session } from '../ws/session.js';
import { H3Connection } from './connection.js';
import { H3_INTERNAL_ERROR, H3_NO_ERROR, H3_REQUEST_CANCELLED } from './errors.js';
import type { Header } from './qpack.js';
import type { QuicConnection, QuicSettings } from './quic.js';
import { connectQuic } from './quic-client.js';
import type { H3Stream, H3StreamSink } from './stream.js';
import type { SessionTicketStore } from './tickets.js';
import { H3Transport } from './transport.js';
import { buildH3Request, checkH3Response, type H3Headers, validateH3Response } from './upgrade.js';

const DEFAULT_SESSION_IDLE_TIMEOUT = 1000;

/**
 * Client options over HTTP/3 (RFC 9220): QUIC settings, pooled-connection idle timeout, the pool.
 */
export interface H3ClientOptions<S> extends ClientOptions<S> {
  /** Close a pooled connection this long after its last WebSocket closed (default 1000 ms). */
  sessionIdleTimeout?: number;
  /** QUIC transport parameters and limits. */
  quic?: QuicSettings;
  /** The pool to take the connection from (an Agent's); default: the process-wide one. */
  h3Pool?: H3Pool;
  /** @internal WebTransport connections: its SETTINGS and QUIC datagrams (wt-client.ts). */
  webtransport?: boolean;
  /**
   * Where session tickets are kept besides the pool's memory, so that a new process
   * resumes too (`fileTicketStore(path)`, `omniws connect --session-file`).
   */
  sessionStore?: SessionTicketStore;
}

// Connections are shared between equal TLS options and equal QUIC settings, by value
// (src/h2/pool.ts): a connection verified with one CA never serves another's request.
function poolKey(u: ParsedUrl, opts: H3ClientOptions<unknown>): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return `${host}:${u.port}|${optionsKey(opts.tls)}|${optionsKey(opts.quic)}${opts.webtransport ? '|wt' : ''}`;
}

/** An HTTP/3 connection in a pool. */
export class PooledConnection implements Pooled {
  readonly key: string;
  readonly #pool: H3Pool;
  readonly #store: SessionTicketStore | undefined;
  h3: H3Connection | null = null;
  /** Resolves once the server's SETTINGS arrived. */
  readonly ready: Promise<H3Connection>;
  /**
   * Resolves as soon as requests can be written: when the handshake completed, or before
   * it, in 0-RTT, on a resumed session that allows early data (`h3.quic.earlyData`).
   */
  readonly opened: Promise<H3Connection>;
  #onOpened!: (h3: H3Connection) => void;
  /** WebSockets being opened (waiting for `ready`) or open on this connection. */
  users = 0;
  dead = false;
  #idleTimer: NodeJS.Timeout | null = null;
  readonly #idleTimeout: number;
  #closing = false;

  constructor(pool: H3Pool, key: string, u: ParsedUrl, opts: H3ClientOptions<unknown>) {
    this.key = key;
    this.#pool = pool;
    this.#store = opts.sessionStore;
    this.#idleTimeout = opts.sessionIdleTimeout ?? pool.idleTimeout ?? DEFAULT_SESSION_IDLE_TIMEOUT;
    this.opened = new Promise((resolve) => {
      this.#onOpened = resolve;
    });
    this.ready = this.#open(u, opts);
    // a failure is reported to whoever awaits `ready`; this keeps it from being unhandled
    this.ready.catch(() => {});
    this.opened = Promise.race([this.opened, this.ready]);
    this.opened.catch(() => {});
  }

  async #open(u: ParsedUrl, opts: H3ClientOptions<unknown>): Promise<H3Connection> {
    const timeout = handshakeTimeoutOf(opts);
    const deadline = Date.now() + timeout;
    try {
      const address = isIP(u.host) === 0 ? (await lookup(u.host)).address : u.host;
      const t = opts.tls ?? {};
      const servername =
        typeof t.servername === 'string' ? t.servername : isIP(u.host) === 0 ? u.host : null;
      let onSettings!: () => void;
      let onGone!: (err: Error) => void;
      const settings = new Promise<void>((resolve, reject) => {
        onSettings = resolve;
        onGone = reject;
      });
      settings.catch(() => {});
      await connectQuic({
        host: address,
        port: u.port,
        servername,
        ...(t.ca !== undefined && { ca: t.ca as string | Uint8Array | (string | Uint8Array)[] }),
        verify: t.rejectUnauthorized !== false,
        alpn: ['h3'],
        internalErrorCode: H3_INTERNAL_ERROR,
        timeout: Math.max(1, deadline - Date.now()),
        session: ticketsOf(this.#pool).get(this.key) ?? this.#store?.get(this.key),
        ...((opts.quic || opts.keylog !== undefined || opts.webtransport) && {
          settings: {
            ...(opts.keylog !== undefined && { keylog: opts.keylog }),
            ...opts.quic,
            ...(opts.webtransport && { datagrams: true }),
          },
        }),
        onEstablished: (q) => {
          const h3 = new H3Connection(
            q,
            { role: 'client', ...(opts.webtransport && { webtransport: { maxSessions: 16 } }) },
            {
              onSettings,
              onGoaway: () => this.#leavePool(),
              onIdle: () => this.#maybeIdle(),
              onClose: (info) => {
                this.#keepTicket(q);
                this.#die();
                onGone(new Error(`the HTTP/3 connection closed (${info.reason || info.code})`));
              },
            },
          );
          this.h3 = h3;
          this.#onOpened(h3);
          return h3;
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        settings,
        new Promise<void>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('no SETTINGS from the server in time')),
            Math.max(1, deadline - Date.now()),
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const h3 = this.h3!;
      this.#keepTicket(h3.quic);
      this.#maybeIdle();
      return h3;
    } catch (err) {
      this.#die();
      this.h3?.close(H3_NO_ERROR);
      throw err;
    }
  }

  /** Keep the server's session ticket for the next connection to the same origin (RFC 8446 §4.6.1). */
  #keepTicket(q: QuicConnection): void {
    const ticket = q.session();
    if (ticket === null || ticket.length === 0) return;
    const known = ticketsOf(this.#pool).get(this.key);
    if (known !== undefined && Buffer.from(known).equals(ticket)) return;
    ticketsOf(this.#pool).set(this.key, ticket);
    this.#store?.set(this.key, ticket);
  }

  get usable(): boolean {
    return !this.dead && (this.h3 === null || this.h3.canRequest());
  }

  retain(): void {
    this.users++;
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    this.h3?.quic.ref();
  }

  release(): void {
    this.users--;
    this.#maybeIdle();
  }

  #maybeIdle(): void {
    const h3 = this.h3;
    if (!h3 || h3.closed || this.users > 0 || h3.streamCount > 0) return;
    h3.quic.unref();
    if (h3.goingAway || this.#closing) {
      h3.quic.closeWhenFlushed(H3_NO_ERROR);
      return;
    }
    this.#idleTimer ??= setTimeout(() => {
      this.#idleTimer = null;
      if (this.users === 0 && h3.streamCount === 0) this.close();
    }, this.#idleTimeout);
    this.#idleTimer.unref();
  }

  /** Leave the pool now; close once the WebSockets on the connection are done. */
  close(): void {
    this.#closing = true;
    this.#die();
    this.#maybeIdle();
  }

  #leavePool(): void {
    this.#pool.remove(this);
  }

  #die(): void {
    if (this.dead) return;
    this.dead = true;
    this.#leavePool();
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }
}

export type H3Pool = ConnectionPool<PooledConnection>;

/**
 * TLS session tickets per pool (an Agent's, or the process-wide one) and per pool key
 * (origin, TLS options, QUIC settings): a new connection to a server resumes the last
 * session it gave (no certificate exchanged; `pathStats().resumed`). Early data is not
 * used: a WebSocket's extended CONNECT waits for the handshake (RFC 8470).
 */
const tickets = new WeakMap<H3Pool, Map<string, Uint8Array>>();
function ticketsOf(pool: H3Pool): Map<string, Uint8Array> {
  let m = tickets.get(pool);
  if (m === undefined) {
    m = new Map();
    tickets.set(pool, m);
  }
  return m;
}

/** The pool of connect() without an Agent of its own. */
export const defaultH3Pool: H3Pool = new ConnectionPool<PooledConnection>();

/** A live pooled connection for the origin that takes another WebSocket, or a new one. */
export function pooledConnection(u: ParsedUrl, opts: H3ClientOptions<unknown>): PooledConnection {
  const pool = opts.h3Pool ?? defaultH3Pool;
  const key = poolKey(u, opts);
  const found = pool.find(key, (p) => p.usable);
  if (found) return found;
  const p = new PooledConnection(pool, key, u, opts);
  if (!p.dead) pool.add(p);
  return p;
}

/** Send every connection of the default pool away: each closes once its WebSockets are done. */
export function closeH3Connections(): void {
  defaultH3Pool.close();
}

/** Connections in the default pool (for tests and diagnostics). */
export function h3PoolSize(): number {
  return defaultH3Pool.size;
}

/**
 * Open a WebSocket over HTTP/3 (RFC 9220) to a wss:// (or https://) URL. Resolves with
 * the session once the server answered 2xx; rejects with WS_ERR_EXTENDED_CONNECT_UNSUPPORTED
 * when the server's SETTINGS do not enable extended CONNECT, WS_ERR_HANDSHAKE_STATUS for
 * another status (the response rides along as `cause`).
 */
export function connectH3<S>(input: string | URL, opts: H3ClientOptions<S>): Promise<Session<S>> {
  const u = parseWsUrl(input);
  if (!u.secure) {
    throw new WebSocketError(
      'WS_ERR_INVALID_URL',
      'HTTP/3 always runs over TLS (QUIC): use wss:// for a WebSocket over HTTP/3',
    );
  }
  const ms = handshakeTimeoutOf(opts);
  // permessage-deflate and other extensions: offered, checked and run as on HTTP/1.1
  const ext = clientExtensions(opts);
  return new Promise<Session<S>>((resolve, reject) => {
    new H3Handshake<S>({ u, opts, ext }, ms, resolve, reject).waitForConnection();
  });
}

/** The response's fields without pseudo-headers, one string per field. */
function responseFields(h: H3Headers): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (!k.startsWith(':')) headers[k] = typeof v === 'string' ? v : v.join(', ');
  }
  return headers;
}

/** What a WebSocket over HTTP/3 asks for: the URL, the options, the extensions offered. */
interface H3Attempt<S> {
  u: ParsedUrl;
  opts: H3ClientOptions<S>;
  ext: ClientExtensions;
}

/** How often a handshake moves to another pooled connection when its own takes no request. */
const MAX_MOVES = 3;

/**
 * One extended CONNECT on a pooled connection: holds the connection (as one of its users) until
 * the WebSocket closes, and settles once, with a Session or an error.
 */
class H3Handshake<S> {
  readonly #a: H3Attempt<S>;
  readonly #resolve: (session: Session<S>) => void;
  readonly #reject: (err: Error) => void;
  #pooled: PooledConnection;
  #settled = false;
  #stream: H3Stream | null = null;
  #released = false;
  #moves = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(
    a: H3Attempt<S>,
    ms: number,
    resolve: (session: Session<S>) => void,
    reject: (err: Error) => void,
  ) {
    this.#a = a;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#pooled = pooledConnection(a.u, a.opts as H3ClientOptions<unknown>);
    this.#pooled.retain();
    this.#timer = setTimeout(() => {
      this.#fail(handshakeTimeoutError(ms));
    }, ms);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#pooled.release();
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#stream?.reset(H3_REQUEST_CANCELLED);
    this.#release();
    this.#reject(err);
  }

  waitForConnection(): void {
    this.#pooled.ready.then(
      (h3) => this.#onReady(h3),
      (err: Error) => this.#onFailed(err),
    );
  }

  /** The pooled connection got the server's SETTINGS. */
  #onReady(h3: H3Connection): void {
    if (this.#settled) return;
    if (!h3.canRequest() && !h3.closed && this.#moves < MAX_MOVES) {
      this.#move();
      return;
    }
    if (!h3.peerEnablesConnectProtocol) {
      this.#fail(
        new WebSocketError(
          'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED',
          `${this.#a.u.authority} did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 9220 §3)`,
        ),
      );
      return;
    }
    // RFC 8470 §4: a WebSocket is not safe to replay, so it never rides 0-RTT data
    if (h3.quic.earlyData) {
      h3.handshakeDone().then(
        () => !this.#settled && this.#request(h3),
        (err: Error) => this.#onFailed(err),
      );
      return;
    }
    this.#request(h3);
  }

  /**
   * WebSockets that waited for this connection used up its streams (or it got a GOAWAY
   * meanwhile): move to another connection of the pool.
   */
  #move(): void {
    this.#moves++;
    this.#pooled.release();
    this.#pooled = pooledConnection(this.#a.u, this.#a.opts as H3ClientOptions<unknown>);
    this.#pooled.retain();
    this.waitForConnection();
  }

  #onFailed(err: Error): void {
    this.#fail(connectionFailed(err));
  }

  /** RFC 9220 §3: the extended CONNECT, on a request stream of the pooled connection. */
  #request(h3: H3Connection): void {
    const { u, opts, ext } = this.#a;
    const fields = buildH3Request(u, handshakeOffer(opts, ext.offer));
    let s: H3Stream;
    try {
      s = h3.request(fields);
    } catch (err) {
      this.#fail(
        new WebSocketError('WS_ERR_HANDSHAKE', `request failed: ${(err as Error).message}`, {
          cause: err,
        }),
      );
      return;
    }
    this.#stream = s;
    s.setSink(this.#handshakeSink(s, fields));
  }

  /** The stream's events until the response: the Session's transport takes over after it. */
  #handshakeSink(s: H3Stream, fields: Header[]): H3StreamSink {
    return {
      onHeaders: (resFields, trailers) => {
        if (this.#settled || trailers) return;
        this.#onResponse(s, fields, resFields);
      },
      onData() {
        // a body before the response headers cannot happen (the validator refuses it)
      },
      onEnd: () => {
        this.#fail(
          new WebSocketError('WS_ERR_HANDSHAKE', 'the server ended the stream without a response'),
        );
      },
      onAbort: (err) => {
        this.#fail(
          new WebSocketError('WS_ERR_HANDSHAKE', `stream failed: ${err.message}`, {
            cause: err,
          }),
        );
      },
      onDrain() {},
      onStopped() {
        // the server stopped reading the CONNECT: its answer (a 4xx) still comes
      },
      onClose: () => {
        if (!this.#settled) {
          this.#fail(new WebSocketError('WS_ERR_HANDSHAKE', 'the stream closed before a response'));
        }
      },
    };
  }

  #onResponse(s: H3Stream, fields: Header[], resFields: readonly Header[]): void {
    const { opts, ext } = this.#a;
    const check = checkH3Response(resFields);
    if (!check.ok) {
      this.#fail(new WebSocketError('WS_ERR_HANDSHAKE', `malformed response: ${check.error}`));
      return;
    }
    const status = check.status!;
    if (status < 200) return; // interim
    const headers = responseFields(check.headers);
    if (status > 299) {
      this.#fail(
        new WebSocketError(
          'WS_ERR_HANDSHAKE_STATUS',
          `server answered ${status} instead of 200`,
          // the response rides along: a 401's www-authenticate, a 503's retry-after
          { status, response: { status, headers }, cause: { status, headers } },
        ),
      );
      return;
    }
    const valid = validateH3Response(status, check.headers, responseCheck(opts, ext));
    if (!valid.ok) {
      this.#fail(new WebSocketError('WS_ERR_HANDSHAKE', ext.error ?? valid.error));
      return;
    }
    this.#settled = true;
    clearTimeout(this.#timer);
    s.becomeTunnel();
    const ws = this.#session(s, fields, { status, headers }, valid);
    ws.closed.then(
      () => this.#release(),
      () => this.#release(),
    );
    ws.start();
    this.#resolve(ws);
  }

  #session(
    s: H3Stream,
    fields: Header[],
    response: { status: number; headers: Record<string, string> },
    valid: ResponseResult & { ok: true },
  ): Session<S> {
    const { u, opts, ext } = this.#a;
    const requestFields: Record<string, string> = {};
    for (const [k, v] of fields) if (!k.startsWith(':')) requestFields[k] = v;
    const transport = new H3Transport(s);
    return clientSession(opts, ext, transport, {
      http: '3',
      secure: true,
      method: 'CONNECT',
      path: u.path,
      authority: u.authority,
      headers: requestFields,
      subprotocol: valid.subprotocol,
      extensions: valid.extensions,
      remoteAddress: transport.info.remoteAddress,
      remotePort: transport.info.remotePort,
      response,
    });
  }
}
