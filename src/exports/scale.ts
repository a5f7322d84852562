// omniws/scale: topics beyond one process. The Redis adapter (Redis 7 sharded pub/sub,
// history in Redis Streams; importing this subpath loads the Redis client), the adapter
// interface a hub takes, and the workers of serve({ workers }).

export type { ListenReport, WorkerInfo } from '../scale/cluster.js';
export { WorkerGroup } from '../scale/cluster.js';
export type { HistoryOptions, RedisTopicsOptions, RedisTopicsStats } from '../scale/redis.js';
export { RedisTopicsAdapter } from '../scale/redis.js';
export type { AdapterHub, RemoteMessage, TopicsAdapter } from '../ws/topics.js';
