// One exchange, the same on every HTTP version: admit (an upgrade needs a free
// `maxConnections` slot and a server that is not shutting down), decide (the one
// request handler; for an upgrade bounded by `decisionTimeout`), then either open the
// WebSocket (validate under the answer's terms, 101 / 200, start the session) or write
// the HTTP answer through the version's ResponseWriter (src/server/respond.ts).

import { WebSocketError } from '../ws/errors.js';
import type { NegotiationOptions, UpgradeResult } from '../ws/negotiate.js';
import {
  errorResponse,
  notAnUpgrade,
  shuttingDown,
  statusResponse,
  tooManyWebSockets,
} from './answers.js';
import type { HandleContext } from './context.js';
import {
  checkHeaders,
  type HeaderMap,
  type Request,
  type Response,
  type WebSocketRoute,
} from './handler.js';
import type { ServerOptions } from './options.js';
import { negotiationFor } from './registry.js';
import { type HttpAnswer, type ResponseWriter, respond } from './respond.js';

/** What a version adapter provides for one request. */
export interface Exchange {
  readonly request: Request;
  /** The writer for an HTTP response (created once). */
  writer(): ResponseWriter;
  /** Validate the WebSocket handshake (only for `request.upgrade`) under these terms. */
  validate(terms: NegotiationOptions): UpgradeResult;
  /** Answer a validated upgrade (101 / 200 with `headers`) and start its session. */
  open(route: WebSocketRoute, accepted: UpgradeResult & { ok: true }, headers: HeaderMap): void;
}

/**
 * Run the application's upgrade decision, bounded by `decisionTimeout`: past it, reject
 * with WS_ERR_DECISION_TIMEOUT (status 503). A synchronous answer costs no timer.
 */
export function decideWithin<T>(
  opts: ServerOptions,
  what: string,
  decide: () => T | Promise<T>,
): Promise<T> {
  let pending: T | Promise<T>;
  try {
    pending = decide();
  } catch (err) {
    return Promise.reject(err);
  }
  if (typeof (pending as PromiseLike<T> | null)?.then !== 'function') {
    return Promise.resolve(pending);
  }
  const ms = opts.decisionTimeout ?? 10_000;
  if (!(ms > 0 && Number.isFinite(ms))) return Promise.resolve(pending);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WebSocketError('WS_ERR_DECISION_TIMEOUT', `${what} did not decide within ${ms} ms`, {
            status: 503,
          }),
        ),
      ms,
    );
  });
  return Promise.race([Promise.resolve(pending), late]).finally(() => clearTimeout(timer));
}

/**
 * Serve one exchange. When the handler declines (returns undefined), `decline()` may
 * hand the request on (returning true); otherwise the answer is 404.
 */
export async function serveExchange(
  ex: Exchange,
  ctx: HandleContext,
  decline: () => boolean = () => false,
): Promise<void> {
  if (!ex.request.upgrade) return decide(ex, ctx, decline);
  const refused = ctx.closing
    ? shuttingDown()
    : ctx.registry.sessions.size + ctx.pending >= ctx.maxConnections
      ? tooManyWebSockets()
      : undefined;
  if (refused) return writeAnswer(ex, ctx, refused);
  ctx.pending++;
  try {
    await decide(ex, ctx, decline);
  } finally {
    ctx.pending--;
  }
}

async function decide(ex: Exchange, ctx: HandleContext, decline: () => boolean): Promise<void> {
  const req = ex.request;
  const report = (err: Error) => ctx.opts.onError?.(err);
  let res: Response | undefined;
  try {
    // an upgrade holds a connection slot until decided: bounded by decisionTimeout
    res = req.upgrade
      ? await decideWithin(ctx.opts, ctx.decider, () => ctx.handle(req))
      : await ctx.handle(req);
  } catch (err) {
    if ((err as WebSocketError)?.code === 'WS_ERR_DECISION_TIMEOUT') report(err as Error);
    res = errorResponse(err, report);
  }
  if (res === undefined) {
    if (decline()) return;
    res = statusResponse(404);
  }
  if (res.type === 'webtransport') {
    return writeAnswer(ex, ctx, statusResponse(400, {}, 'not a WebTransport request\n'));
  }
  if (res.type !== 'websocket') return writeAnswer(ex, ctx, res);
  if (!req.upgrade) return writeAnswer(ex, ctx, notAnUpgrade(req.http));
  if (ctx.closing) return writeAnswer(ex, ctx, shuttingDown());
  let extra: HeaderMap;
  try {
    extra = checkHeaders(res.headers, req.http);
  } catch (err) {
    report(err as Error);
    return writeAnswer(ex, ctx, statusResponse(500));
  }
  const result = ex.validate(negotiationFor(ctx.opts, res.route));
  if (result.ok) {
    ex.open(res.route, result, extra);
    return;
  }
  // a failed validation is answered with its status (400, 403, 426…)
  return writeAnswer(
    ex,
    ctx,
    statusResponse(result.status, result.headers ?? {}, `${result.error}\n`),
  );
}

/** Write one of the server's own answers (or a decided one) through the exchange's writer. */
export async function writeAnswer(
  ex: Exchange,
  ctx: HandleContext,
  answer: HttpAnswer,
): Promise<void> {
  const w = ex.writer();
  try {
    await respond(w, ex.request, answer, ctx);
  } catch (err) {
    // an invalid status or header: nothing was written yet
    ctx.opts.onError?.(err as Error);
    await respond(w, ex.request, statusResponse(500), ctx);
  }
}
