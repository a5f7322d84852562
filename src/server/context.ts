// What the exchanges of one server share: its options, the one request handler (the
// user's `handle`, or `routes`/`route` compiled into one), the registry of live sessions,
// running loop responses, and the count of upgrades being decided.

import type { WorkerGroup } from '../scale/cluster.js';
import type { PublishOptions, TopicData } from '../ws/handler.js';
import { Topics } from '../ws/topics.js';
import type { HttpVersion } from '../ws/transport.js';
import type { LoopEnd, RequestHandler } from './handler.js';
import type { ServerOptions } from './options.js';
import { SessionRegistry } from './registry.js';
import { compileRoutes, type PlainRequests } from './routes.js';

export interface HandleContext {
  readonly opts: ServerOptions;
  /** The one way from a request to its answer. */
  readonly handle: RequestHandler;
  /** What the application wrote that `handle` runs, for messages: 'handle()' or 'route()'. */
  readonly decider: string;
  readonly registry: SessionRegistry;
  /** Loop responses running now; `shutdownLoops()` ends them. */
  readonly loops: Set<(kind: LoopEnd['kind']) => void>;
  readonly maxConnections: number;
  /** Upgrades being decided: each holds a `maxConnections` slot until it is answered. */
  pending: number;
  closing: boolean;
}

/** A running server: its sessions, its topics, and how to stop it. */
export interface AttachedServer {
  readonly registry: SessionRegistry;
  /** The topics hub of its sessions. */
  readonly topics: Topics;
  /**
   * Publish `data` to every subscriber of `topic` (docs/topics.md): framed once, written at
   * the end of this event-loop turn. Returns how many subscribers it was queued for.
   */
  publish(topic: string, data: TopicData, opts?: PublishOptions): number;
  /** Subscribers of `topic` now. */
  subscriberCount(topic: string): number;
  /** Stop serving WebSockets, close live sessions with 1001 (grace, then abort). */
  close(): Promise<void>;
}

/** Every listening server: where it listens, the HTTP versions it serves, its sessions. */
export interface Server extends AttachedServer {
  /** With `workers`, in the primary: the group (pids, restart(slot)). Sessions live in the workers. */
  readonly workers?: WorkerGroup;
  /** ws(s)://host:port. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The HTTP versions served: '1.1', '2', '3'. */
  readonly versions: readonly HttpVersion[];
}

/**
 * The context of one server. Without `handle`, `routes`/`route` compile into one, and
 * `plain` says what that does with plain requests (see compileRoutes); `onPlain`, when
 * given, gets every plain request instead.
 */
export function createHandleContext(
  opts: ServerOptions,
  plain: PlainRequests = 'decline',
  onPlain?: RequestHandler,
): HandleContext {
  return {
    opts,
    handle: opts.handle ?? compileRoutes(opts, plain, onPlain),
    decider: opts.handle ? 'handle()' : 'route()',
    registry: new SessionRegistry(
      opts.topics instanceof Topics ? opts.topics : new Topics(opts.topics),
    ),
    loops: new Set(),
    maxConnections: opts.maxConnections ?? Number.POSITIVE_INFINITY,
    pending: 0,
    closing: false,
  };
}

/** The topics face of a server whose sessions are in `registry`. */
export function topicsFace(
  registry: SessionRegistry,
): Pick<AttachedServer, 'topics' | 'publish' | 'subscriberCount'> {
  const topics = registry.topics;
  return {
    topics,
    publish: (topic, data, opts) => topics.publish(topic, data, opts),
    subscriberCount: (topic) => topics.subscriberCount(topic),
  };
}

/** Refuse new upgrades and end running loop responses (their terminate sees 'shutdown'). */
export function shutdownLoops(ctx: HandleContext): void {
  ctx.closing = true;
  for (const end of [...ctx.loops]) end('shutdown');
}
