// omniws/scale: topics beyond one process. The Redis adapter (Redis 7 sharded pub/sub;
// importing this subpath loads the Redis client) and the adapter interface a hub takes.

export type { RedisTopicsOptions, RedisTopicsStats } from '../scale/redis.js';
export { RedisTopicsAdapter } from '../scale/redis.js';
export type { AdapterHub, RemoteMessage, TopicsAdapter } from '../ws/topics.js';
