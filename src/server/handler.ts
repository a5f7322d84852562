// The request handler in front of the engine (after roadrunner_handler): one function
// sees every request, on HTTP/1.1, HTTP/2 and HTTP/3 alike, and says what goes on the
// wire. A WebSocket is one of its answers; a 401 with www-authenticate is another.
//
// This file owns the types and the constructors of answers, and the checks every
// answer's headers pass before any byte is written (src/http/respond.ts writes them,
// src/http/h1.ts, h2.ts, h3.ts carry them). Header names are lower-case tokens on every
// version, because HTTP/2 and HTTP/3 require it (RFC 9113 §8.2.1, RFC 9114 §4.2): a
// name that is not is an error, never silently rewritten.

import type { WtCloseInfo, WtSession, WtSessionLimits } from '../h3/wt-session.js';
import type { WtStream } from '../h3/wt-stream.js';
import { WebSocketError } from '../ws/errors.js';
import { isConnectionSpecific } from '../ws/extended-connect.js';
import type { Handler, Result } from '../ws/handler.js';
import type { NegotiationOptions } from '../ws/negotiate.js';
import type { SessionOptions } from '../ws/session.js';
import type { HttpVersion } from '../ws/transport.js';

/** What a route decision sees of the request, on any HTTP version. */
export interface RequestInfo {
  readonly http: HttpVersion;
  readonly method: string;
  /** Path and query, as requested. */
  readonly path: string;
  readonly pathname: string;
  readonly authority: string | undefined;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly secure: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/** A WebSocket endpoint: the handler, its initial state, and per-route settings. */
export interface WebSocketRoute<S = any> extends NegotiationOptions, SessionOptions {
  handler: Handler<S>;
  /** Initial state (shared by reference between connections: use createState for objects). */
  state?: S;
  /** Fresh initial state per connection. */
  createState?: (req: RequestInfo) => S;
}

/** An HTTP answer instead of an upgrade (e.g. 401 + www-authenticate), as `route()` gives it. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** A request target as a Request carries it: as requested, without its query, the query parsed. */
export function targetOf(path: string): {
  path: string;
  pathname: string;
  query: URLSearchParams;
} {
  const q = path.indexOf('?');
  return q < 0
    ? { path, pathname: path, query: new URLSearchParams() }
    : { path, pathname: path.slice(0, q), query: new URLSearchParams(path.slice(q + 1)) };
}

/** The first value of a field that may have come more than once. */
export function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** What the handler learns about a TLS connection (undefined on plain TCP). */
export interface TlsInfo {
  /** 'TLSv1.3', 'TLSv1.2'. */
  readonly protocol: string | undefined;
  /** The ALPN protocol: 'h2', 'http/1.1', 'h3', or undefined when none was negotiated. */
  readonly alpn: string | undefined;
  readonly cipher: string | undefined;
  /** The SNI name the client asked for. */
  readonly servername: string | undefined;
  /**
   * The request arrived in 0-RTT data, before the handshake completed (HTTP/3 with
   * `quic.earlyData`): it may be a replay (RFC 8470). Only requests safe to replay are
   * handed over this early; `unsafeEarlyData` says what happens to the others.
   */
  readonly earlyData?: boolean;
}

/**
 * A request body. Read it once, whole (`buffer`, `text`, `json`: with a size limit) or as
 * a stream (`for await (const chunk of req.body)`: reading more is what lets the peer send
 * more). A body nobody read is drained (up to a bound) or refused once the response is
 * complete. An upgrade request (h1 Upgrade, h2/h3 extended CONNECT) has an empty body:
 * what follows it belongs to the WebSocket.
 */
export interface BodyReader extends AsyncIterable<Uint8Array> {
  /** The announced content-length, if there was one. */
  readonly length: number | undefined;
  /** Bytes received so far. */
  readonly received: number;
  /** Whether the whole body has arrived (it may not have been read yet). */
  readonly complete: boolean;
  /**
   * The whole body. Above `limit` bytes (default: the server's `maxRequestBody`, 1 MiB)
   * it rejects with HTTP_ERR_BODY_TOO_LARGE (status 413): a handler that lets it
   * propagate answers 413.
   */
  buffer(limit?: number): Promise<Buffer>;
  text(limit?: number): Promise<string>;
  json(limit?: number): Promise<unknown>;
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
}

/** A request, on any HTTP version. */
export interface Request extends RequestInfo {
  /** The query string, parsed. */
  readonly query: URLSearchParams;
  /**
   * Whether the request asks for a WebSocket: an HTTP/1.1 `Upgrade: websocket` (with
   * `Connection: Upgrade`), or an extended CONNECT with `:protocol websocket` on h2/h3.
   * Only then can `websocket(…)` be the answer.
   */
  readonly upgrade: boolean;
  /**
   * The `:protocol` of an extended CONNECT that is not a WebSocket's: 'webtransport' on
   * an HTTP/3 server with WebTransport on (then `webtransport(…)` may be the answer).
   */
  readonly protocol?: string;
  /**
   * WebTransport: the application protocols the client offers (WT-Available-Protocols),
   * in its order of preference; `webtransport(…, { protocol })` picks one.
   */
  readonly protocols?: readonly string[];
  readonly tls: TlsInfo | undefined;
  readonly body: BodyReader;
}

/**
 * Response header fields: lower-case token names; values without CR, LF or NUL. An
 * array sends the field once per value (set-cookie).
 */
export type ResponseHeaders = Readonly<Record<string, string | number | readonly string[]>>;

/** Checked response fields: lower-case names, string values. */
export type HeaderMap = Record<string, string | string[]>;

/** A complete body at once. The plain `{ status, headers, body }` shape is one too. */
export interface BufferedResponse {
  readonly type?: 'buffered';
  readonly status: number;
  readonly headers?: ResponseHeaders | undefined;
  readonly body?: string | Uint8Array | undefined;
}

/** How a `send` leaves the stream: more to come, the end, or the end with trailer fields. */
export type Fin = 'nofin' | 'fin' | { readonly fin: ResponseHeaders };

/**
 * Sends one chunk of a streamed response. Resolves once more may be sent (at once, or
 * after the transport drained); rejects with HTTP_ERR_ABORTED when the peer went away.
 */
export type Send = (data: string | Uint8Array, fin?: Fin) => Promise<void>;

/**
 * Headers now, then the body as `produce` sends it: chunked (with trailers) on HTTP/1.1,
 * DATA frames (and a trailing HEADERS) on h2/h3. When `produce` returns without a 'fin',
 * the response ends there; when it throws, the response is cut off (h1: the connection
 * closes; h2: RST_STREAM INTERNAL_ERROR; h3: the stream is reset) so the peer cannot take
 * it for complete.
 */
export interface StreamResponse {
  readonly type: 'stream';
  readonly status: number;
  readonly headers?: ResponseHeaders | undefined;
  readonly produce: (send: Send) => void | Promise<void>;
}

/**
 * A file, or a range of it. `content-length` is added when the headers lack it;
 * `content-type` is the handler's to set. A file that does not exist answers 404.
 */
export interface FileResponse {
  readonly type: 'file';
  readonly status: number;
  readonly headers?: ResponseHeaders | undefined;
  readonly path: string;
  /** First byte (default 0). */
  readonly offset?: number | undefined;
  /** Bytes to send (default: to the end of the file). */
  readonly length?: number | undefined;
}

/** Pushes a chunk of a loop response; false once the transport is above its high-water mark. */
export type Push = (data: string | Uint8Array) => boolean;

/** Why a loop response ended: its handler stopped, the peer left, the server shut down, an error. */
export interface LoopEnd {
  readonly kind: 'normal' | 'remote' | 'shutdown' | 'error';
  readonly error?: Error;
}

/** What drives a loop response: one call per posted info, in order, until it returns stop. */
export interface LoopHandler<S> {
  /** `ok(state)` to go on, `stop(state)` to end the response (after what was pushed). */
  handleInfo(info: unknown, push: Push, state: S): Result<S> | Promise<Result<S>>;
  /** Exactly once, when the response is over for any reason (unsubscribe here). */
  terminate?(reason: LoopEnd, state: S): void;
}

/**
 * Message-driven streaming (server-sent events, long-poll): the headers go out, then
 * every `post(info)` reaches `handler.handleInfo`, which pushes chunks, until it returns
 * `stop`. Infos posted before the response started wait for it. Make one with `loop()`.
 */
export interface LoopResponse<S = any> {
  readonly type: 'loop';
  readonly status: number;
  readonly headers?: ResponseHeaders | undefined;
  readonly state: S;
  readonly handler: LoopHandler<S>;
  /** Deliver `info` to handleInfo. False when the loop is over or 1024 infos are waiting. */
  post(info: unknown): boolean;
}

/** Options of a WebSocket answer: the route settings, plus headers for the 101 / 200. */
export interface WebSocketAnswerOptions<S = any>
  extends Omit<WebSocketRoute<S>, 'handler' | 'state'> {
  headers?: ResponseHeaders;
}

/** Accept the upgrade (h1 101, h2/h3 200 to extended CONNECT) and run `route` on it. */
export interface WebSocketResponse<S = any> {
  readonly type: 'websocket';
  readonly route: WebSocketRoute<S>;
  readonly headers?: ResponseHeaders | undefined;
}

/** A WebTransport session's callbacks (each may be left out). */
export interface WebTransportHandler<S = unknown> {
  /** The session is open (the 200 is on its way): open streams, send datagrams. */
  init?(session: WtSession, req: Request, state: S): void;
  /** The peer opened a stream: `stream.setSink()` reads it; a bidirectional one is answered on. */
  handleStream?(stream: WtStream, session: WtSession, state: S): void;
  handleDatagram?(data: Uint8Array, session: WtSession, state: S): void;
  /** The peer sent DRAIN_WEBTRANSPORT_SESSION. */
  handleDrain?(session: WtSession, state: S): void;
  /** The session ended (exactly once): how, and who ended it. */
  terminate?(info: WtCloseInfo, session: WtSession, state: S): void;
}

/** The answer that accepts a WebTransport session. */
export interface WebTransportResponse<S = any> {
  readonly type: 'webtransport';
  readonly handler: WebTransportHandler<S>;
  readonly state: S;
  readonly limits: WtSessionLimits;
  readonly headers?: ResponseHeaders | undefined;
  /** The application protocol chosen from `req.protocols` (WT-Protocol). */
  readonly protocol?: string | undefined;
}

/**
 * Every answer a request handler can give: buffered, streamed, a file, a loop, a
 * WebSocket, or a WebTransport session (HTTP/3).
 */
export type Response =
  | BufferedResponse
  | StreamResponse
  | FileResponse
  | LoopResponse
  | WebSocketResponse
  | WebTransportResponse;

/**
 * Decides what a request gets. `undefined` means "not mine": an attached server leaves
 * the request to the server's other listeners (or answers 404 when there are none).
 */
export type RequestHandler = (req: Request) => Response | undefined | Promise<Response | undefined>;

// ── constructors ────────────────────────────────────────────────────────────

/** A response with its whole body at once; throws for a bad status or header. */
export function buffered(
  status: number,
  headers: ResponseHeaders = {},
  body?: string | Uint8Array,
): BufferedResponse {
  checkStatus(status);
  checkHeaders(headers);
  return body === undefined
    ? { type: 'buffered', status, headers }
    : { type: 'buffered', status, headers, body };
}

/**
 * A response whose body `produce` sends in chunks (trailers with the last); throws for a bad status
 * or header.
 */
export function stream(
  status: number,
  headers: ResponseHeaders,
  produce: (send: Send) => void | Promise<void>,
): StreamResponse {
  checkStatus(status);
  checkHeaders(headers);
  return { type: 'stream', status, headers, produce };
}

/** A response serving a file or a byte range of it; throws for a bad status, header or range. */
export function file(
  status: number,
  headers: ResponseHeaders,
  range: { path: string; offset?: number; length?: number },
): FileResponse {
  checkStatus(status);
  checkHeaders(headers);
  const { path, offset, length } = range;
  for (const [k, v] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0)) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `file ${k} must be a byte count, not ${v}`,
      );
    }
  }
  return { type: 'file', status, headers, path, offset, length };
}

