// HTTP/3 WebSocket server (RFC 9220) on our own HTTP/3 (RFC 9114) over QUIC. One UDP
// port on every listening address (by default 127.0.0.1 and ::1: Chromium tries ::1
// first for localhost); the port number may be one a TCP server already uses.
//
// Every request stream is classified: an extended CONNECT with `:protocol websocket`
// goes through the route decision and the pure `validateH3Request`, then becomes a
// Session over an H3Transport; another `:protocol` or a plain CONNECT gets 501; any
// other request is read whole (up to `maxRequestBody`) and answered with the buffered
// HttpResponse of `onRequest` (default: 404, or 405 + Allow: CONNECT on a WebSocket
// path). Answers that do not need the rest of a request stop reading it with
// H3_NO_ERROR (RFC 9114 §4.1).
//
// Shutdown: `goaway()` sends GOAWAY on every connection (requests already received
// finish; each connection closes with H3_NO_ERROR once it has no request left); `close()`
// also refuses new connections, closes WebSockets with 1001 (then aborts after
// `shutdownTimeout`), and closes the sockets.

import { STATUS_CODES } from 'node:http';
import { serveH3Request } from '../http/h3.js';
import { createHandleContext, shutdownLoops } from '../http/respond.js';
import {
  decisionFailed,
  type HttpResponse,
  hasRoutes,
  idleCloser,
  isHttpResponse,
  negotiationFor,
  pathnameOf,
  type RequestInfo,
  resolveRoute,
  type ServerOptions,
  SessionRegistry,
} from '../route.js';
import { isConnectionSpecific } from '../ws/extended-connect.js';
import { DEFAULT_MAX_FIELD_SECTION_SIZE, H3Connection } from './connection.js';
import { H3_MESSAGE_ERROR, H3_NO_ERROR } from './errors.js';
import type { Header } from './qpack.js';
import type { QuicSettings } from './quic.js';
import { listenQuic, type QuicServer } from './quic-server.js';
import type { H3Stream } from './stream.js';
import { H3Transport } from './transport.js';
import { checkH3Request, classifyH3Request, type H3Headers, validateH3Request } from './upgrade.js';

/** A plain (non-CONNECT) HTTP/3 request with its body, as `onRequest` sees it. */
export interface H3Request extends RequestInfo {
  readonly body: Buffer;
}

export interface H3ListenOptions extends ServerOptions {
  /** UDP port (default 0: any free one, the same on every host). */
  port?: number;
  /** One address to listen on; `hosts` for several. */
  host?: string;
  /** Addresses to listen on (default ['127.0.0.1', '::1']). */
  hosts?: readonly string[];
  /** PEM certificate (chain) and key. HTTP/3 is always TLS. */
  cert: string | Buffer;
  key: string | Buffer;
  /** Plain HTTP/3 requests (GET, POST…): a buffered response. Not used with `handle`. */
  onRequest?: (req: H3Request) => HttpResponse | Promise<HttpResponse>;
  /** Largest request body `onRequest` gets (default 1 MiB; above: 413). */
  maxRequestBody?: number;
  /** Our SETTINGS_MAX_FIELD_SECTION_SIZE (default 64 KiB). */
  maxFieldSectionSize?: number;
  /** QUIC transport parameters and limits. */
  quic?: QuicSettings;
  /**
   * Validate client addresses with a QUIC Retry before keeping any state for them:
   * 'auto' (default) once `retryAbove` (64) handshakes are in progress, true always, false
   * never. A Retry costs the client a round trip; spoofed Initials then cost us nothing.
   */
  retry?: boolean | 'auto';
  retryAbove?: number;
  /**
   * A request stream must deliver its header section within this many ms of its first
   * byte, or it is reset with H3_REQUEST_REJECTED: a slow-loris peer trickling HEADERS
   * holds nothing for long (default 10 000). The QUIC handshake itself is bounded by the
   * QUIC idle timeout (`quic.maxIdleTimeout`, 30 s).
   */
  handshakeTimeout?: number;
  /**
   * A connection with no request or WebSocket open for this many ms gets GOAWAY and
   * closes (default 60 000; 0: never). QUIC's own idle timeout cannot do this for a peer
   * that keeps the connection alive with PINGs.
   */
  keepAliveTimeout?: number;
}

export interface H3Listener {
  readonly port: number;
  readonly hosts: readonly string[];
  /** wss://localhost:port (the generated certificates name localhost). */
  readonly url: string;
  readonly registry: SessionRegistry;
  /** Live HTTP/3 connections. */
  readonly connections: ReadonlySet<H3Connection>;
  /** Send GOAWAY on every connection: they finish their requests and close. New ones are accepted. */
  goaway(): void;
  /** GOAWAY, close WebSockets with 1001 (grace, then abort), close connections and sockets. */
  close(): Promise<void>;
}

const DEFAULT_MAX_REQUEST_BODY = 1024 * 1024;

function noop(): void {}

function headerString(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(', ');
}

