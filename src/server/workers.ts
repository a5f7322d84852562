// serve({ workers }): in the primary, fork the workers once (src/scale/cluster.ts) and
// return what they listen on; in a worker, serve as usual on the shared ports, with the
// topics carried between workers (through the primary, or Redis given `redis`) and the
// HTTP/3 datagrams routed to the worker that owns their connection.

import type { QuicRouter } from '../h3/quic-server.js';
import {
  ClusterTopicsAdapter,
  clusterQuicRouter,
  onShutdown,
  reportListening,
  WorkerGroup,
  workerInfo,
} from '../scale/cluster.js';
import { WebSocketError } from '../ws/errors.js';
import { Topics, type TopicsAdapter } from '../ws/topics.js';
import type { HttpVersion } from '../ws/transport.js';
import { type Server, topicsFace } from './context.js';
import { SessionRegistry } from './registry.js';
import type { ServeOptions } from './serve-options.js';

/** A serve() of this process, given the router its HTTP/3 listener takes in a worker. */
export type ServeHere = (options: ServeOptions, router?: QuicRouter) => Promise<Server>;

/**
 * The topics hub a serve() of this process uses, and the adapter made for it (the caller
 * closes that): with `redis`, a hub on a Redis connection; in a worker without a hub of
 * the program's own, one whose publishes go between the workers through the primary;
 * else `options.topics` as given.
 */
export async function processTopics(
  options: Pick<ServeOptions, 'redis' | 'topics'>,
): Promise<{ topics: Topics | ServeOptions['topics']; adapter?: TopicsAdapter }> {
  const own = options.topics instanceof Topics ? undefined : options.topics;
  if (options.redis !== undefined) {
    if (options.topics instanceof Topics) {
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        'serve: give `redis` or a Topics hub (with its own adapter), not both',
      );
    }
    const { RedisTopicsAdapter } = await import('../scale/redis.js');
    const adapter = await RedisTopicsAdapter.connect(
      typeof options.redis === 'string' ? { url: options.redis } : options.redis,
    );
    return { topics: new Topics({ ...own, adapter }), adapter };
  }
  if (workerInfo() !== undefined && !(options.topics instanceof Topics)) {
    const adapter = new ClusterTopicsAdapter();
    return { topics: new Topics({ ...own, adapter }), adapter };
  }
  return { topics: options.topics };
}

let primaryCalls = 0;
let workerCalls = 0;
const workerServers = new Set<Server>();

/** serve() with more than one worker. */
export function serveWorkers(
  options: ServeOptions,
  count: number,
  here: ServeHere,
): Promise<Server> {
  const w = workerInfo();
  if (w === undefined) return primary(options, count, primaryCalls++);
  return worker(options, workerCalls++, here);
}

async function worker(options: ServeOptions, index: number, here: ServeHere): Promise<Server> {
  const w = workerInfo()!;
  let server: Server;
  try {
    // its hub (processTopics) carries topics between the workers, or through Redis
    server = await here(options, clusterQuicRouter(w));
  } catch (err) {
    reportListening(index, err as Error);
    throw err;
  }
  if (workerServers.size === 0) {
    onShutdown(() => Promise.all([...workerServers].map((s) => s.close())).then(() => {}));
  }
  workerServers.add(server);
  const adapter = server.topics.adapter;
  reportListening(index, {
    url: server.url,
    port: server.port,
    host: server.host,
    versions: server.versions,
    hub: adapter instanceof ClusterTopicsAdapter ? adapter.id : -1,
  });
  return server;
}

async function primary(options: ServeOptions, count: number, index: number): Promise<Server> {
  const group = WorkerGroup.of(count);
  let reports: Awaited<ReturnType<WorkerGroup['listening']>>;
  try {
    reports = await group.listening(index);
  } catch (err) {
    await group.close();
    throw err;
  }
  const r = reports[0]!;
  // the primary serves nothing itself: its publishes go to the workers' subscribers,
  // through Redis given `redis`, else through the group
  const hub = r.hub;
  const redis = options.redis === undefined ? undefined : await processTopics(options);
  const relay =
    (redis?.topics as Topics | undefined) ??
    new Topics({
      adapter: {
        attach() {},
        subscribe() {},
        unsubscribe() {},
        publish: (topic, m) => {
          if (hub >= 0) group.publish(hub, topic, m);
        },
        close: async () => {},
      },
    });
  const registry = new SessionRegistry(relay);
  return {
    url: r.url,
    port: r.port,
    host: r.host,
    versions: r.versions as HttpVersion[],
    registry,
    ...topicsFace(registry),
    workers: group,
    async close() {
      await group.close();
      await redis?.adapter?.close();
    },
  };
}
