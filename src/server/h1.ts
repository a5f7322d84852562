// The request handler on HTTP/1.1 (node:http / node:https, and the HTTP/1.1 side of a
// node:http2 server with allowHTTP1): requests from the server's 'request' event and
// upgrades from its 'upgrade' event become one Request; a ServerResponse is the
// ResponseWriter (Node writes the status line, chunked encoding and trailers). An
// upgrade answered with anything but a WebSocket gets the same ServerResponse over its
// raw socket, then the connection closes.
//
// A request body the handler did not read is drained, up to MAX_BODY_DRAIN bytes, so the
// connection can serve the next request; beyond that the connection closes after the
// response (which says `connection: close` when the announced length was already beyond
// it when the head went out). Closing while the peer still sends would make the kernel answer with a TCP
// RST that can destroy the response before the peer read it, so we close the way
// RFC 9112 §9.6 asks: our side first (FIN), then read and drop what keeps arriving for
// a while (LINGER_MS) before the socket goes.

import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { H1Transport } from '../h1/transport.js';
import { validateH1Request } from '../h1/upgrade.js';
import { WebSocketError } from '../ws/errors.js';
import { hasToken, headerValue } from '../ws/headers.js';
import { statusResponse } from './answers.js';
import { Body, type BodySource, contentLength } from './body.js';
import type { HandleContext } from './context.js';
import { type Exchange, serveExchange, writeAnswer } from './exchange.js';
import { type HeaderMap, type Request, type TlsInfo, targetOf } from './handler.js';
import {
  type BodyMode,
  DEFAULT_MAX_REQUEST_BODY,
  type ResponseWriter,
  WriterState,
} from './respond.js';

/** Unread request body bytes drained to keep a connection; beyond them it closes. */
export const MAX_BODY_DRAIN = 1024 * 1024;
/** How long a closing connection keeps reading (and dropping) what its peer still sends. */
export const LINGER_MS = 2000;

function noop(): void {}

function tlsInfo(socket: Socket): TlsInfo | undefined {
  const s = socket as TLSSocket;
  if (s.encrypted !== true) return undefined;
  return {
    protocol: s.getProtocol?.() ?? undefined,
    alpn: s.alpnProtocol || undefined,
    cipher: s.getCipher?.()?.name,
    servername: (s as TLSSocket & { servername?: string | false }).servername || undefined,
  };
}

/** node:http's limit on a request head's fields when the server sets none. */
const DEFAULT_MAX_HEADERS_COUNT = 1000;

/**
 * The number of header fields node:http takes from a request head on `server`: its
 * `maxHeadersCount`, else node's default (1000 fields: 2000 name/value entries); 0 means
 * no limit.
 */
export function headFieldLimit(server: object): number {
  const n = (server as { maxHeadersCount?: number | null }).maxHeadersCount;
  return typeof n === 'number' ? n : DEFAULT_MAX_HEADERS_COUNT;
}

/**
 * Whether node:http dropped fields of this request head. Node 20's node:http keeps the
 * first `limit` fields in `req.headers` and drops the rest unseen, while its parser still
 * acts on them; Node 22.23 and 24.22 (measured) refuse such a head with 431 before any
 * listener runs. RFC 9110 §5.4: a server that will not process a request's fields MUST
 * answer with a 4xx, as ignoring them invites request smuggling. So on every version a
 * head beyond the limit is a 431: where node:http let it through, we answer it (its
 * `rawHeaders` still holds more than `limit` fields).
 */
function fieldsDropped(req: IncomingMessage, limit: number): boolean {
  return limit > 0 && req.rawHeaders.length > 2 * limit;
}

/** The answer to a head with more fields than the server takes. */
function tooManyFields() {
  return statusResponse(431, { connection: 'close' }, 'too many header fields\n');
}

/** A request of node:http as the handler sees it. */
export function h1Request(req: IncomingMessage, body: Body, upgrade: boolean): Request {
  const path = req.url ?? '/';
  const socket = req.socket;
  return {
    http: '1.1',
    method: req.method ?? 'GET',
    ...targetOf(path),
    authority: req.headers.host,
    headers: req.headers,
    secure: (socket as TLSSocket).encrypted === true,
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    upgrade,
    tls: tlsInfo(socket),
    body,
  };
}

function bodyOf(req: IncomingMessage, maxBody: number): Body {
  // RFC 9112 §6.3: without Transfer-Encoding or Content-Length a request has no content
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = chunked ? undefined : (contentLength(req.headers['content-length']) ?? 0);
  const source: BodySource = {
    start(sink) {
      req.on('data', (chunk: Buffer) => sink.data(chunk));
      req.on('end', () => sink.end());
      req.on('error', (err) => sink.error(err));
      req.on('close', () => {
        if (!req.complete) sink.error(new Error('the connection closed before the body ended'));
      });
    },
    pause: () => req.pause(),
    resume: () => req.resume(),
  };
  return new Body(source, length, maxBody);
}

/**
 * Close a connection whose peer may still be sending: FIN first, keep reading (the
 * caller drops what arrives), destroy once the peer ends, the body ends, or LINGER_MS.
 */
function lingerClose(socket: Socket, drop: () => Promise<unknown>): void {
  if (socket.destroyed) return;
  // node:http destroys a `connection: close` response's socket once it is flushed
  // (destroySoon); unread bytes would then turn into an RST that can destroy the response
  socket.removeListener('finish', socket.destroy);
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  const done = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  socket.once('end', done);
  socket.once('close', () => clearTimeout(timer));
  socket.end();
  drop().then(done, done);
}

