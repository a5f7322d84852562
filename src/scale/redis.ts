// Topics across processes and machines through Redis 7 sharded pub/sub (SSUBSCRIBE /
// SPUBLISH): a process subscribes to a topic's channel only while it has local
// subscribers, and its publishes reach every other process once. The one file that
// loads the Redis client library (@redis/client, node-redis's core: maintained by Redis,
// sharded pub/sub and resubscription after reconnects built in, no native code).
//
// On the wire each publish is one SPUBLISH of an envelope (docs/scaling.md):
//   byte 0      1 (version)
//   byte 1      flags: 1 binary, 2 sent uncompressed
//   bytes 2-9   the publishing process's random id (its own publishes are skipped)
//   bytes 10-13 that process's sequence number for the topic (uint32, wraps)
//   bytes 14-   the payload (UTF-8 for text)
// Delivery is at most once while connected: what is published while a process's
// connection is down is lost for it. The sequence numbers make that loss visible: a gap
// in one publisher's numbers for a topic is counted in `stats().lost`.

import { randomBytes } from 'node:crypto';
import { createClient, type RedisClientOptions } from '@redis/client';
import { WebSocketError } from '../ws/errors.js';
import type { AdapterHub, RemoteMessage, TopicsAdapter } from '../ws/topics.js';

/** Options of the Redis adapter. */
export interface RedisTopicsOptions {
  /** `redis://[[user]:[password]@]host[:port][/db]`, or `rediss://` for TLS (default redis://127.0.0.1:6379). */
  url?: string;
  /**
   * node-redis client options, passed through: `username`, `password`, `socket` (with
   * `tls`, `ca`, `reconnectStrategy`…), `database`. `url` above takes precedence.
   */
  client?: RedisClientOptions;
  /** Prefix of the channel names (default 'omniws:'; the topic follows). */
  prefix?: string;
  /** Connection errors and failed publishes (they are also counted). */
  onError?: (err: Error) => void;
  /**
   * How long `connect()` tries before giving up (default 10 000 ms); once connected,
   * a lost connection is tried again without end.
   */
  connectTimeout?: number;
}

/** What the adapter counted since it connected. */
export interface RedisTopicsStats {
  /** Publishes sent to Redis. */
  readonly published: number;
  /** Publishes that could not be sent (the connection was down): at most once means lost. */
  readonly publishFailed: number;
  /** Messages received from other processes. */
  readonly received: number;
  /** Messages of other processes known to be missed (gaps in their sequence numbers). */
  readonly lost: number;
  /** Times a connection to Redis was lost and tried again. */
  readonly reconnects: number;
}

/** A Redis URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const HEADER = 14;
const VERSION = 1;
const FLAG_BINARY = 1;
const FLAG_PLAIN = 2;

type Client = ReturnType<typeof createClient>;

/** Topics of a hub carried to and from other processes through Redis sharded pub/sub. */
export class RedisTopicsAdapter implements TopicsAdapter {
  readonly #pub: Client;
  readonly #sub: Client;
  readonly #prefix: string;
  readonly #onError: (err: Error) => void;
  readonly #origin = randomBytes(8);
  readonly #seq = new Map<string, number>();
  /** The last sequence number seen per publisher and topic. */
  readonly #seen = new Map<string, number>();
  #hub: AdapterHub | null = null;
  #closed = false;
  #published = 0;
  #publishFailed = 0;
  #received = 0;
  #lost = 0;
  #reconnects = 0;
  #lastError: Error | undefined;

  private constructor(pub: Client, sub: Client, opts: RedisTopicsOptions) {
    this.#pub = pub;
    this.#sub = sub;
    this.#prefix = opts.prefix ?? 'omniws:';
    this.#onError = opts.onError ?? (() => {});
    for (const c of [pub, sub]) {
      c.on('error', (err: Error) => {
        this.#lastError = err;
        this.#onError(err);
      });
      c.on('reconnecting', () => {
        this.#reconnects++;
      });
    }
  }

