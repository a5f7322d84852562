// HTTP/2 WebSocket client (RFC 8441): one pooled ClientHttp2Session per origin
// (and TLS options and window settings) carries many WebSockets, each an extended
// CONNECT stream. The request is built by `buildH2Request` and the answer checked
// by the pure `validateH2Response`; the stream then becomes a client-role Session.
//
// RFC 8441 §3: "A client MUST NOT send a :protocol pseudo-header field unless it has
// received the SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with a value of 1." node
// holds such a request until the peer's SETTINGS arrive instead of failing it, so we
// wait for the first SETTINGS ourselves and check the parameter before any request.
//
// Sessions never keep the process alive without a WebSocket on them: with none left
// a session is unref'd and closed (GOAWAY) after `sessionIdleTimeout`.

import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from 'node:http2';
import { isIP } from 'node:net';
import tls, { type ConnectionOptions, type TLSSocket } from 'node:tls';
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
import { logKeys } from '../h1/keylog.js';
import { type ClientExtensions, clientExtensions } from '../ws/deflate.js';
import { handshakeTimeoutError, WebSocketError } from '../ws/errors.js';
import type { ResponseResult } from '../ws/negotiate.js';
import type { Session } from '../ws/session.js';
import { ConnectionPool, optionsKey, type Pooled } from './pool.js';
import { H2Transport } from './transport.js';
import { buildH2Request, validateH2Response } from './upgrade.js';

const { NGHTTP2_CANCEL } = constants;

/** Flow-control defaults of the client, as the server's (see DEFAULT_* in ./server.ts). */
export const CLIENT_INITIAL_WINDOW_SIZE = 256 * 1024;
export const CLIENT_CONNECTION_WINDOW_SIZE = 4 * 1024 * 1024;
const DEFAULT_SESSION_IDLE_TIMEOUT = 1000;
/** How long 'auto' remembers that an origin answered without WebSockets over HTTP/2. */
const NO_H2_MEMORY_MS = 30_000;

/**
 * Client options over HTTP/2 (RFC 8441): receive windows, pooled-session idle timeout, the pool.
 */
export interface H2ClientOptions<S> extends ClientOptions<S> {
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise: per-stream receive window (default 256 KiB). */
  initialWindowSize?: number;
  /** Connection-level receive window (default 4 MiB). */
  connectionWindowSize?: number;
  /** Close a pooled session this long after its last WebSocket closed (default 1000 ms). */
  sessionIdleTimeout?: number;
  /** The pool to take the session from (an Agent's); default: the process-wide one. */
  h2Pool?: H2Pool;
}

/** Why an origin cannot carry WebSockets over HTTP/2 (the 'auto' mode falls back to HTTP/1.1). */
type NoH2 = 'alpn' | 'settings';

function poolKey(u: ParsedUrl, opts: H2ClientOptions<unknown>): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return [
    u.secure ? 'https' : 'http',
    `${host}:${u.port}`,
    opts.initialWindowSize ?? CLIENT_INITIAL_WINDOW_SIZE,
    opts.connectionWindowSize ?? CLIENT_CONNECTION_WINDOW_SIZE,
    u.secure ? optionsKey(opts.tls) : '',
  ].join('|');
}

/** An HTTP/2 session in a pool. */
export class PooledSession implements Pooled {
  readonly key: string;
  readonly #pool: H2Pool;
  session: ClientHttp2Session | null = null;
  /** Resolves once the peer's first SETTINGS arrived: null when ALPN did not select h2. */
  readonly ready: Promise<ClientHttp2Session | null>;
  connectProtocol = false;
  /** WebSockets (and handshakes) on this session. */
  streams = 0;
  dead = false;
  #idleTimer: NodeJS.Timeout | null = null;
  readonly #idleTimeout: number;

