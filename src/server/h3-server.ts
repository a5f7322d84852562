// HTTP/3 WebSocket server (RFC 9220) on our own HTTP/3 (RFC 9114) over QUIC. One UDP
// port on every listening address (by default 127.0.0.1 and ::1: Chromium tries ::1
// first for localhost); the port number may be one a TCP server already uses.
//
// Every request stream is checked (a malformed one gets 400 and H3_MESSAGE_ERROR), then
// classified: another `:protocol` or a plain CONNECT gets 501; everything else goes the
// one way of src/server/exchange.ts through the HTTP/3 adapter (src/server/h3.ts): an
// extended CONNECT with `:protocol websocket` may become a Session over an H3Transport.
// Without `handle`, plain requests go to `onRequest` (read whole, up to
// `maxRequestBody`), else 404, or 405 + Allow: CONNECT on a WebSocket path.
//
// Shutdown: `goaway()` sends GOAWAY on every connection (requests already received
// finish; each connection closes with H3_NO_ERROR once it has no request left); `close()`
// also refuses new connections, closes WebSockets with 1001 (then aborts after
// `shutdownTimeout`), and closes the sockets.

import { DEFAULT_MAX_FIELD_SECTION_SIZE, H3Connection } from '../h3/connection.js';
import { H3_MESSAGE_ERROR, H3_NO_ERROR } from '../h3/errors.js';
import type { Header } from '../h3/qpack.js';
import type { QuicConnection, QuicSettings } from '../h3/quic.js';
import { listenQuic, type QuicRouter } from '../h3/quic-server.js';
import type { H3Stream } from '../h3/stream.js';
import { checkH3Request, classifyH3Request } from '../h3/upgrade.js';
import { WebSocketError } from '../ws/errors.js';
import { foreignProtocol } from './answers.js';
import { urlOf } from './bind.js';
import {
  createHandleContext,
  type HandleContext,
  type Server,
  shutdownLoops,
  topicsFace,
} from './context.js';
import { writeAnswer } from './exchange.js';
import { h3Exchange, serveH3Request } from './h3.js';
import type { HttpResponse, RequestHandler, RequestInfo } from './handler.js';
import { idleCloser } from './idle.js';
import { type ServerOptions, servesWebSockets } from './options.js';
import { fromHttpResponse } from './routes.js';
import { serveWebTransport, type WebTransportServerOptions } from './webtransport.js';

/** A plain (non-CONNECT) HTTP/3 request with its body, as `onRequest` sees it. */
export interface H3Request extends RequestInfo {
  readonly body: Buffer;
}

/** Options of `listenH3()`: UDP port, addresses, certificate, QUIC settings and timeouts. */
export interface H3ListenOptions extends ServerOptions {
  /** UDP port (default 0: any free one, the same on every host). */
  port?: number;
  /** Address(es) to listen on (default ['127.0.0.1', '::1']). */
  host?: string | readonly string[];
  /** @deprecated use `host` with a list. */
  hosts?: readonly string[];
  /** PEM certificate (chain) and key, as on every server: HTTP/3 is always TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** @deprecated use `tls: { cert, key }`. */
  cert?: string | Buffer;
  /** @deprecated use `tls: { cert, key }`. */
  key?: string | Buffer;
  /**
   * Plain HTTP/3 requests (GET, POST…): a buffered response. Not used with `handle`.
   * @deprecated `handle`, which answers plain requests on every version alike.
   */
  onRequest?: (req: H3Request) => HttpResponse | Promise<HttpResponse>;
  /** Largest request body `onRequest` gets (default 1 MiB; above: 413). */
  maxRequestBody?: number;
  /**
   * Largest request header section we accept, in bytes: our SETTINGS_MAX_FIELD_SECTION_SIZE
   * (default 64 KiB), as `maxHeaderSize` is on every server.
   */
  maxHeaderSize?: number;
  /** @deprecated `maxHeaderSize`. */
  maxFieldSectionSize?: number;
  /** QUIC transport parameters and limits. */
  quic?: QuicSettings;
  /**
   * With `quic.earlyData`: a request not safe to replay (any WebSocket, any method but
   * GET, HEAD, OPTIONS, TRACE) that arrives in 0-RTT waits for the handshake ('wait',
   * default) or is answered 425 Too Early ('reject'): RFC 8470.
   */
  unsafeEarlyData?: 'wait' | 'reject';
  /**
   * WebTransport (draft-ietf-webtrans-http3; docs/webtransport.md): true or its options.
   * The SETTINGS then offer it, QUIC datagrams are on, and an extended CONNECT with
   * `:protocol webtransport` reaches `handle` (`req.protocol`), which answers
   * `webtransport(handler, state)` or refuses with a status.
   */
  webtransport?: boolean | WebTransportServerOptions;
  /** Workers sharing the UDP port (serve({ workers }) sets it): src/scale/cluster.ts. */
  router?: QuicRouter;
  /**
   * Validate client addresses with a QUIC Retry before keeping any state for them:
   * 'auto' (default) once `retryAbove` (64) handshakes are in progress, true always, false
   * never. A Retry costs the client a round trip; spoofed Initials then cost us nothing.
   */
  retry?: boolean | 'auto';
  retryAbove?: number;
  /**
   * The static key of QUIC stateless reset tokens (RFC 9000 §10.3.2); default: derived
   * from the TLS key, so a server restarted with the same certificate resets the
   * connections of the one before it. Servers sharing a key must not share connection IDs.
   */
  statelessResetKey?: Uint8Array;
  /**
   * A request stream must deliver its header section within this many ms of its first
   * byte, or it is reset with H3_REQUEST_REJECTED: a slow-loris peer trickling HEADERS
   * holds nothing for long (default 10 000). The QUIC handshake itself is bounded by the
   * QUIC idle timeout (`quic.maxIdleTimeout`, 30 s).
   */
  handshakeTimeout?: number;
  /**
   * Write the TLS secrets to this file in NSS key log format (Wireshark, tshark); default
   * the SSLKEYLOGFILE environment variable, else none. HTTP/3 writes its own there too.
   */
  keylog?: string;
  /**
   * A connection with no request or WebSocket open for this many ms gets GOAWAY and
   * closes (default 60 000; 0: never). QUIC's own idle timeout cannot do this for a peer
   * that keeps the connection alive with PINGs.
   */
  keepAliveTimeout?: number;
}

