// An omniws request as node's (req, res) pair, for frameworks that route node requests
// (Fastify, Express): omniws decides the upgrade (`handle` of attach()), the framework runs
// its hooks, middleware and router on a stand-in IncomingMessage, and what it does comes
// back as the answer. A WebSocket handler reached by the router calls `accept`; a response
// the framework writes instead (a hook's 401, a 404) becomes a buffered answer, on any
// HTTP version: an HTTP/2 extended CONNECT reaches the framework as the GET it stands for.
// (Express, which cannot take node's HTTP/2 requests, gets its plain HTTP/2 requests this
// way too: then the answer is whatever it wrote.)
//
// The stand-ins: the IncomingMessage has the request's method, target, headers (plus
// `host` from `:authority` on HTTP/2), its body (empty for an upgrade), and a socket-like
// object with the peer's address and `encrypted`; the ServerResponse keeps what is
// written instead of sending it, and finishes when the framework ends it.

import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  buffered,
  type Request,
  type Response,
  type ResponseHeaders,
  type WebSocketResponse,
} from '../server/handler.js';
import { isConnectionSpecific } from '../ws/extended-connect.js';

/** One upgrade request on its way through a framework. */
export interface Bridge {
  /** The stand-in request the framework routes. */
  readonly req: IncomingMessage;
  /** The stand-in response: what the framework writes to it becomes the answer. */
  readonly res: ServerResponse;
  /** The answer: the WebSocket `accept` gave, or the response the framework wrote. */
  readonly answer: Promise<Response>;
  /** Answer with this WebSocket (the framework reached a WebSocket handler). */
  accept(ws: WebSocketResponse): void;
}

/** What the stand-in socket tells a framework about the connection. */
function socketOf(request: Request): Socket {
  return {
    remoteAddress: request.remoteAddress,
    remotePort: request.remotePort,
    encrypted: request.secure ? true : undefined,
    // while a body may come (on-finished, body-parser ask); the stand-in pushes it itself
    readable: !request.upgrade,
    pause() {},
    resume() {},
    writable: false,
    destroyed: false,
    readableHighWaterMark: 16 * 1024,
    on() {
      return this;
    },
    once() {
      return this;
    },
    removeListener() {
      return this;
    },
    setTimeout() {
      return this;
    },
    destroy() {
      return this;
    },
  } as unknown as Socket;
}

/**
 * The stand-in IncomingMessage of `request`, at `url` (default: as requested). Its body is
 * empty for an upgrade; a plain request's body flows into it as it arrives.
 */
export function standInRequest(request: Request, url = request.path): IncomingMessage {
  const req = new IncomingMessage(socketOf(request));
  const headers: Record<string, string | string[]> = {};
  const raw: string[] = [];
  for (const [k, v] of Object.entries(request.headers)) {
    if (v === undefined) continue;
    headers[k] = typeof v === 'string' ? v : [...v];
    for (const one of typeof v === 'string' ? [v] : v) raw.push(k, one);
  }
  // HTTP/2 carries the authority as a pseudo-header; node's HTTP/1.1 requests as `host`
  if (headers.host === undefined && request.authority !== undefined) {
    headers.host = request.authority;
    raw.push('host', request.authority);
  }
  // an HTTP/2 extended CONNECT stands for the GET of an HTTP/1.1 Upgrade
  req.method = request.upgrade && request.http !== '1.1' ? 'GET' : request.method;
  req.url = url;
  req.headers = headers as IncomingMessage['headers'];
  req.rawHeaders = raw;
  req.httpVersion = request.http === '1.1' ? '1.1' : `${request.http}.0`;
  req.httpVersionMajor = request.http === '1.1' ? 1 : Number(request.http);
  req.httpVersionMinor = request.http === '1.1' ? 1 : 0;
  if (request.upgrade) {
    req.complete = true;
    req.push(null);
  } else {
    pump(request, req);
  }
  return req;
}

async function pump(request: Request, req: IncomingMessage): Promise<void> {
  try {
    for await (const chunk of request.body) req.push(chunk);
    req.complete = true;
    req.push(null);
  } catch (err) {
    req.destroy(err as Error);
  }
}

/**
 * The answer to an upgrade request that a framework answered with `status` instead of a
 * WebSocket: as it is, except that a success is not one for a WebSocket (a 2xx to an
 * HTTP/2 extended CONNECT would open the tunnel): 400.
 */