/** The ResponseWriter of HTTP/1.1: a node:http ServerResponse. */
class H1Writer extends WriterState implements ResponseWriter {
  readonly http = '1.1' as const;
  readonly #res: ServerResponse;
  readonly #body: Body;
  readonly #socket: Socket;
  /** An upgrade request answered over its raw socket: the connection closes after. */
  readonly #raw: boolean;
  #closeAfter = false;
  #hasLength = false;

  constructor(res: ServerResponse, body: Body, socket: Socket, raw: boolean) {
    super();
    this.#res = res;
    this.#body = body;
    this.#socket = socket;
    this.#raw = raw;
    res.on('drain', () => this.wakeDrain());
    res.on('close', () => this.peerGone());
  }

  head(status: number, headers: HeaderMap, mode: BodyMode): void {
    const body = this.#body;
    // a body announced too large to drain, that the handler will not read: say so now
    if (!this.#raw && !body.complete && mode !== 'stream' && !body.touched) {
      if (body.length !== undefined && body.length - body.received > MAX_BODY_DRAIN) {
        this.#closeAfter = true;
      }
    }
    if (this.#closeAfter && headers.connection === undefined) {
      headers = { ...headers, connection: 'close' };
    }
    this.#hasLength = headers['content-length'] !== undefined;
    this.#res.writeHead(status, headers);
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.ended) return false;
    return this.#res.write(chunk);
  }

  drained(): Promise<void> {
    return this.waitDrain(this.#res.writableNeedDrain);
  }

  checkTrailers(trailers: HeaderMap): void {
    if (Object.keys(trailers).length > 0 && this.#hasLength) {
      throw new WebSocketError(
        'WS_ERR_INVALID_STATE',
        'HTTP/1.1 carries trailers only in chunked encoding: a response with trailers must not set content-length',
      );
    }
  }

  end(trailers?: HeaderMap): void {
    if (this.ended || this.aborted) return;
    const res = this.#res;
    if (trailers !== undefined && Object.keys(trailers).length > 0) {
      this.checkTrailers(trailers);
      res.addTrailers(trailers);
    }
    this.ended = true;
    const body = this.#body;
    if (this.#raw) {
      res.once('finish', () => lingerClose(this.#socket, () => Promise.resolve()));
    } else if (!body.complete) {
      if (this.#closeAfter) {
        res.once('finish', () =>
          lingerClose(this.#socket, () => body.discard(Number.POSITIVE_INFINITY)),
        );
      } else {
        // keep the connection if what is left of the body is small
        body.discard(MAX_BODY_DRAIN).then((ok) => {
          if (!ok) {
            const close = () =>
              lingerClose(this.#socket, () => body.discard(Number.POSITIVE_INFINITY));
            if (res.writableFinished) close();
            else res.once('finish', close);
          }
        });
      }
    }
    res.end();
    this.wakeDrain();
  }

  abort(): void {
    if (!this.abortNow()) return;
    this.#res.destroy();
    this.#socket.destroy();
  }
}

/**
 * Serve one node:http request through the handler; `decline` may hand it on. `maxFields`:
 * the server's field limit (headFieldLimit), beyond which the answer is 431.
 */
export function serveH1Request(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HandleContext,
  decline: () => boolean,
  maxFields: number,
): Promise<void> {
  const body = bodyOf(req, ctx.opts.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY);
  const request = h1Request(req, body, false);
  let w: H1Writer | undefined;
  const ex: Exchange = {
    request,
    writer: () => {
      w ??= new H1Writer(res, body, req.socket, false);
      return w;
    },
    // not an upgrade: serveExchange answers 426 before it gets to these
    validate: () => ({ ok: false, status: 426, error: 'not an upgrade' }),
    open: noop,
  };
  if (fieldsDropped(req, maxFields)) return writeAnswer(ex, ctx, tooManyFields());
  return serveExchange(ex, ctx, decline);
}

/** Whether an `upgrade` event asks for a WebSocket (not h2c or another protocol). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return hasToken(headerValue(req.headers.upgrade), 'websocket');
}

/**
 * Serve one node:http `upgrade` event through the handler; `decline` may hand it on.
 * `maxFields` as for serveH1Request.
 */
export function serveH1Upgrade(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  ctx: HandleContext,
  decline: () => boolean,
  maxFields: number,
): Promise<void> {
  socket.pause();
  socket.on('error', noop); // until the transport owns it: a reset must not crash the process
  const body = new Body(null, 0, 0);
  const request = h1Request(req, body, isWebSocketUpgrade(req));
  let w: H1Writer | undefined;
  const writer = () => {
    if (w === undefined) {
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket);
      w = new H1Writer(res, body, socket, true);
    }
    return w;
  };
  const ex: Exchange = {
    request,
    writer,
    validate: (terms) =>
      validateH1Request(
        {
          method: request.method,
          httpVersion: req.httpVersion,
          url: request.path,
          headers: req.headers,
        },
        terms,
      ),
    open: (route, accepted, extra) => {
      if (socket.destroyed) return;
      let response = 'HTTP/1.1 101 Switching Protocols\r\n';
      for (const [k, v] of Object.entries({ ...extra, ...accepted.responseHeaders })) {
        for (const one of Array.isArray(v) ? v : [v]) response += `${k}: ${one}\r\n`;
      }
      socket.write(`${response}\r\n`, 'latin1');
      socket.removeListener('error', noop);
      const transport = new H1Transport(socket, head, request.secure);
      ctx.registry.start(transport, ctx.opts, route, request, accepted.info);
    },
  };
  if (fieldsDropped(req, maxFields)) return writeAnswer(ex, ctx, tooManyFields());
  return serveExchange(ex, ctx, decline);
}