  /** Connect to Redis (two connections: one publishes, one subscribes). */
  static async connect(opts: RedisTopicsOptions = {}): Promise<RedisTopicsAdapter> {
    const base: RedisClientOptions = {
      ...opts.client,
      url: opts.url ?? opts.client?.url ?? 'redis://127.0.0.1:6379',
      // at most once: a publish while disconnected fails now (and is counted), rather
      // than going out late, after the messages published since
      disableOfflineQueue: true,
    };
    const pub = createClient(base);
    const sub = createClient(base);
    const adapter = new RedisTopicsAdapter(pub as Client, sub as Client, opts);
    const ms = opts.connectTimeout ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([pub.connect(), sub.connect()]),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(adapter.#lastError ?? new Error(`no answer within ${ms} ms`)),
            ms,
          );
        }),
      ]);
    } catch (err) {
      await adapter.close();
      throw new WebSocketError(
        'WS_ERR_INVALID_ARGUMENT',
        `cannot connect to Redis at ${redact(String(base.url))}: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
    return adapter;
  }

  attach(hub: AdapterHub): void {
    if (this.#hub !== null) {
      throw new WebSocketError('WS_ERR_INVALID_STATE', 'a Redis adapter serves one Topics hub');
    }
    this.#hub = hub;
    for (const t of hub.topicNames()) this.subscribe(t);
  }

  subscribe(topic: string): void {
    if (this.#closed) return;
    this.#sub
      .sSubscribe(this.#prefix + topic, (msg: Buffer) => this.#receive(topic, msg), true)
      .catch((err: Error) => this.#onError(err));
  }

  unsubscribe(topic: string): void {
    if (this.#closed) return;
    // a later message of a publisher starts afresh: no gap across our own unsubscribe
    for (const k of this.#seen.keys()) if (k.endsWith(`/${topic}`)) this.#seen.delete(k);
    this.#sub.sUnsubscribe(this.#prefix + topic).catch((err: Error) => this.#onError(err));
  }

  publish(topic: string, m: RemoteMessage): void {
    if (this.#closed) return;
    const seq = ((this.#seq.get(topic) ?? 0) + 1) >>> 0;
    this.#seq.set(topic, seq);
    const env = Buffer.allocUnsafe(HEADER + m.data.length);
    env[0] = VERSION;
    env[1] = (m.binary ? FLAG_BINARY : 0) | (m.compress ? 0 : FLAG_PLAIN);
    this.#origin.copy(env, 2);
    env.writeUInt32BE(seq, 10);
    env.set(m.data, HEADER);
    this.#pub.sPublish(this.#prefix + topic, env).then(
      () => {
        this.#published++;
      },
      (err: Error) => {
        this.#publishFailed++;
        this.#onError(err);
      },
    );
  }

  #receive(topic: string, env: Buffer): void {
    if (env.length < HEADER || env[0] !== VERSION) return; // not ours
    if (env.compare(this.#origin, 0, 8, 2, 10) === 0) return; // our own publish
    this.#received++;
    const key = `${env.toString('hex', 2, 10)}/${topic}`;
    const seq = env.readUInt32BE(10);
    const last = this.#seen.get(key);
    if (last !== undefined) {
      const gap = (seq - last - 1) >>> 0;
      if (gap > 0) this.#lost += gap;
    }
    this.#seen.set(key, seq);
    const flags = env[1]!;
    this.#hub?.deliver(topic, {
      binary: (flags & FLAG_BINARY) !== 0,
      compress: (flags & FLAG_PLAIN) === 0,
      data: env.subarray(HEADER),
    });
  }

  stats(): RedisTopicsStats {
    return {
      published: this.#published,
      publishFailed: this.#publishFailed,
      received: this.#received,
      lost: this.#lost,
      reconnects: this.#reconnects,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      [this.#pub, this.#sub].map((c) =>
        c.isOpen ? c.close().catch(() => c.destroy()) : Promise.resolve(c.destroy()),
      ),
    ).catch(() => {});
  }
}