function requestInfo(stream: H3Stream, headers: H3Headers): RequestInfo {
  const path = headerString(headers[':path']) ?? '/';
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) fields[k] = v;
  const q = stream.connection.quic;
  return {
    http: '3',
    method: headerString(headers[':method']) ?? 'GET',
    path,
    pathname: pathnameOf(path),
    authority: headerString(headers[':authority']),
    headers: fields,
    secure: true,
    remoteAddress: q.remoteAddress,
    remotePort: q.remotePort,
  };
}

/**
 * Answer a request stream with a complete response (HEADERS, DATA, FIN) and stop reading
 * what is left of the request (with `stopCode`). `head` sends no body.
 */
export function respondH3(
  stream: H3Stream,
  res: HttpResponse,
  head = false,
  stopCode: number = H3_NO_ERROR,
): void {
  if (stream.closed || stream.writableEnded) return;
  const body =
    res.body === undefined
      ? undefined
      : typeof res.body === 'string'
        ? Buffer.from(res.body, 'utf8')
        : res.body;
  const fields: Header[] = [[':status', String(res.status)]];
  let hasLength = false;
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    const name = k.toLowerCase();
    // HTTP/3 forbids these (RFC 9114 §4.2); a route's h1-minded headers must not break the answer
    if (name.startsWith(':') || isConnectionSpecific(name)) continue;
    if (name === 'content-length') hasLength = true;
    fields.push([name, String(v)]);
  }
  if (body !== undefined && !hasLength) fields.push(['content-length', String(body.length)]);
  try {
    if (body === undefined || head || body.length === 0) {
      stream.sendHeaders(fields, true);
    } else {
      stream.sendHeaders(fields);
      stream.sendData(body, true);
    }
  } catch {
    // an invalid header from a route, or one over the peer's field section limit
    try {
      stream.sendHeaders([[':status', '500']], true);
    } catch {
      stream.reset(H3_MESSAGE_ERROR);
      return;
    }
  }
  // RFC 9114 §4.1: "When the server does not need to receive the remainder of the
  // request, it MAY abort reading the request stream … The error code H3_NO_ERROR SHOULD
  // be used when requesting that the client stop sending on the request stream."
  stream.stopReading(stopCode);
}

function statusResponse(status: number, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
    body: `${STATUS_CODES[status] ?? ''}\n`,
  };
}

/**
 * A standalone HTTP/3 server for WebSockets (RFC 9220) and buffered HTTP/3 responses.
 * `omniws serve --tls` runs it next to the TCP listener, on the same port number.
 */