/** A running server from `listenH3()`: its addresses and connections, GOAWAY and close. */
export interface H3Listener extends Server {
  /** Every address listened on (`host` is the first). */
  readonly hosts: readonly string[];
  /** Live HTTP/3 connections. */
  readonly connections: ReadonlySet<H3Connection>;
  /** Send GOAWAY on every connection: they finish their requests and close. New ones are accepted. */
  goaway(): void;
  /** GOAWAY, close WebSockets with 1001 (grace, then abort), close connections and sockets. */
  close(): Promise<void>;
}

/**
 * Answer a malformed request stream (RFC 9114 §4.1.2: a stream error H3_MESSAGE_ERROR;
 * "a response may go first"): 400 with `text`, then stop reading the request.
 */
function refuseMalformed(stream: H3Stream, text: string): void {
  if (stream.closed || stream.writableEnded) return;
  const body = Buffer.from(text, 'utf8');
  stream.sendHeaders([
    [':status', '400'],
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(body.length)],
  ]);
  stream.sendData(body, true);
  stream.stopReading(H3_MESSAGE_ERROR);
}

/** The legacy `onRequest` as a request handler: the body read whole, a buffered answer. */
function bufferedOnRequest(onRequest: NonNullable<H3ListenOptions['onRequest']>): RequestHandler {
  return async (req) => {
    const body = await req.body.buffer();
    return fromHttpResponse(await onRequest({ ...req, body }), '3');
  };
}

/** What happens to each request stream of a connection. */
function requestRouter(
  ctx: HandleContext,
  enableConnect: boolean,
  wtSessions: number,
): (stream: H3Stream, fields: Header[]) => void {
  const onError = (err: unknown) => ctx.opts.onError?.(err as Error);
  return (stream, fields) => {
    const check = checkH3Request(fields);
    if (!check.ok) {
      refuseMalformed(stream, `malformed request: ${check.error}\n`);
      return;
    }
    if (
      wtSessions > 0 &&
      check.headers[':method'] === 'CONNECT' &&
      check.headers[':protocol'] === 'webtransport'
    ) {
      serveWebTransport(stream, check.headers, fields, ctx, wtSessions).catch((err: unknown) => {
        onError(err);
        stream.reset(H3_MESSAGE_ERROR);
      });
      return;
    }
    const kind = classifyH3Request(check.headers);
    if (kind === 'websocket' && !enableConnect) {
      // RFC 8441 §3 (RFC 9220 §3): :protocol without our SETTINGS_ENABLE_CONNECT_PROTOCOL
      // is a malformed request
      refuseMalformed(stream, 'Bad Request\n');
      return;
    }
    if (
      kind === 'other-protocol' ||
      (kind !== 'websocket' && check.headers[':method'] === 'CONNECT')
    ) {
      // another :protocol, or a plain CONNECT tunnel: we are not a proxy
      const ex = h3Exchange(stream, check.headers, fields, ctx);
      writeAnswer(ex, ctx, foreignProtocol()).catch(onError);
      return;
    }
    serveH3Request(stream, check.headers, fields, ctx).catch((err: unknown) => {
      onError(err);
      stream.reset(H3_MESSAGE_ERROR);
    });
  };
}

/** Sessions per connection that `webtransport` allows (0: off). */
function wtSessionsOf(wt: H3ListenOptions['webtransport']): number {
  if (!wt) return 0;
  return Math.max(1, (wt === true ? undefined : wt.maxSessions) ?? 16);
}

