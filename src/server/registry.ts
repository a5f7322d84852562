// From an accepted upgrade to a running server-side Session: the route's settings over
// the server's defaults, the UpgradeRequest the handler sees, and the registry of live
// sessions that a graceful shutdown closes with 1001.

import { deflateOptionsOf, PerMessageDeflate } from '../ws/deflate.js';
import type { UpgradeRequest } from '../ws/handler.js';
import type { NegotiationOptions, UpgradeInfo } from '../ws/negotiate.js';
import { Session, type SessionOptions } from '../ws/session.js';
import { Topics } from '../ws/topics.js';
import type { Transport } from '../ws/transport.js';
import type { RequestInfo, WebSocketRoute } from './handler.js';
import type { ServerOptions } from './options.js';

/** Route settings over server defaults, for negotiation. */
export function negotiationFor(opts: ServerOptions, route: WebSocketRoute): NegotiationOptions {
  const n: NegotiationOptions = {};
  const subprotocols = route.subprotocols ?? opts.subprotocols;
  const select = route.selectSubprotocol ?? opts.selectSubprotocol;
  const origin = route.checkOrigin ?? opts.checkOrigin;
  const ext = route.negotiateExtensions ?? opts.negotiateExtensions;
  if (subprotocols) n.subprotocols = subprotocols;
  if (select) n.selectSubprotocol = select;
  if (origin) n.checkOrigin = origin;
  if (ext) n.negotiateExtensions = ext;
  const deflate = route.perMessageDeflate ?? opts.perMessageDeflate;
  if (deflate !== undefined) n.perMessageDeflate = deflate;
  return n;
}

const SESSION_KEYS = [
  'maxFrame',
  'maxMessage',
  'closeTimeout',
  'idleTimeout',
  'maxQueued',
  'maxQueuedBytes',
  'fragmentSize',
  'maxBuffered',
  'onSlowConsumer',
  'onError',
] as const;

function sessionOptions(opts: ServerOptions, route: WebSocketRoute): SessionOptions {
  const o: Record<string, unknown> = {};
  for (const k of SESSION_KEYS) {
    const v = route[k] ?? opts[k];
    if (v !== undefined) o[k] = v;
  }
  return o as SessionOptions;
}

// Header values every upgrade repeats: kept once per process instead of as a fresh
// string per connection (a session keeps its request's headers for its lifetime).
const COMMON_VALUES = new Map(
  ['websocket', 'Upgrade', 'upgrade', 'keep-alive, Upgrade', '13', 'no-cache'].map((v) => [v, v]),
);

export function toUpgradeRequest(req: RequestInfo, info: UpgradeInfo): UpgradeRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    const value = typeof v === 'string' ? v : v.join(', ');
    headers[k] = COMMON_VALUES.get(value) ?? value;
  }
  return {
    http: req.http,
    secure: req.secure,
    method: req.method,
    path: req.path,
    authority: req.authority,
    headers,
    subprotocol: info.subprotocol,
    extensions: info.extensions,
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
  };
}

/** Live sessions of one server, for graceful shutdown. */
export class SessionRegistry {
  readonly sessions = new Set<Session<any>>();
  /** The topics hub of these sessions (`session.subscribe`, `server.publish`). */
  readonly topics: Topics;

  constructor(topics: Topics = new Topics()) {
    this.topics = topics;
  }

  readonly #ended = (s: Session<any>): void => {
    this.sessions.delete(s);
  };

  /** Create, register and start the server-side session of an accepted upgrade. */
  start(
    transport: Transport,
    opts: ServerOptions,
    route: WebSocketRoute,
    req: RequestInfo,
    info: UpgradeInfo,
  ): Session<any> {
    const state = route.createState ? route.createState(req) : route.state;
    const so = sessionOptions(opts, route);
    if (info.deflate) {
      so.extension = new PerMessageDeflate({
        role: 'server',
        params: info.deflate,
        options: deflateOptionsOf(route.perMessageDeflate ?? opts.perMessageDeflate) ?? {},
        ...(so.maxMessage !== undefined && { maxMessage: so.maxMessage }),
      });
    }
    const session = new Session<any>({
      role: 'server',
      transport,
      handler: route.handler,
      state,
      request: toUpgradeRequest(req, info),
      onEnded: this.#ended,
      topics: this.topics,
      ...so,
    });
    this.sessions.add(session);
    session.start();
    return session;
  }

  /** Close every session with 1001, wait up to `grace` ms, then abort the rest. */
  async shutdown(grace: number): Promise<void> {
    const all = [...this.sessions];
    for (const s of all) {
      try {
        s.shutdown(1001, 'server shutting down');
      } catch {
        // closing already
      }
    }
    if (all.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, grace);
    });
    await Promise.race([Promise.all(all.map((s) => s.closed)), timedOut]);
    clearTimeout(timer);
    for (const s of this.sessions) s.abort();
    await Promise.all([...this.sessions].map((s) => s.closed));
  }
}