export async function listenH3(opts: H3ListenOptions): Promise<H3Listener> {
  const registry = new SessionRegistry();
  // `handle`: every request but a plain CONNECT or another :protocol reaches it
  const ctx = opts.handle ? createHandleContext(opts, registry) : undefined;
  const connections = new Set<H3Connection>();
  const enableConnect = hasRoutes(opts);
  const maxBody = opts.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY;
  let closing = false;
  let goingAway = false;
  // WebSockets open or being decided (route, validation) count against maxConnections
  let pending = 0;
  const maxConnections = opts.maxConnections ?? Number.POSITIVE_INFINITY;

  const handleWebSocket = async (
    stream: H3Stream,
    fields: Header[],
    info: RequestInfo,
  ): Promise<void> => {
    let decision: Awaited<ReturnType<typeof resolveRoute>>;
    try {
      decision = await resolveRoute(opts, info);
    } catch (err) {
      const res = decisionFailed(opts, err);
      if (!stream.closed) respondH3(stream, statusResponse(res.status, res.headers));
      return;
    }
    if (stream.closed) return;
    if (decision === undefined) {
      respondH3(stream, statusResponse(404));
      return;
    }
    if (isHttpResponse(decision)) {
      respondH3(stream, decision);
      return;
    }
    const result = validateH3Request(fields, negotiationFor(opts, decision));
    if (!result.ok) {
      respondH3(stream, statusResponse(result.status, result.headers));
      return;
    }
    if (closing) {
      respondH3(stream, statusResponse(503));
      return;
    }
    stream.sendHeaders([
      [':status', '200'],
      ...Object.entries(result.responseHeaders).map(([k, v]): Header => [k, v]),
    ]);
    stream.becomeTunnel();
    registry.start(new H3Transport(stream), opts, decision, info, result.info);
  };

  const handlePlain = (stream: H3Stream, info: RequestInfo): void => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    const answer = async () => {
      const head = info.method === 'HEAD';
      let res: HttpResponse;
      try {
        if (opts.onRequest) {
          res = await opts.onRequest({ ...info, body: Buffer.concat(chunks, size) });
        } else if (opts.routes?.[info.pathname] !== undefined) {
          // a WebSocket endpoint, asked without extended CONNECT
          res = statusResponse(405, { allow: 'CONNECT' });
        } else {
          res = statusResponse(404);
        }
      } catch (err) {
        opts.onError?.(err as Error);
        res = statusResponse(500);
      }
      respondH3(stream, res, head);
    };
    stream.setSink({
      onHeaders: noop, // trailers: nothing of ours reads them
      onData(chunk) {
        if (done) return;
        size += chunk.length;
        if (size > maxBody) {
          done = true;
          respondH3(stream, statusResponse(413));
          return;
        }
        chunks.push(chunk);
      },
      onEnd() {
        if (done) return;
        done = true;
        answer().catch(noop);
      },
      onAbort() {
        done = true;
      },
      onDrain: noop,
      onClose: noop,
    });
  };

  const onRequest = (stream: H3Stream, fields: Header[]): void => {
    const check = checkH3Request(fields);
    if (!check.ok) {
      // RFC 9114 §4.1.2: malformed → stream error H3_MESSAGE_ERROR; a response may go first
      const res = { ...statusResponse(400), body: `malformed request: ${check.error}\n` };
      respondH3(stream, res, false, H3_MESSAGE_ERROR);
      return;
    }
    const info = requestInfo(stream, check.headers);
    const kind = classifyH3Request(check.headers);
    if (ctx && (kind === 'websocket' || info.method !== 'CONNECT')) {
      serveH3Request(stream, check.headers, fields, ctx).catch((err: unknown) => {
        opts.onError?.(err as Error);
        stream.reset(H3_MESSAGE_ERROR);
      });
      return;
    }
    if (kind === 'websocket') {
      if (!enableConnect) {
        // RFC 8441 §3 (RFC 9220 §3): :protocol without our SETTINGS_ENABLE_CONNECT_PROTOCOL
        // is a malformed request
        respondH3(stream, statusResponse(400), false, H3_MESSAGE_ERROR);
        return;
      }
      if (closing) {
        respondH3(stream, statusResponse(503));
        return;
      }
      if (registry.sessions.size + pending >= maxConnections) {
        const res = statusResponse(503, { 'retry-after': '1' });
        respondH3(stream, { ...res, body: 'too many WebSocket connections' });
        return;
      }
      pending++;
      handleWebSocket(stream, fields, info)
        .catch((err: unknown) => {
          opts.onError?.(err as Error);
          stream.reset(H3_MESSAGE_ERROR);
        })
        .finally(() => pending--);
      return;
    }
    if (info.method === 'CONNECT') {
      // another :protocol (RFC 8441 §4: an error status, 501 customary), or a plain
      // CONNECT tunnel: we are not a proxy
      respondH3(stream, statusResponse(501));
      return;
    }
    handlePlain(stream, info);
  };

  const keepAliveTimeout = opts.keepAliveTimeout ?? 60_000;
  const hosts = opts.hosts ?? (opts.host !== undefined ? [opts.host] : undefined);
  const quic: QuicServer = await listenQuic({
    ...(hosts && { hosts }),
    port: opts.port ?? 0,
    cert: opts.cert,
    key: opts.key,
    alpn: ['h3'],
    internalErrorCode: 0x0102, // H3_INTERNAL_ERROR
    ...(opts.quic && { settings: opts.quic }),
    ...(opts.retry !== undefined && { retry: opts.retry }),
    ...(opts.retryAbove !== undefined && { retryAbove: opts.retryAbove }),
    onConnection(q) {
      // an idle connection (no stream open for keepAliveTimeout) is sent away
      const idle = idleCloser(keepAliveTimeout, () => {
        if (h3.streamCount === 0) h3.goaway();
      });
      const h3: H3Connection = new H3Connection(
        q,
        {
          role: 'server',
          enableConnectProtocol: enableConnect,
          maxFieldSectionSize: opts.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE,
          requestHeadTimeout: opts.handshakeTimeout ?? 10_000,
        },
        {
          onRequest,
          onStreamError: (err) => opts.onError?.(err),
          onIdle() {
            // RFC 9114 §5.2: after GOAWAY, close once the requests in flight are done
            if (h3.goingAway) h3.quic.closeWhenFlushed(H3_NO_ERROR);
            else idle.start();
          },
          onClose() {
            idle.stop();
            connections.delete(h3);
          },
        },
      );
      idle.start();
      connections.add(h3);
      if (goingAway || closing) h3.goaway();
      return h3;
    },
  });

  return {
    port: quic.port,
    hosts: quic.hosts,
    url: `wss://localhost:${quic.port}`,
    registry,
    connections,
    goaway() {
      for (const c of connections) c.goaway();
    },
    async close() {
      if (closing) return;
      closing = true;
      goingAway = true;
      if (ctx) shutdownLoops(ctx);
      quic.stopAccepting();
      for (const c of connections) c.goaway();
      await registry.shutdown(opts.shutdownTimeout ?? 5000);
      // connections close themselves once idle (GOAWAY sent); wait a little for that
      const idle = [...connections].map((c) => c.whenClosed());
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(idle),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, 1000);
        }),
      ]);
      clearTimeout(timer);
      await quic.close(H3_NO_ERROR, 500);
    },
  };
}