  constructor(
    pool: H2Pool,
    key: string,
    u: ParsedUrl,
    opts: H2ClientOptions<unknown>,
    alpn: string[],
  ) {
    this.key = key;
    this.#pool = pool;
    this.#idleTimeout = opts.sessionIdleTimeout ?? pool.idleTimeout ?? DEFAULT_SESSION_IDLE_TIMEOUT;
    this.ready = this.#open(u, opts, alpn);
    // a failure is reported to whoever awaits `ready`, and the session leaves the pool:
    // an origin that refused a connection once (a server restarting) is tried afresh
    this.ready.catch(() => this.#die());
  }

  async #open(
    u: ParsedUrl,
    opts: H2ClientOptions<unknown>,
    alpn: string[],
  ): Promise<ClientHttp2Session | null> {
    const host = u.host.includes(':') ? `[${u.host}]` : u.host;
    const origin = `${u.secure ? 'https' : 'http'}://${host}:${u.port}`;
    const settings: http2.Settings = {
      enablePush: false,
      initialWindowSize: opts.initialWindowSize ?? CLIENT_INITIAL_WINDOW_SIZE,
    };
    let session: ClientHttp2Session;
    if (u.secure) {
      const socket = await tlsConnect(u, opts, alpn, handshakeTimeoutOf(opts));
      if (socket.alpnProtocol !== 'h2') {
        socket.destroy();
        this.#die();
        return null;
      }
      session = http2.connect(origin, { settings, createConnection: () => socket });
    } else {
      session = http2.connect(origin, { settings });
    }
    this.session = session;
    session.on('error', () => this.#die());
    session.on('goaway', () => this.#die());
    session.once('close', () => this.#die());
    const windowSize = opts.connectionWindowSize ?? CLIENT_CONNECTION_WINDOW_SIZE;
    session.once('connect', () => {
      try {
        session.setLocalWindowSize(windowSize);
      } catch {
        // closed meanwhile
      }
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        session.removeListener('remoteSettings', onSettings);
        session.removeListener('close', onClose);
        reject(err);
      };
      const onClose = () => onError(new Error('the HTTP/2 session closed before its SETTINGS'));
      const onSettings = () => {
        session.removeListener('error', onError);
        session.removeListener('close', onClose);
        resolve();
      };
      session.once('remoteSettings', onSettings);
      session.once('error', onError);
      session.once('close', onClose);
    });
    this.connectProtocol = session.remoteSettings.enableConnectProtocol === true;
    if (this.streams === 0) this.#idle();
    return session;
  }

  get full(): boolean {
    const max = this.session?.remoteSettings.maxConcurrentStreams;
    return max !== undefined && this.streams >= max;
  }

  retain(): void {
    this.streams++;
    if (this.#idleTimer) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
    this.session?.ref();
  }

  release(): void {
    this.streams--;
    if (this.streams === 0) this.#idle();
  }

  #idle(): void {
    const s = this.session;
    if (!s || this.dead) return;
    s.unref();
    this.#idleTimer ??= setTimeout(() => {
      this.#idleTimer = null;
      if (this.streams === 0) this.close();
    }, this.#idleTimeout);
    this.#idleTimer.unref();
  }

  close(): void {
    this.#die();
    const s = this.session;
    if (s && !s.closed && !s.destroyed) s.close();
  }

  #die(): void {
    if (this.dead) return;
    this.dead = true;
    this.#pool.remove(this);
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }
}

export type H2Pool = ConnectionPool<PooledSession>;

/** The pool of connect() without an Agent of its own. */
export const defaultH2Pool: H2Pool = new ConnectionPool<PooledSession>();
const noH2 = new Map<string, { reason: NoH2; until: number }>();

