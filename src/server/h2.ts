// The request handler on HTTP/2 (node:http2 streams): a stream and its request HEADERS
// become a Request; the ServerHttp2Stream is the ResponseWriter. Streamed responses
// are sent with `waitForTrailers`, so their end is a trailing HEADERS frame when there
// are trailers and an empty DATA frame with END_STREAM when there are none; files go
// out with `respondWithFD` (node reads them in C++ into DATA frames, never through JS).
// An extended CONNECT with `:protocol websocket` becomes a WebSocket when the handler
// answers `websocket(…)`.
//
// A request body left unread when the response is complete is refused with
// RST_STREAM NO_ERROR (RFC 9113 §8.1: "A server can send a complete response prior to
// the client sending an entire request … the server MAY request that the client abort
// transmission of a request without error by sending a RST_STREAM with an error code of
// NO_ERROR after sending a complete response"). The same ends an extended CONNECT that
// was answered with something else than a WebSocket.

import type { FileHandle } from 'node:fs/promises';
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { H2Transport } from '../h2/transport.js';
import { classifyH2Request, validateH2Request } from '../h2/upgrade.js';
import { WebSocketError } from '../ws/errors.js';
import { Body, type BodySource, contentLength } from './body.js';
import type { HandleContext } from './context.js';
import { type Exchange, serveExchange } from './exchange.js';
import { firstValue, type HeaderMap, type Request, type TlsInfo, targetOf } from './handler.js';
import {
  type BodyMode,
  DEFAULT_MAX_REQUEST_BODY,
  type ResponseWriter,
  WriterState,
} from './respond.js';

const { HTTP2_HEADER_STATUS, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = constants;

function noop(): void {}

function tlsInfo(stream: ServerHttp2Stream): TlsInfo | undefined {
  const session = stream.session;
  if (session?.encrypted !== true) return undefined;
  // the session's socket is a proxy that forwards reads of the TLS socket
  const s = session.socket as TLSSocket;
  return {
    protocol: s.getProtocol?.() ?? undefined,
    alpn: session.alpnProtocol || undefined,
    cipher: s.getCipher?.()?.name,
    servername: (s as TLSSocket & { servername?: string | false }).servername || undefined,
  };
}

/** A stream's request as the handler sees it (pseudo-headers become fields of their own). */
export function h2Request(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  body: Body,
  upgrade: boolean,
): Request {
  const path = firstValue(headers[':path']) ?? '/';
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined && !k.startsWith(':')) fields[k] = v;
  }
  const socket = stream.session?.socket;
  return {
    http: '2',
    method: firstValue(headers[':method']) ?? 'GET',
    ...targetOf(path),
    authority: firstValue(headers[':authority']),
    headers: fields,
    secure: stream.session?.encrypted === true,
    remoteAddress: socket?.remoteAddress,
    remotePort: socket?.remotePort,
    upgrade,
    tls: tlsInfo(stream),
    body,
  };
}

