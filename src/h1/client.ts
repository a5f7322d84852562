// HTTP/1.1 WebSocket client for ws:// and wss:// (RFC 6455 §4.1). Builds the
// request with `buildH1Request`, checks the answer with the pure
// `validateH1Response`, then hands the socket to a client-role Session.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { type ClientExtensions, clientExtensions, type DeflateOptions } from '../ws/deflate.js';
import { handshakeTimeoutError, WebSocketError } from '../ws/errors.js';
import type { ExtendedConnectOptions } from '../ws/extended-connect.js';
import type { Handler, UpgradeRequest } from '../ws/handler.js';
import type { ExtensionOffer } from '../ws/headers.js';
import type { ResponseCheckOptions, ResponseResult } from '../ws/negotiate.js';
import { Session, type SessionOptions } from '../ws/session.js';
import type { Transport } from '../ws/transport.js';
import { logKeys } from './keylog.js';
import { H1Transport } from './transport.js';
import { buildH1Request, type ClientHandshakeOptions, validateH1Response } from './upgrade.js';

/**
 * Client options on every HTTP version: handler and state, subprotocols, extensions, origin,
 * headers, TLS.
 */
export interface ClientOptions<S> extends SessionOptions {
  handler: Handler<S>;
  state?: S;
  subprotocols?: readonly string[];
  /** Sec-WebSocket-Extensions to offer ('' for none). */
  extensions?: string;
  /** Accept the server's extension response; default: none accepted. */
  acceptExtensions?: (response: readonly ExtensionOffer[]) => boolean;
  /** Offer permessage-deflate (RFC 7692): true or options (default off). */
  perMessageDeflate?: boolean | DeflateOptions;
  origin?: string;
  headers?: Readonly<Record<string, string>>;
  /** The opening handshake must complete within this many ms (default 15 000), as on servers. */
  handshakeTimeout?: number;
  /** @deprecated `handshakeTimeout`. */
  timeout?: number;
  /** TLS options for wss:// (ca, cert, key, servername, rejectUnauthorized…). Verified by default. */
  tls?: ConnectionOptions;
  /**
   * Write the TLS secrets to this file in NSS key log format (Wireshark, tshark); default
   * the SSLKEYLOGFILE environment variable, else none. HTTP/3 writes its own there too.
   */
  keylog?: string;
}

/** A WebSocket URL taken apart by `parseWsUrl()`: TLS or not, host, port, path and authority. */
export interface ParsedUrl {
  secure: boolean;
  host: string;
  port: number;
  path: string;
  /** Host header / :authority. */
  authority: string;
}

// node:tls's codes for a server certificate that does not verify (OpenSSL's X509_V_ERR_*
// and node's own name check)
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Whether a connection failed because the server's certificate did not verify (an
 * unknown CA, a name mismatch, an expired certificate): a configuration error that
 * retrying cannot fix. The QUIC client marks its own with `certificate: true`.
 */
export function isCertificateFailure(err: unknown): boolean {
  const e = err as { code?: unknown; certificate?: unknown } | null;
  return e?.certificate === true || (typeof e?.code === 'string' && CERTIFICATE_CODES.has(e.code));
}

/**
 * The error of a connection that failed before any HTTP answer: WS_ERR_CERTIFICATE, or
 * WS_ERR_HANDSHAKE_TIMEOUT when the transport's own handshake (TLS, QUIC) ran out of the
 * same time (marked `timeout: true`), else WS_ERR_HANDSHAKE.
 */
export function connectionFailed(err: Error): WebSocketError {
  if ((err as { timeout?: unknown }).timeout === true) {
    return new WebSocketError(
      'WS_ERR_HANDSHAKE_TIMEOUT',
      `opening handshake timed out: ${err.message}`,
      {
        cause: err,
      },
    );
  }
  return isCertificateFailure(err)
    ? new WebSocketError(
        'WS_ERR_CERTIFICATE',
        `the server's certificate did not verify: ${err.message}`,
        { cause: err },
      )
    : new WebSocketError('WS_ERR_HANDSHAKE', `connection failed: ${err.message}`, { cause: err });
}

/** The client's handshake bound: `handshakeTimeout` (or the older `timeout`), default 15 s. */
export function handshakeTimeoutOf(opts: { handshakeTimeout?: number; timeout?: number }): number {
  return opts.handshakeTimeout ?? opts.timeout ?? 15_000;
}

/** Parse a ws://, wss://, http:// or https:// URL (RFC 6455 §3); fragments are refused. */
export function parseWsUrl(input: string | URL): ParsedUrl {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new WebSocketError('WS_ERR_INVALID_URL', `invalid URL: ${String(input)}`);
  }
  const scheme = url.protocol;
  const secure = scheme === 'wss:' || scheme === 'https:';
  if (!secure && scheme !== 'ws:' && scheme !== 'http:') {
    throw new WebSocketError('WS_ERR_INVALID_URL', `unsupported scheme ${scheme}`);
  }
  // RFC 6455 §3: "Fragment identifiers … MUST NOT be used on these URIs."
  if (url.hash !== '') {
    throw new WebSocketError('WS_ERR_INVALID_URL', 'a WebSocket URL has no fragment');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  return {
    secure,
    host,
    port,
    path: (url.pathname || '/') + url.search,
    authority: url.host,
  };
}

/** What the opening request offers, on every HTTP version: subprotocols, extensions, origin, headers. */
export function handshakeOffer(
  opts: Pick<ClientOptions<unknown>, 'subprotocols' | 'origin' | 'headers'>,
  offer: string,
): ClientHandshakeOptions & ExtendedConnectOptions {
  return {
    ...(opts.subprotocols && { subprotocols: opts.subprotocols }),
    ...(offer && { extensions: offer }),
    ...(opts.origin !== undefined && { origin: opts.origin }),
    ...(opts.headers && { headers: opts.headers }),
  };
}