/** Infos waiting for a loop beyond which `post` refuses. */
export const MAX_LOOP_QUEUE = 1024;

/** @internal The loop's mailbox, bound to a response writer by respond(). */
export interface Mailbox {
  queue: unknown[];
  ended: boolean;
  wake: (() => void) | null;
}

export const MAILBOX: unique symbol = Symbol('omniws.loop.mailbox');

/** A response driven by posted infos: `handler.handleInfo` pushes chunks until it returns stop. */
export function loop<S>(
  status: number,
  headers: ResponseHeaders,
  state: S,
  handler: LoopHandler<S>,
): LoopResponse<S> {
  checkStatus(status);
  checkHeaders(headers);
  const box: Mailbox = { queue: [], ended: false, wake: null };
  return {
    type: 'loop',
    status,
    headers,
    state,
    handler,
    post(info) {
      if (box.ended || box.queue.length >= MAX_LOOP_QUEUE) return false;
      box.queue.push(info);
      box.wake?.();
      return true;
    },
    [MAILBOX]: box,
  } as LoopResponse<S>;
}

export function mailboxOf(res: LoopResponse): Mailbox {
  const box = (res as LoopResponse & { [MAILBOX]?: Mailbox })[MAILBOX];
  if (!box) {
    throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'make loop responses with loop()');
  }
  return box;
}

