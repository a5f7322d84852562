// WebTransport sessions on an HTTP/3 server (draft-ietf-webtrans-http3), through the one
// request handler: `handle` sees the extended CONNECT (`req.protocol === 'webtransport'`)
// and answers `webtransport(handler, state)` to accept it, or any HTTP answer to refuse it
// (403, 429…). Accepted, the session runs the handler's callbacks: `init` once it is
// open, `handleStream` per stream the peer opens, `handleDatagram` per datagram,
// `handleDrain` when the peer asks to wind down, `terminate` once it ended. Streams and
// datagrams may be sent from anywhere through the session.

import type { H3Connection } from '../h3/connection.js';
import type { Header } from '../h3/qpack.js';
import type { H3Stream } from '../h3/stream.js';
import type { H3Headers } from '../h3/upgrade.js';
import { type WtCloseInfo, WtSession, type WtSessionLimits } from '../h3/wt-session.js';
import type { WtStream } from '../h3/wt-stream.js';
import { isWtProtocol, parseAvailableProtocols, sfString } from '../h3/wt-wire.js';
import { errorResponse, statusResponse } from './answers.js';
import { Body } from './body.js';
import type { HandleContext } from './context.js';
import { decideWithin, writeAnswer } from './exchange.js';
import { h3Exchange, h3Request } from './h3.js';
import {
  checkHeaders,
  type Request,
  type ResponseHeaders,
  type WebTransportHandler,
  type WebTransportResponse,
} from './handler.js';

export type {
  WebTransportHandler,
  WebTransportResponse,
  WtCloseInfo,
  WtSession as WebTransportSession,
  WtStream as WebTransportStream,
};

/** Options of `webtransport()`: the session's limits and extra response headers. */
export interface WebTransportAnswerOptions extends WtSessionLimits {
  headers?: ResponseHeaders;
  /**
   * The application protocol of the session, one of `req.protocols` (sent back as
   * WT-Protocol). One the client did not offer is refused with an error: 500.
   */
  protocol?: string;
}

/** Accept a WebTransport session: `handler` runs on it from `state`. */
export function webtransport<S>(
  handler: WebTransportHandler<S>,
  state: S,
  opts: WebTransportAnswerOptions = {},
): WebTransportResponse<S> {
  const { headers, protocol, ...limits } = opts;
  if (headers) checkHeaders(headers);
  if (protocol !== undefined && !isWtProtocol(protocol)) {
    throw new TypeError(`not a WebTransport protocol name: ${JSON.stringify(protocol)}`);
  }
  return { type: 'webtransport', handler, state, limits, headers, protocol };
}

/** WebTransport on an HTTP/3 server: `serve({ webtransport })`, `listenH3({ webtransport })`. */
export interface WebTransportServerOptions {
  /** Sessions one connection may have open at once (default 16); beyond: 429. */
  maxSessions?: number;
}

/** Serve one extended CONNECT with `:protocol webtransport`. */
export async function serveWebTransport(
  stream: H3Stream,
  headers: H3Headers,
  fields: readonly Header[],
  ctx: HandleContext,
  maxSessions: number,
): Promise<void> {
  // a field that is not a List of Strings is ignored (RFC 9651 §4.2)
  const offered = headers['wt-available-protocols'];
  const protocols =
    offered === undefined
      ? []
      : (parseAvailableProtocols(Array.isArray(offered) ? offered.join(', ') : offered) ?? []);
  const req: Request = {
    ...h3Request(stream, headers, new Body(null, 0, 0), false),
    protocol: 'webtransport',
    protocols,
  };
  const report = (err: Error) => ctx.opts.onError?.(err);
  const refuse = (status: number, text: string) =>
    writeAnswer(h3Exchange(stream, headers, fields, ctx), ctx, statusResponse(status, {}, text));
  if (ctx.closing) return refuse(503, 'shutting down\n');
  let res: Awaited<ReturnType<HandleContext['handle']>>;
  try {
    res = await decideWithin(ctx.opts, ctx.decider, () => ctx.handle(req));
  } catch (err) {
    res = errorResponse(err, report);
  }
  if (res === undefined) return refuse(404, 'Not Found\n');
  if (res.type === 'websocket')
    return refuse(400, 'a WebTransport request cannot become a WebSocket\n');
  if (res.type !== 'webtransport') {
    return writeAnswer(h3Exchange(stream, headers, fields, ctx), ctx, res);
  }
  const h3 = stream.connection as H3Connection;
  if (h3.sessionCount >= maxSessions)
    return refuse(429, 'too many WebTransport sessions on this connection\n');
  if (stream.closed || stream.writableEnded) return;
  let extra: Record<string, string | string[]>;
  try {
    extra = checkHeaders(res.headers, '3');
  } catch (err) {
    report(err as Error);
    return refuse(500, 'Internal Server Error\n');
  }
  if (res.protocol !== undefined && !protocols.includes(res.protocol)) {
    report(
      new Error(
        `webtransport(): protocol ${JSON.stringify(res.protocol)} was not offered (${protocols.join(', ') || 'none was'})`,
      ),
    );
    return refuse(500, 'Internal Server Error\n');
  }
  const response: Header[] = [[':status', '200']];
  if (res.protocol !== undefined) response.push(['wt-protocol', sfString(res.protocol)]);
  // draft-02 clients (Chromium's first WebTransport) look for which draft we speak
  if (headers['sec-webtransport-http3-draft02'] !== undefined) {
    response.push(['sec-webtransport-http3-draft', 'draft02']);
  }
  for (const [k, v] of Object.entries(extra)) {
    for (const x of Array.isArray(v) ? v : [v]) response.push([k, x]);
  }
  stream.sendHeaders(response);
  stream.becomeTunnel();
  const session = new WtSession(h3, stream, 'server', res.limits, res.protocol ?? null);
  const { handler, state } = res;
  session.setEvents({
    onStream: (s) => {
      if (handler.handleStream) handler.handleStream(s, session, state);
      else {
        s.stopSending(0);
        s.reset(0);
      }
    },
    onDatagram: (d) => handler.handleDatagram?.(d, session, state),
    onDrain: () => handler.handleDrain?.(session, state),
    onClose: (info) => handler.terminate?.(info, session, state),
  });
  try {
    handler.init?.(session, req, state);
  } catch (err) {
    report(err as Error);
    session.close(0, 'internal error');
    return;
  }
  h3.addSession(session);
}
