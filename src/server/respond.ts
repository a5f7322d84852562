// Writes any Response of a request handler through a small per-version port, the
// ResponseWriter (src/http/h1.ts, h2.ts, h3.ts implement it), and runs one exchange:
// call the handler, map its errors to statuses, dispatch WebSocket answers to the
// version's upgrade, everything else to respond().
//
// What is the same on every version lives here: the header checks, `date`, no body for
// HEAD / 204 / 304, content-length of buffered bodies and files, the stream's `send`
// with backpressure, the read-and-send loop for files where the transport has nothing
// better, and the loop response's mailbox. What differs (chunked + trailers, HEADERS +
// DATA + trailing HEADERS, how a response is cut off, what happens to an unread request
// body) is the writer's.

import { type FileHandle, open } from 'node:fs/promises';
import { WebSocketError } from '../ws/errors.js';
import type { Result } from '../ws/handler.js';
import type { HttpVersion } from '../ws/transport.js';
import { statusResponse } from './answers.js';
import type { HandleContext } from './context.js';
import {
  bodyBytes,
  checkHeaders,
  checkStatus,
  type Fin,
  type HeaderMap,
  type LoopEnd,
  type LoopResponse,
  mailboxOf,
  type Request,
  type Response,
  type Send,
} from './handler.js';

/**
 * How the head is followed: 'empty' nothing (the head ends the response), 'body' a body
 * of known size and no trailers, 'stream' chunks that may end with trailers.
 */
export type BodyMode = 'empty' | 'body' | 'stream';

/** One response on one HTTP version. Each method is called in order: head, write*, end. */
export interface ResponseWriter {
  readonly http: HttpVersion;
  /** The peer went away (or the response was aborted) before the end. */
  readonly aborted: boolean;
  head(status: number, headers: HeaderMap, mode: BodyMode): void;
  /** False once the transport is above its high-water mark (the chunk is still queued). */
  write(chunk: Uint8Array): boolean;
  /** Resolves when writing may go on, or at once when the response is aborted. */
  drained(): Promise<void>;
  /** Throws when this response cannot end with `trailers` (before any of the last chunk is written). */
  checkTrailers?(trailers: HeaderMap): void;
  /** The end of the response, with trailer fields for a 'stream' body. */
  end(trailers?: HeaderMap): void;
  /** Cut the response off so that the peer sees it incomplete. */
  abort(): void;
  /** `cb` runs once when the peer goes away before the end (not after an `abort()` of ours). */
  onAbort(cb: () => void): void;
  /**
   * Send a whole file response (head included) by the transport's own means (h2:
   * respondWithFD, read in C++ into DATA frames). Resolves true once the response is over,
   * false when the writer cannot now (the caller's read loop then sends it); absent where
   * the read loop is the best there is.
   */
  sendFile?(
    status: number,
    headers: HeaderMap,
    file: FileHandle,
    offset: number,
    length: number,
  ): Promise<boolean>;
}

/**
 * What every version's ResponseWriter keeps the same way: whether the response ended or
 * was aborted, who waits in `drained()`, who wants to hear of the peer going away.
 */
export abstract class WriterState {
  protected ended = false;
  #aborted = false;
  #drainWaiters: (() => void)[] = [];
  #abortCbs: (() => void)[] = [];

  get aborted(): boolean {
    return this.#aborted;
  }

