// The request handler on our HTTP/3 (src/h3): a request stream and its checked header
// section become a Request; the H3Stream is the ResponseWriter: HEADERS, DATA frames, a
// trailing HEADERS for trailers, FIN. The request body comes from the stream's DATA
// frames; the reader pauses the stream above its high-water mark, so QUIC flow control
// holds the peer back. An extended CONNECT with `:protocol websocket` becomes a
// WebSocket when the handler answers `websocket(…)`.
//
// A body left unread when the response is complete (and an extended CONNECT answered
// with something else than a WebSocket) is refused with STOP_SENDING H3_NO_ERROR
// (RFC 9114 §4.1: "A server can send a complete response prior to the client sending an
// entire request if the response does not depend on any portion of the request that has
// not been sent and received. When the server does not need to receive the remainder of
// the request, it MAY abort reading the request stream, send a complete response, and
// cleanly close the sending part of the stream. The error code H3_NO_ERROR SHOULD be
// used when requesting that the client stop sending on the request stream.").

import { H3_INTERNAL_ERROR, H3_NO_ERROR, H3_REQUEST_CANCELLED } from '../h3/errors.js';
import type { Header } from '../h3/qpack.js';
import type { H3Stream } from '../h3/stream.js';
import { H3Transport, HIGH_WATER_MARK } from '../h3/transport.js';
import { classifyH3Request, type H3Headers, validateH3Request } from '../h3/upgrade.js';
import { Body, type BodySink, contentLength } from './body.js';
import type { HandleContext } from './context.js';
import { type Exchange, serveExchange } from './exchange.js';
import { firstValue, type HeaderMap, type Request, targetOf } from './handler.js';
import {
  type BodyMode,
  DEFAULT_MAX_REQUEST_BODY,
  type ResponseWriter,
  WriterState,
} from './respond.js';

function fieldsOf(headers: HeaderMap): Header[] {
  const out: Header[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) out.push([k, x]);
    else out.push([k, v]);
  }
  return out;
}

/** A request stream's request as the handler sees it. */
export function h3Request(
  stream: H3Stream,
  headers: H3Headers,
  body: Body,
  upgrade: boolean,
): Request {
  const path = firstValue(headers[':path']) ?? '/';
  const fields: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) fields[k] = v;
  const quic = stream.connection.quic;
  return {
    http: '3',
    method: firstValue(headers[':method']) ?? 'GET',
    ...targetOf(path),
    authority: firstValue(headers[':authority']),
    headers: fields,
    secure: true,
    remoteAddress: quic.remoteAddress,
    remotePort: quic.remotePort,
    upgrade,
    // QUIC always runs TLS 1.3 (RFC 9001 §4.2)
    tls: {
      protocol: 'TLSv1.3',
      alpn: quic.alpn,
      cipher: undefined,
      servername: undefined,
      ...(quic.earlyData && { earlyData: true }),
    },
    body,
  };
}

/** The ResponseWriter of HTTP/3: one request stream. */
class H3Writer extends WriterState implements ResponseWriter {
  readonly http = '3' as const;
  readonly #stream: H3Stream;
  readonly #body: Body;
  readonly #tunnel: boolean;
  #mode: BodyMode = 'empty';

  constructor(stream: H3Stream, body: Body, tunnel: boolean) {
    super();
    this.#stream = stream;
    this.#body = body;
    this.#tunnel = tunnel;
    if (stream.closed || stream.writableEnded) this.abortNow();
  }

  /** @internal The stream ended abruptly (peer reset or STOP_SENDING, connection lost). */
  peerAborted(): void {
    // a request cancelled in one direction is cancelled: free the other one too
    this.peerGone(() => this.#stream.reset(H3_REQUEST_CANCELLED));
  }

  /** @internal Everything queued was handed to QUIC. */
  drain(): void {
    this.wakeDrain();
  }

  head(status: number, headers: HeaderMap, mode: BodyMode): void {
    if (this.aborted) return;
    this.#mode = mode;
    this.#stream.sendHeaders([[':status', String(status)], ...fieldsOf(headers)], mode === 'empty');
  }

  write(chunk: Uint8Array): boolean {
    if (this.aborted || this.ended) return false;
    this.#stream.sendData(chunk);
    return this.#stream.bufferedAmount() < HIGH_WATER_MARK;
  }

  drained(): Promise<void> {
    return this.waitDrain(this.#stream.bufferedAmount() >= HIGH_WATER_MARK);
  }

  end(trailers?: HeaderMap): void {
    if (this.ended || this.aborted) return;
    this.ended = true;
    const s = this.#stream;
    if (this.#mode !== 'empty') {
      // RFC 9114 §4.1: trailers are a HEADERS frame after the DATA frames
      if (trailers !== undefined && Object.keys(trailers).length > 0) {
        s.sendHeaders(fieldsOf(trailers), true);
      } else {
        s.end();
      }
    }
    if (!this.#body.complete || this.#tunnel) s.stopReading(H3_NO_ERROR);
    this.wakeDrain();
  }

  abort(): void {
    if (!this.abortNow()) return;
    this.#stream.reset(H3_INTERNAL_ERROR);
  }
}

/**
 * One HTTP/3 request stream as an exchange. `headers` is the checked header map
 * (checkH3Request), `fields` the section as received (for the WebSocket validation).
 */
export function h3Exchange(
  stream: H3Stream,
  headers: H3Headers,
  fields: readonly Header[],
  ctx: HandleContext,
): Exchange {
  const upgrade = classifyH3Request(headers) === 'websocket';
  const maxBody = ctx.opts.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY;
  let bodySink: BodySink | null = null;
  let w: H3Writer | undefined;
  let sinkSet = false;
  // one sink for both directions; set at once for a plain request (its DATA go to the
  // body reader), only when a response needs it for an extended CONNECT (whose DATA
  // belong to the WebSocket it may become)
  const setSink = () => {
    if (sinkSet) return;
    sinkSet = true;
    stream.setSink({
      onHeaders() {
        // request trailers: nothing reads them yet
      },
      onData: (chunk) => bodySink?.data(chunk),
      onEnd: () => bodySink?.end(),
      onAbort: (err) => {
        bodySink?.error(err);
        w?.peerAborted();
      },
      onDrain: () => w?.drain(),
      onClose: () => w?.peerAborted(),
    });
  };
  let body: Body;
  if (upgrade) {
    body = new Body(null, 0, maxBody);
  } else {
    body = new Body(
      { start() {}, pause: () => stream.pause(), resume: () => stream.resume() },
      contentLength(headers['content-length']),
      maxBody,
    );
    bodySink = body;
    setSink();
  }
  const request = h3Request(stream, headers, body, upgrade);
  const writer = () => {
    if (w === undefined) {
      w = new H3Writer(stream, body, upgrade);
      setSink();
    }
    return w;
  };
  return {
    request,
    writer,
    validate: (terms) => validateH3Request(fields, terms),
    open: (route, accepted, extra) => {
      if (stream.closed || stream.writableEnded) return;
      stream.sendHeaders([
        [':status', '200'],
        ...fieldsOf({ ...extra, ...accepted.responseHeaders }),
      ]);
      stream.becomeTunnel();
      ctx.registry.start(new H3Transport(stream), ctx.opts, route, request, accepted.info);
    },
  };
}

/** Serve one HTTP/3 request through the handler (declined: 404). */
export function serveH3Request(
  stream: H3Stream,
  headers: H3Headers,
  fields: readonly Header[],
  ctx: HandleContext,
): Promise<void> {
  return serveExchange(h3Exchange(stream, headers, fields, ctx), ctx);
}