/** Answer with a WebSocket: `handler` runs on it from `state` (the WebSocketRoute settings in `opts`). */
export function websocket<S>(
  handler: Handler<S>,
  state: S,
  opts: WebSocketAnswerOptions<S> = {},
): WebSocketResponse<S> {
  const { headers, ...route } = opts;
  if (headers) checkHeaders(headers);
  return { type: 'websocket', route: { ...route, handler, state }, headers };
}

// ── checks ──────────────────────────────────────────────────────────────────

// RFC 9110 §5.6.2 token characters, lower case only (RFC 9113 §8.2.1: "field names MUST
// be converted to lowercase"; RFC 9114 §4.2 likewise)
const NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
// RFC 9110 §5.5: CR, LF and NUL are never allowed in a field value
const BAD_VALUE = /[\r\n\0]/;

function invalidHeader(message: string): WebSocketError {
  return new WebSocketError('HTTP_ERR_INVALID_HEADER', message);
}

export function checkStatus(status: number): void {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new WebSocketError(
      'WS_ERR_INVALID_ARGUMENT',
      `response status must be an integer from 200 to 599, not ${status}`,
    );
  }
}

/**
 * Check response fields and return them as strings. Throws HTTP_ERR_INVALID_HEADER for a
 * name that is not a lower-case token, a value with CR/LF/NUL, and (with `http` 2 or 3)
 * a connection-specific field.
 */