  onAbort(cb: () => void): void {
    if (this.#aborted) queueMicrotask(cb);
    else this.#abortCbs.push(cb);
  }

  /** Wake whoever waits in `drained()`. */
  protected wakeDrain(): void {
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  /** For `drained()`: at once unless the transport is `full` (and the response lives). */
  protected waitDrain(full: boolean): Promise<void> {
    if (this.#aborted || !full) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * The peer went away. Before the end that aborts the response: `first` runs, then the
   * `onAbort` callbacks. Waiters in `drained()` wake either way.
   */
  protected peerGone(first?: () => void): void {
    this.wakeDrain();
    if (this.ended || this.#aborted) return;
    this.#aborted = true;
    first?.();
    for (const cb of this.#abortCbs.splice(0)) cb();
  }

  /** We abort (no `onAbort` callbacks for that); false when it already was. */
  protected abortNow(): boolean {
    if (this.#aborted) return false;
    this.#aborted = true;
    this.wakeDrain();
    return true;
  }
}

/** Every answer but a WebSocket. */
export type HttpAnswer = Exclude<Response, { type: 'websocket' } | { type: 'webtransport' }>;

/** The default of `maxRequestBody`. */
export const DEFAULT_MAX_REQUEST_BODY = 1024 * 1024;

let cachedDate = '';
let cachedAt = 0;

/** An IMF-fixdate for `date` (RFC 9110 §6.6.1), recomputed at most every 100 ms. */
export function httpDate(): string {
  const now = Date.now();
  if (now - cachedAt >= 100) {
    cachedAt = now;
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

// RFC 9110 §9.3.2 (HEAD), §15.3.5 (204), §15.4.5 (304): no content in the response
function hasNoBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304;
}

const encoder = new TextEncoder();

function toBytes(data: string | Uint8Array): Uint8Array {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'send/push takes a string or bytes');
}

function aborted(): WebSocketError {
  return new WebSocketError('HTTP_ERR_ABORTED', 'the peer went away before the response ended');
}

/**
 * Write `res` (not a WebSocket answer) through `w`. Throws before anything is written for
 * an invalid status or header (the caller answers 500); failures later cut the response
 * off and are reported to `onError`.
 */
export async function respond(
  w: ResponseWriter,
  req: Request,
  res: HttpAnswer,
  ctx: HandleContext,
): Promise<void> {
  checkStatus(res.status);
  const headers = checkHeaders(res.headers, w.http);
  if (headers.date === undefined) headers.date = httpDate();
  const altSvc = req.secure && req.http !== '3' ? ctx.opts.altSvc : undefined;
  if (altSvc !== undefined && headers['alt-svc'] === undefined) {
    const value = typeof altSvc === 'function' ? altSvc() : altSvc;
    if (value !== undefined) headers['alt-svc'] = value;
  }
  const noBody = hasNoBody(req.method, res.status);
  switch (res.type) {
    case undefined:
    case 'buffered': {
      const body = bodyBytes(res.body);
      const size = body?.length ?? 0;
      // RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field in any
      // response with a status code of … 204"; a 304 describes another response
      if (headers['content-length'] === undefined && res.status !== 204 && res.status !== 304) {
        headers['content-length'] = String(size);
      }
      if (noBody || size === 0) {
        w.head(res.status, headers, 'empty');
        w.end();
        return;
      }
      w.head(res.status, headers, 'body');
      w.write(body!);
      w.end();
      return;
    }
    case 'stream':
      if (noBody) {
        w.head(res.status, headers, 'empty');
        w.end();
        return;
      }
      w.head(res.status, headers, 'stream');
      await runStream(w, res.produce, ctx);
      return;
    case 'file': {
      let fh: FileHandle;
      try {
        fh = await open(res.path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await respond(w, req, statusResponse(404), ctx);
        return;
      }
      try {
        await sendFile(w, fh, res.offset ?? 0, res.length, res.status, headers, noBody, ctx);
      } finally {
        await fh.close().catch(() => {});
      }
      return;
    }
    case 'loop':
      await runLoop(w, res, headers, noBody, ctx);
      return;
    default:
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `unknown response type ${JSON.stringify((res as { type: unknown }).type)}`,
      );
  }
}

async function runStream(
  w: ResponseWriter,
  produce: (send: Send) => void | Promise<void>,
  ctx: HandleContext,
): Promise<void> {
  let finished = false;
  const send: Send = async (data, fin: Fin = 'nofin') => {
    if (finished) throw new WebSocketError('WS_ERR_INVALID_STATE', 'send after fin');
    if (w.aborted) throw aborted();
    const chunk = toBytes(data);
    const trailers = typeof fin === 'object' ? checkHeaders(fin.fin, w.http) : undefined;
    if (fin !== 'nofin' && fin !== 'fin' && trailers === undefined) {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', `send: unknown fin ${String(fin)}`);
    }
    if (trailers !== undefined) w.checkTrailers?.(trailers);
    const more = chunk.length === 0 || w.write(chunk);
    if (fin !== 'nofin') {
      finished = true;
      w.end(trailers);
      return;
    }
    if (!more) await w.drained();
    if (w.aborted) throw aborted();
  };
  try {
    await produce(send);
    if (!finished && !w.aborted) {
      finished = true;
      w.end();
    }
  } catch (err) {
    if (w.aborted && (err as WebSocketError).code === 'HTTP_ERR_ABORTED') return;
    ctx.opts.onError?.(err as Error);
    if (!finished) {
      finished = true;
      w.abort();
    }
  }
}

async function sendFile(
  w: ResponseWriter,
  fh: FileHandle,
  offset: number,
  length: number | undefined,
  status: number,
  headers: HeaderMap,
  noBody: boolean,
  ctx: HandleContext,
): Promise<void> {
  const size = (await fh.stat()).size;
  const n = length ?? Math.max(0, size - offset);
  if (headers['content-length'] === undefined) headers['content-length'] = String(n);
  if (noBody || n === 0) {
    w.head(status, headers, 'empty');
    w.end();
    return;
  }
  if (w.sendFile && (await w.sendFile(status, headers, fh, offset, n))) return;
  w.head(status, headers, 'body');
  // a read-and-send loop: one 64 KiB chunk in flight beyond the transport's high-water mark
  const rs = fh.createReadStream({
    start: offset,
    end: offset + n - 1,
    highWaterMark: 64 * 1024,
    autoClose: false,
  });
  let sent = 0;
  try {
    for await (const chunk of rs as AsyncIterable<Buffer>) {
      if (w.aborted) break;
      sent += chunk.length;
      if (!w.write(chunk)) await w.drained();
    }
    if (sent < n && !w.aborted) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', `the file ended ${n - sent} bytes early`);
    }
  } catch (err) {
    // the announced length cannot be met: the peer must see the response cut off
    ctx.opts.onError?.(err as Error);
    w.abort();
    return;
  } finally {
    rs.destroy();
  }
  if (!w.aborted) w.end();
}

async function runLoop(
  w: ResponseWriter,
  res: LoopResponse,
  headers: HeaderMap,
  noBody: boolean,
  ctx: HandleContext,
): Promise<void> {
  const box = mailboxOf(res);
  if (box.ended) throw new WebSocketError('WS_ERR_INVALID_STATE', 'a loop response runs once');
  let state = res.state;
  let over: LoopEnd | null = null;
  const push = (data: string | Uint8Array): boolean => {
    if (over !== null || w.aborted) return false;
    const chunk = toBytes(data);
    return chunk.length === 0 || w.write(chunk);
  };
  const finish = (end: LoopEnd) => {
    if (over !== null) return;
    over = end;
    box.ended = true;
    box.queue = [];
    ctx.loops.delete(stopNow);
    if (end.kind === 'error') w.abort();
    else if (end.kind !== 'remote') w.end();
    try {
      res.handler.terminate?.(end, state);
    } catch (err) {
      ctx.opts.onError?.(err as Error);
    }
    const wake = box.wake;
    box.wake = null;
    wake?.();
  };
  const stopNow = (kind: LoopEnd['kind']) => finish({ kind });
  if (noBody) {
    box.ended = true;
    w.head(res.status, headers, 'empty');
    w.end();
    return;
  }
  w.head(res.status, headers, 'stream');
  ctx.loops.add(stopNow);
  w.onAbort(() => finish({ kind: 'remote' }));
  while (over === null) {
    if (box.queue.length === 0) {
      await new Promise<void>((resolve) => {
        box.wake = resolve;
      });
      box.wake = null;
      continue;
    }
    const info = box.queue.shift();
    let result: Result<unknown>;
    try {
      result = await res.handler.handleInfo(info, push, state);
      if (over !== null) break;
      if (!result || (result.result !== 'ok' && result.result !== 'stop')) {
        throw new WebSocketError(
          'WS_ERR_HANDLER',
          'a loop handleInfo must return ok(state) or stop(state)',
        );
      }
    } catch (err) {
      ctx.opts.onError?.(err as Error);
      finish({ kind: 'error', error: err as Error });
      break;
    }
    state = result.state;
    if (result.result === 'stop') finish({ kind: 'normal' });
  }
}