function tlsConnect(
  u: ParsedUrl,
  opts: H2ClientOptions<unknown>,
  alpn: string[],
  timeout: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const o: ConnectionOptions = { host: u.host, port: u.port, ...opts.tls, ALPNProtocols: alpn };
    if (opts.tls?.servername === undefined && isIP(u.host) === 0) o.servername = u.host;
    const socket = tls.connect(o);
    logKeys(socket, opts.keylog);
    const timer = setTimeout(() => {
      socket.destroy(
        Object.assign(new Error(`TLS connection timed out after ${timeout} ms`), { timeout: true }),
      );
    }, timeout);
    timer.unref();
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/** A live pooled session for the origin with room for one more stream, or a new one. */
function pooledSession(
  u: ParsedUrl,
  opts: H2ClientOptions<unknown>,
  alpn: string[],
): PooledSession {
  const pool = opts.h2Pool ?? defaultH2Pool;
  const key = poolKey(u, opts);
  const found = pool.find(key, (p) => !p.dead && !p.full);
  if (found) return found;
  const p = new PooledSession(pool, key, u, opts, alpn);
  if (!p.dead) pool.add(p);
  return p;
}

/**
 * Open a WebSocket over HTTP/2 (RFC 8441); wss:// by TLS + ALPN h2, ws:// as h2c with
 * prior knowledge. Rejects with WS_ERR_EXTENDED_CONNECT_UNSUPPORTED when the server
 * does not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
 */
export function connectH2<S>(input: string | URL, opts: H2ClientOptions<S>): Promise<Session<S>> {
  const u = parseWsUrl(input);
  return open(u, opts, false).then((s) => {
    if (s) return s;
    throw new WebSocketError(
      'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED',
      `${u.authority} does not offer HTTP/2 (ALPN) to this client`,
    );
  });
}

/**
 * The HTTP/2 half of `connect(url, { http: 'auto' })`: resolves null when the origin
 * does not offer WebSockets over HTTP/2 (ALPN chose http/1.1, or no
 * SETTINGS_ENABLE_CONNECT_PROTOCOL), so the caller can use HTTP/1.1 instead.
 */
export function connectH2IfOffered<S>(
  input: string | URL,
  opts: H2ClientOptions<S>,
): Promise<Session<S> | null> {
  const u = parseWsUrl(input);
  if (!u.secure) return Promise.resolve(null);
  const key = poolKey(u, opts);
  const remembered = noH2.get(key);
  if (remembered && remembered.until > Date.now()) return Promise.resolve(null);
  noH2.delete(key);
  return open(u, opts, true);
}

/** Close every pooled HTTP/2 session (GOAWAY); their open WebSockets finish first. */
export function closeH2Sessions(): void {
  defaultH2Pool.close();
}

function open<S>(
  u: ParsedUrl,
  opts: H2ClientOptions<S>,
  auto: boolean,
): Promise<Session<S> | null> {
  const ms = handshakeTimeoutOf(opts);
  // permessage-deflate and other extensions: offered, checked and run as on HTTP/1.1
  const ext = clientExtensions(opts);
  return new Promise<Session<S> | null>((resolve, reject) => {
    const h = new H2Handshake<S>({ u, opts, auto, ext }, ms, resolve, reject);
    h.pooled.ready.then(
      (session) => h.onReady(session),
      (err: Error) => h.onConnectFailed(err),
    );
  });
}

/** 'auto' uses HTTP/1.1 for this origin for a while (expired entries are dropped first). */
function rememberNoH2(key: string, reason: NoH2): void {
  const now = Date.now();
  for (const [k, v] of noH2) if (v.until <= now) noH2.delete(k);
  noH2.set(key, { reason, until: now + NO_H2_MEMORY_MS });
}

/** The response's fields without pseudo-headers, one string per field. */
function responseFields(resHeaders: IncomingHttpHeaders): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(resHeaders)) {
    if (v !== undefined && !k.startsWith(':')) {
      fields[k] = Array.isArray(v) ? v.join(', ') : String(v);
    }
  }
  return fields;
}

/** What a WebSocket over HTTP/2 asks for: the URL, the options, whether 'auto' may fall back. */
interface H2Attempt<S> {
  u: ParsedUrl;
  opts: H2ClientOptions<S>;
  auto: boolean;
  ext: ClientExtensions;
}

/**
 * One extended CONNECT on a pooled session: holds the session's stream count until the stream
 * closes, and settles once, with a Session, with null ('auto' falls back) or with an error.
 */