export function checkHeaders(headers: ResponseHeaders | undefined, http?: HttpVersion): HeaderMap {
  const out: HeaderMap = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (!NAME.test(name)) {
      const hint =
        /^[!-~]+$/.test(name) && NAME.test(name.toLowerCase())
          ? ` (use "${name.toLowerCase()}": HTTP/2 and HTTP/3 require lower-case names)`
          : '';
      throw invalidHeader(`invalid response header name ${JSON.stringify(name)}${hint}`);
    }
    if (http !== undefined && http !== '1.1' && isConnectionSpecific(name)) {
      throw invalidHeader(
        `"${name}" is connection-specific: HTTP/${http} forbids it (RFC ${http === '2' ? '9113 §8.2.2' : '9114 §4.2'})`,
      );
    }
    if (Array.isArray(value)) {
      const list: string[] = [];
      for (const v of value as readonly unknown[]) list.push(checkValue(name, v));
      out[name] = list;
    } else {
      out[name] = checkValue(name, value);
    }
  }
  return out;
}

function checkValue(name: string, v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') {
    throw invalidHeader(`response header "${name}" must be a string or a number`);
  }
  const s = String(v);
  if (BAD_VALUE.test(s)) throw invalidHeader(`response header "${name}" contains CR, LF or NUL`);
  return s;
}

/** The body of a buffered response as bytes. */
export function bodyBytes(body: string | Uint8Array | undefined): Uint8Array | undefined {
  return body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
}