function bodyOf(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, maxBody: number): Body {
  if (stream.endAfterHeaders) return new Body(null, 0, maxBody);
  const source: BodySource = {
    start(sink) {
      stream.on('data', (chunk: Buffer) => sink.data(chunk));
      stream.on('end', () => sink.end());
      stream.on('close', () => {
        if (!stream.readableEnded) sink.error(new Error('the stream closed before the body ended'));
      });
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
  };
  return new Body(source, contentLength(headers['content-length']), maxBody);
}

/** The ResponseWriter of HTTP/2: one ServerHttp2Stream. */
class H2Writer extends WriterState implements ResponseWriter {
  readonly http = '2' as const;
  readonly #stream: ServerHttp2Stream;
  readonly #body: Body;
  /** An extended CONNECT answered without a WebSocket: what the client sends is not for us. */
  readonly #tunnel: boolean;
  #mode: BodyMode = 'empty';
  #trailers: HeaderMap | undefined;

  constructor(stream: ServerHttp2Stream, body: Body, tunnel: boolean) {
    super();
    this.#stream = stream;
    this.#body = body;
    this.#tunnel = tunnel;
    stream.on('error', noop); // a peer's reset while we answer must not crash the process
    stream.on('drain', () => this.wakeDrain());
    stream.on('close', () => this.peerGone());
    if (stream.destroyed || stream.closed) this.abortNow();
  }

  head(status: number, headers: HeaderMap, mode: BodyMode): void {
    if (this.aborted) return;
    this.#mode = mode;
    const s = this.#stream;
    s.respond(
      { ...headers, [HTTP2_HEADER_STATUS]: status },
      { endStream: mode === 'empty', waitForTrailers: mode === 'stream' },
    );
    if (mode === 'stream') {
      s.once('wantTrailers', () => {
        // no trailers: node ends the stream with an empty DATA frame and END_STREAM
        s.sendTrailers(this.#trailers ?? {});
        this.#afterEnd();
      });
    } else if (mode === 'body') {
      s.once('finish', () => this.#afterEnd());
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.ended) return false;
    return this.#stream.write(chunk);
  }

  drained(): Promise<void> {
    return this.waitDrain(this.#stream.writableNeedDrain);
  }

  end(trailers?: HeaderMap): void {
    if (this.ended || this.aborted) return;
    if (trailers !== undefined && Object.keys(trailers).length > 0 && this.#mode !== 'stream') {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'trailers end only a streamed response');
    }
    this.ended = true;
    this.#trailers = trailers;
    if (this.#mode === 'empty') this.#afterEnd();
    else this.#stream.end();
    this.wakeDrain();
  }

  /** The response is complete: refuse the rest of an unread body (RST_STREAM NO_ERROR). */
  #afterEnd(): void {
    if (this.#body.complete && !this.#tunnel) return;
    const s = this.#stream;
    // after the frames just queued have gone out (node sends pending data before a reset)
    setImmediate(() => {
      if (!s.closed && !s.destroyed) s.close(NGHTTP2_NO_ERROR);
    });
  }

  abort(): void {
    if (!this.abortNow()) return;
    if (!this.#stream.destroyed) this.#stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  sendFile(
    status: number,
    headers: HeaderMap,
    file: FileHandle,
    offset: number,
    length: number,
  ): Promise<boolean> {
    // respondWithFD says nothing when the last byte left, so an unread body (which needs
    // a reset after the response) takes the read loop instead
    if (!this.#body.complete || this.#tunnel || this.aborted) return Promise.resolve(false);
    this.ended = true;
    const s = this.#stream;
    return new Promise((resolve, reject) => {
      s.once('close', () => resolve(true));
      try {
        s.respondWithFD(file, { ...headers, [HTTP2_HEADER_STATUS]: status }, { offset, length });
      } catch (err) {
        this.ended = false;
        reject(err);
      }
    });
  }
}

/** One HTTP/2 stream as an exchange. */
export function h2Exchange(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  ctx: HandleContext,
): Exchange {
  stream.on('error', noop);
  const upgrade = classifyH2Request(headers) === 'websocket';
  const maxBody = ctx.opts.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY;
  // an extended CONNECT's DATA belong to the WebSocket it may become: never read them here
  const body = upgrade ? new Body(null, 0, maxBody) : bodyOf(stream, headers, maxBody);
  const request = h2Request(stream, headers, body, upgrade);
  let w: H2Writer | undefined;
  const writer = () => {
    w ??= new H2Writer(stream, body, upgrade);
    return w;
  };
  return {
    request,
    writer,
    validate: (terms) => validateH2Request(headers, terms),
    open: (route, accepted, extra) => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ...extra, ...accepted.responseHeaders, [HTTP2_HEADER_STATUS]: 200 });
      const transport = new H2Transport(stream, request.secure);
      ctx.registry.start(transport, ctx.opts, route, request, accepted.info);
    },
  };
}

/** Serve one HTTP/2 stream through the handler; `decline` may hand it on. */
export function serveH2Stream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  ctx: HandleContext,
  decline: () => boolean,
): Promise<void> {
  return serveExchange(h2Exchange(stream, headers, ctx), ctx, decline);
}