class H2Handshake<S> {
  readonly #a: H2Attempt<S>;
  readonly #resolve: (session: Session<S> | null) => void;
  readonly #reject: (err: Error) => void;
  readonly pooled: PooledSession;
  #settled = false;
  #stream: ClientHttp2Stream | null = null;
  #released = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    a: H2Attempt<S>,
    ms: number,
    resolve: (session: Session<S> | null) => void,
    reject: (err: Error) => void,
  ) {
    this.#a = a;
    this.#resolve = resolve;
    this.#reject = reject;
    this.pooled = pooledSession(
      a.u,
      a.opts as H2ClientOptions<unknown>,
      a.auto ? ['h2', 'http/1.1'] : ['h2'],
    );
    this.pooled.retain();
    this.#timer = setTimeout(() => {
      this.#fail(handshakeTimeoutError(ms));
    }, ms);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.pooled.release();
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    const stream = this.#stream;
    if (stream && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    else if (!stream) this.#release();
    this.#reject(err);
  }

  /** The pooled session got the peer's SETTINGS (null: ALPN did not select h2). */
  onReady(session: ClientHttp2Session | null): void {
    if (this.#settled) return;
    if (!session || !this.pooled.connectProtocol) {
      if (this.#a.auto) {
        this.#fallBack(session ? 'settings' : 'alpn');
        return;
      }
      this.#fail(
        new WebSocketError(
          'WS_ERR_EXTENDED_CONNECT_UNSUPPORTED',
          session
            ? `${this.#a.u.authority} did not send SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)`
            : `${this.#a.u.authority} did not select h2 by ALPN`,
        ),
      );
      return;
    }
    this.#request(session);
  }

  onConnectFailed(err: Error): void {
    this.#fail(connectionFailed(err));
  }

  /** 'auto': no WebSockets over HTTP/2 at this origin; resolve null so HTTP/1.1 is tried. */
  #fallBack(reason: NoH2): void {
    rememberNoH2(this.pooled.key, reason);
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#release();
    this.#resolve(null);
  }

  /** RFC 8441 §4: the extended CONNECT, on a stream of the pooled session. */
  #request(session: ClientHttp2Session): void {
    const { u, opts, ext } = this.#a;
    const headers = buildH2Request(u, handshakeOffer(opts, ext.offer));
    let s: ClientHttp2Stream;
    try {
      s = session.request(headers, { endStream: false });
    } catch (err) {
      this.#fail(
        new WebSocketError('WS_ERR_HANDSHAKE', `request failed: ${(err as Error).message}`, {
          cause: err,
        }),
      );
      return;
    }
    this.#stream = s;
    s.once('close', () => this.#release());
    s.on('error', (err: Error) =>
      this.#fail(
        new WebSocketError('WS_ERR_HANDSHAKE', `stream failed: ${err.message}`, { cause: err }),
      ),
    );
    s.once('close', () =>
      this.#fail(
        new WebSocketError(
          'WS_ERR_HANDSHAKE',
          `stream closed before a response (RST_STREAM code ${s.rstCode ?? 'none'})`,
        ),
      ),
    );
    s.once('response', (resHeaders) => this.#onResponse(s, headers, resHeaders));
  }

  #onResponse(
    s: ClientHttp2Stream,
    headers: Record<string, string>,
    resHeaders: IncomingHttpHeaders & IncomingHttpStatusHeader,
  ): void {
    if (this.#settled) return;
    const { opts, ext } = this.#a;
    const status = Number(resHeaders[':status']);
    const fields = responseFields(resHeaders);
    if (!(status >= 200 && status <= 299)) {
      s.resume();
      this.#fail(
        new WebSocketError(
          'WS_ERR_HANDSHAKE_STATUS',
          `server answered ${status} instead of 200`,
          // the response rides along: a 401's www-authenticate, a 503's retry-after
          { status, response: { status, headers: fields }, cause: { status, headers: fields } },
        ),
      );
      return;
    }
    const check = validateH2Response(status, resHeaders, responseCheck(opts, ext));
    if (!check.ok) {
      this.#fail(new WebSocketError('WS_ERR_HANDSHAKE', ext.error ?? check.error));
      return;
    }
    this.#settled = true;
    clearTimeout(this.#timer);
    const ws = this.#session(s, headers, { status, headers: fields }, check);
    ws.start();
    this.#resolve(ws);
  }

  #session(
    s: ClientHttp2Stream,
    headers: Record<string, string>,
    response: { status: number; headers: Record<string, string> },
    check: ResponseResult & { ok: true },
  ): Session<S> {
    const { u, opts, ext } = this.#a;
    const requestFields: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) requestFields[k] = v;
    const transport = new H2Transport(s, u.secure);
    return clientSession(opts, ext, transport, {
      http: '2',
      secure: u.secure,
      method: 'CONNECT',
      path: u.path,
      authority: u.authority,
      headers: requestFields,
      subprotocol: check.subprotocol,
      extensions: check.extensions,
      remoteAddress: transport.info.remoteAddress,
      remotePort: transport.info.remotePort,
      response,
    });
  }
}