/** What every HTTP version checks the server's answer against: subprotocols, extensions. */
export function responseCheck(
  opts: Pick<ClientOptions<unknown>, 'subprotocols'>,
  ext: ClientExtensions,
): ResponseCheckOptions {
  return {
    ...(opts.subprotocols && { subprotocols: opts.subprotocols }),
    acceptExtensions: ext.accept,
  };
}

/**
 * The client Session of an accepted handshake, on any HTTP version: the caller's
 * options, the extension the server agreed to, the transport, and the upgrade as the
 * session reports it.
 */
export function clientSession<S>(
  opts: ClientOptions<S>,
  ext: ClientExtensions,
  transport: Transport,
  request: UpgradeRequest,
): Session<S> {
  return new Session<S>({
    ...opts,
    extension: ext.extension(opts.maxMessage) ?? opts.extension,
    role: 'client',
    transport,
    handler: opts.handler,
    state: opts.state as S,
    request,
  });
}

/** Open a WebSocket over HTTP/1.1. Resolves with the session once the 101 is accepted. */
export function connectH1<S>(input: string | URL, opts: ClientOptions<S>): Promise<Session<S>> {
  const u = parseWsUrl(input);
  const ext = clientExtensions(opts);
  const { key, headers } = buildH1Request(u.authority, handshakeOffer(opts, ext.offer));
  return new Promise<Session<S>>((resolve, reject) => {
    const req = (u.secure ? https : http).request(requestOptions(u, headers, opts.tls));
    if (u.secure) req.once('socket', (socket) => logKeys(socket, opts.keylog));
    const h = new H1Handshake<S>({ u, opts, ext, key, headers }, req, resolve, reject);
    req.on('error', (err) => h.onError(err));
    req.on('response', (res: IncomingMessage) => h.onResponse(res));
    req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) =>
      h.onUpgrade(res, socket, head),
    );
    req.end();
  });
}

/** node's options for the upgrade request; wss:// adds the TLS options and SNI (not for an IP). */
function requestOptions(
  u: ParsedUrl,
  headers: Record<string, string>,
  tls: ConnectionOptions | undefined,
): https.RequestOptions {
  const reqOpts: https.RequestOptions = {
    host: u.host,
    port: u.port,
    path: u.path,
    method: 'GET',
    headers,
    agent: false,
    setHost: false,
  };
  if (u.secure) {
    Object.assign(reqOpts, tls);
    if (tls?.servername === undefined && isIP(u.host) === 0) reqOpts.servername = u.host;
  }
  return reqOpts;
}

/** What an HTTP/1.1 handshake sent, and what it needs to check the answer. */
interface H1Request<S> {
  u: ParsedUrl;
  opts: ClientOptions<S>;
  ext: ClientExtensions;
  key: string;
  headers: Record<string, string>;
}

/** One HTTP/1.1 opening handshake: its deadline, and the one outcome it settles with. */
class H1Handshake<S> {
  readonly #r: H1Request<S>;
  readonly #req: http.ClientRequest;
  readonly #resolve: (session: Session<S>) => void;
  readonly #reject: (err: Error) => void;
  #settled = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    r: H1Request<S>,
    req: http.ClientRequest,
    resolve: (session: Session<S>) => void,
    reject: (err: Error) => void,
  ) {
    this.#r = r;
    this.#req = req;
    this.#resolve = resolve;
    this.#reject = reject;
    const ms = handshakeTimeoutOf(r.opts);
    this.#timer = setTimeout(() => {
      this.#fail(handshakeTimeoutError(ms));
      req.destroy();
    }, ms);
  }

  #fail(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#reject(err);
  }

  onError(err: Error): void {
    this.#fail(connectionFailed(err));
  }

  /** Any answer but an upgrade: the handshake failed with that status. */
  onResponse(res: IncomingMessage): void {
    res.resume();
    this.#fail(
      new WebSocketError(
        'WS_ERR_HANDSHAKE_STATUS',
        `server answered ${res.statusCode} instead of 101`,
        // the response rides along: a 401's www-authenticate, a 503's retry-after
        {
          status: res.statusCode ?? 0,
          response: { status: res.statusCode ?? 0, headers: res.headers },
          cause: { status: res.statusCode, headers: res.headers },
        },
      ),
    );
    this.#req.destroy();
  }

  onUpgrade(res: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.#settled) {
      socket.destroy();
      return;
    }
    const { opts, ext, key } = this.#r;
    const check = validateH1Response(
      res.statusCode ?? 0,
      res.headers,
      key,
      responseCheck(opts, ext),
    );
    if (!check.ok) {
      socket.destroy();
      this.#fail(new WebSocketError('WS_ERR_HANDSHAKE', ext.error ?? check.error));
      return;
    }
    this.#settled = true;
    clearTimeout(this.#timer);
    const session = this.#session(res, socket, head, check);
    session.start();
    this.#resolve(session);
  }

  #session(
    res: IncomingMessage,
    socket: Socket,
    head: Buffer,
    check: ResponseResult & { ok: true },
  ): Session<S> {
    const { u, opts, ext, headers } = this.#r;
    const transport = new H1Transport(socket, head, u.secure);
    const resHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    return clientSession(opts, ext, transport, {
      http: '1.1',
      secure: u.secure,
      method: 'GET',
      path: u.path,
      authority: u.authority,
      headers,
      subprotocol: check.subprotocol,
      extensions: check.extensions,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      response: { status: 101, headers: resHeaders },
    });
  }
}
