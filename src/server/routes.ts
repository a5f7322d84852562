// `routes` and `route` are sugar for `handle`: they compile into one RequestHandler, so
// every HTTP version has a single way from a request to a session (validate, decide,
// open: src/server/exchange.ts) and the default answers live in one place.
//
// The compiled handler consults `route(req)`, then `routes[pathname]`, for upgrade
// requests only. A route becomes a `websocket` answer, an HttpResponse a buffered one
// (header names lower-cased; on HTTP/2 and HTTP/3 connection-specific fields dropped, as
// those versions forbid them), undefined is declined (the server's other listeners or a
// 404 get the request).

import { STATUS_CODES } from 'node:http';
import { isConnectionSpecific } from '../ws/extended-connect.js';
import type { HttpVersion } from '../ws/transport.js';
import { notAnUpgrade } from './answers.js';
import type {
  BufferedResponse,
  HttpResponse,
  Request,
  RequestHandler,
  Response,
  WebSocketResponse,
} from './handler.js';
import type { RouteDecision, ServerOptions } from './options.js';

/**
 * What the compiled handler does with a plain (non-upgrade) request: 'answer' gives a
 * route's path 426 + Upgrade (HTTP/1.1) or 405 + Allow: CONNECT (HTTP/2, HTTP/3) and
 * declines the rest; 'decline' leaves them all to the server's other listeners.
 */
export type PlainRequests = 'answer' | 'decline';

export function isHttpResponse(d: RouteDecision): d is HttpResponse {
  return d !== undefined && typeof (d as HttpResponse).status === 'number' && !('handler' in d);
}

/** A route's HttpResponse as a buffered answer on `http`. */
export function fromHttpResponse(res: HttpResponse, http: HttpVersion): BufferedResponse {
  const headers: Record<string, string> = {};
  if (res.body !== undefined || http === '1.1') {
    headers['content-type'] = 'text/plain; charset=utf-8';
  }
  for (const [k, v] of Object.entries(res.headers ?? {})) {
    const name = k.toLowerCase();
    // a route's h1-minded headers must not break the answer (RFC 9113 §8.2.2, RFC 9114 §4.2)
    if (http !== '1.1' && (name.startsWith(':') || isConnectionSpecific(name))) continue;
    headers[name] = v;
  }
  // HTTP/1.1 answers without a body of their own carry the reason phrase
  const body = res.body ?? (http === '1.1' ? (STATUS_CODES[res.status] ?? '') : undefined);
  return body === undefined
    ? { type: 'buffered', status: res.status, headers }
    : { type: 'buffered', status: res.status, headers, body };
}

function answerOf(d: RouteDecision, http: HttpVersion): Response | undefined {
  if (d === undefined) return undefined;
  if (isHttpResponse(d)) return fromHttpResponse(d, http);
  const ws: WebSocketResponse = { type: 'websocket', route: d };
  return ws;
}

/** One RequestHandler from `opts.route` and `opts.routes`; `onPlain` takes plain requests. */
export function compileRoutes(
  opts: ServerOptions,
  plain: PlainRequests,
  onPlain?: RequestHandler,
): RequestHandler {
  const { route } = opts;
  const lookup = (req: Request) => opts.routes?.[req.pathname];
  return (req) => {
    if (!req.upgrade) {
      if (onPlain) return onPlain(req);
      return plain === 'answer' && lookup(req) !== undefined ? notAnUpgrade(req.http) : undefined;
    }
    if (route === undefined) return answerOf(lookup(req), req.http);
    const d = route(req);
    if (typeof (d as PromiseLike<RouteDecision> | undefined)?.then === 'function') {
      return Promise.resolve(d).then((x) => answerOf(x ?? lookup(req), req.http));
    }
    return answerOf((d as RouteDecision) ?? lookup(req), req.http);
  };
}