/** The live connections of one server, and how each new one is set up. */
class H3Connections {
  readonly all = new Set<H3Connection>();
  goingAway = false;
  readonly #opts: H3ListenOptions;
  readonly #enableConnect: boolean;
  /** WebTransport sessions per connection (0: WebTransport off). */
  readonly #wtSessions: number;
  readonly #onRequest: (stream: H3Stream, fields: Header[]) => void;

  constructor(ctx: HandleContext, opts: H3ListenOptions) {
    this.#opts = opts;
    this.#enableConnect = servesWebSockets(opts);
    this.#wtSessions = wtSessionsOf(opts.webtransport);
    this.#onRequest = requestRouter(ctx, this.#enableConnect, this.#wtSessions);
  }

  /** A new QUIC connection: HTTP/3 on it, sent away when idle for keepAliveTimeout. */
  accept(q: QuicConnection): H3Connection {
    const opts = this.#opts;
    const idle = idleCloser(opts.keepAliveTimeout ?? 60_000, () => {
      if (h3.streamCount === 0) h3.goaway();
    });
    const h3: H3Connection = new H3Connection(
      q,
      {
        role: 'server',
        enableConnectProtocol: this.#enableConnect,
        maxFieldSectionSize:
          opts.maxHeaderSize ?? opts.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE,
        requestHeadTimeout: opts.handshakeTimeout ?? 10_000,
        ...(opts.unsafeEarlyData && { earlyData: opts.unsafeEarlyData }),
        ...(this.#wtSessions > 0 && { webtransport: { maxSessions: this.#wtSessions } }),
      },
      {
        onRequest: this.#onRequest,
        onStreamError: (err) => opts.onError?.(err),
        onIdle() {
          // RFC 9114 §5.2: after GOAWAY, close once the requests in flight are done
          if (h3.goingAway) h3.quic.closeWhenFlushed(H3_NO_ERROR);
          else idle.start();
        },
        onClose: () => {
          idle.stop();
          this.all.delete(h3);
        },
      },
    );
    idle.start();
    this.all.add(h3);
    if (this.goingAway) h3.goaway();
    return h3;
  }

  /** GOAWAY on every connection; with `forGood`, on every new one too (shutting down). */
  goaway(forGood = false): void {
    if (forGood) this.goingAway = true;
    for (const c of this.all) c.goaway();
  }

  /** Resolves once every connection closed, or after `ms`. */
  async settle(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.all].map((c) => c.whenClosed())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * A standalone HTTP/3 server for WebSockets (RFC 9220) and HTTP/3 responses.
 * `omniws serve --tls` runs it next to the TCP listener, on the same port number.
 */
export async function listenH3(opts: H3ListenOptions, shared?: HandleContext): Promise<H3Listener> {
  const onPlain = opts.onRequest && !opts.handle ? bufferedOnRequest(opts.onRequest) : undefined;
  const ctx = shared ?? createHandleContext(opts, 'answer', onPlain);
  let closed = false;
  const connections = new H3Connections(ctx, opts);
  const hosts = opts.hosts ?? (typeof opts.host === 'string' ? [opts.host] : opts.host?.slice());
  const cert = opts.tls?.cert ?? opts.cert;
  const key = opts.tls?.key ?? opts.key;
  if (cert === undefined || key === undefined) {
    throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'listenH3 needs tls: { cert, key }');
  }
  const quic = await listenQuic({
    ...(hosts && { hosts }),
    port: opts.port ?? 0,
    cert,
    key,
    alpn: ['h3'],
    internalErrorCode: 0x0102, // H3_INTERNAL_ERROR
    ...((opts.quic || opts.keylog !== undefined || opts.webtransport) && {
      settings: {
        ...(opts.keylog !== undefined && { keylog: opts.keylog }),
        ...opts.quic,
        // WebTransport's datagrams ride QUIC DATAGRAM frames (RFC 9297 §2.1, RFC 9221)
        ...(wtSessionsOf(opts.webtransport) > 0 && { datagrams: true }),
      },
    }),
    ...(opts.retry !== undefined && { retry: opts.retry }),
    ...(opts.retryAbove !== undefined && { retryAbove: opts.retryAbove }),
    ...(opts.statelessResetKey !== undefined && { statelessResetKey: opts.statelessResetKey }),
    ...(opts.router && { router: opts.router }),
    onConnection: (q) => connections.accept(q),
  });
  return {
    port: quic.port,
    hosts: quic.hosts,
    host: quic.hosts[0]!,
    url: urlOf('wss', quic.hosts[0]!, quic.port),
    versions: ['3'],
    registry: ctx.registry,
    ...topicsFace(ctx.registry),
    connections: connections.all,
    goaway: () => connections.goaway(false),
    async close() {
      if (closed) return;
      closed = true;
      shutdownLoops(ctx);
      quic.stopAccepting();
      connections.goaway(true);
      await ctx.registry.shutdown(opts.shutdownTimeout ?? 5000);
      // connections close themselves once idle (GOAWAY sent); wait a little for that
      await connections.settle(1000);
      await quic.close(H3_NO_ERROR, 500);
    },
  };
}