export function refusal(
  status: number,
  headers: ResponseHeaders,
  body: Uint8Array | string | undefined,
): Response {
  if (status < 300) {
    return buffered(
      400,
      { 'content-type': 'text/plain; charset=utf-8' },
      'not a WebSocket endpoint\n',
    );
  }
  return buffered(status, withoutConnectionFields(headers), body);
}

/** A plain request's answer: as written, without the fields that are HTTP/1.1's only. */
function plainAnswer(
  status: number,
  headers: ResponseHeaders,
  body: Uint8Array | string | undefined,
): Response {
  return buffered(status, withoutConnectionFields(headers), body);
}

function withoutConnectionFields(headers: ResponseHeaders): ResponseHeaders {
  const out: Record<string, string | number | readonly string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    // the length is the answer's own; connection-specific fields are HTTP/1.1's only
    // (RFC 9113 §8.2.2, RFC 9114 §4.2)
    if (k === 'content-length' || isConnectionSpecific(k)) continue;
    out[k] = v;
  }
  return out;
}

function toBytes(chunk: unknown, encoding?: unknown): Buffer {
  if (typeof chunk === 'string') {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  return Buffer.alloc(0);
}

type Callback = (err?: Error | null) => void;

/**
 * A stand-in request and response for `request`, routed at `url` (default: as requested).
 * For an upgrade, what the framework writes is a refusal (see `refusal`); for a plain
 * request, it is the answer as it is, buffered.
 */
export function bridge(request: Request, url?: string): Bridge {
  const answerOf = request.upgrade ? refusal : plainAnswer;
  const req = standInRequest(request, url);
  const res = new ServerResponse(req);
  let settle!: (answer: Response) => void;
  const answer = new Promise<Response>((resolve) => {
    settle = resolve;
  });
  let settled = false;
  let headSent = false;
  let ended = false;
  const chunks: Buffer[] = [];
  const finish = (r: Response) => {
    if (settled) return;
    settled = true;
    settle(r);
  };
  // instance properties: Express replaces the response's prototype, not these
  Object.defineProperty(res, 'headersSent', { get: () => headSent, configurable: true });
  res.writeHead = function writeHead(status: number, ...rest: unknown[]) {
    const headers = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as
      | Record<string, unknown>
      | unknown[]
      | undefined;
    if (typeof rest[0] === 'string') res.statusMessage = rest[0];
    res.statusCode = status;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        res.appendHeader(String(headers[i]), headers[i + 1] as string);
      }
    } else if (headers) {
      for (const [k, v] of Object.entries(headers)) {
        if (v !== undefined) res.setHeader(k, v as string);
      }
    }
    headSent = true;
    return res;
  } as ServerResponse['writeHead'];
  res.flushHeaders = () => {
    if (!headSent) res.writeHead(res.statusCode);
  };
  res.write = function write(chunk: unknown, encoding?: unknown, cb?: unknown) {
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (!headSent) res.writeHead(res.statusCode);
    if (!ended) chunks.push(toBytes(chunk, encoding));
    if (typeof cb === 'function') process.nextTick(cb as Callback);
    return true;
  } as ServerResponse['write'];
  res.end = function end(chunk?: unknown, encoding?: unknown, cb?: unknown) {
    if (typeof chunk === 'function') [cb, chunk] = [chunk, undefined];
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    if (ended) return res;
    if (chunk !== undefined && chunk !== null) res.write(chunk, encoding as BufferEncoding);
    if (!headSent) res.writeHead(res.statusCode);
    ended = true;
    (res as { finished: boolean }).finished = true;
    const body = Buffer.concat(chunks);
    finish(answerOf(res.statusCode, res.getHeaders() as ResponseHeaders, body));
    process.nextTick(() => {
      if (typeof cb === 'function') (cb as Callback)();
      res.emit('prefinish');
      res.emit('finish');
      res.emit('close');
    });
    return res;
  } as ServerResponse['end'];
  // a framework that gives up on a response destroys it: nothing complete was answered
  res.destroy = function destroy() {
    if (!ended) {
      ended = true;
      finish(answerOf(500, {}, 'Internal Server Error\n'));
      process.nextTick(() => res.emit('close'));
    }
    return res;
  } as ServerResponse['destroy'];
  return {
    req,
    res,
    answer,
    accept(ws) {
      finish(ws);
    },
  };
}
