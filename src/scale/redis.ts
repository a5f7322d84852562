// Topics across processes and machines through Redis 7 sharded pub/sub (SSUBSCRIBE /
// SPUBLISH): a process subscribes to a topic's channel only while it has local
// subscribers, and its publishes reach every other process once. The one file that
// loads the Redis client library (@redis/client, node-redis's core: maintained by Redis,
// sharded pub/sub and resubscription after reconnects built in, no native code).
//
// On the wire each publish is one SPUBLISH of an envelope (docs/scaling.md):
//   byte 0      1 (version)
//   byte 1      flags: 1 binary, 2 sent uncompressed, 4 has a position
//   bytes 2-9   the publishing process's random id (its own publishes are skipped)
//   bytes 10-13 that process's sequence number for the topic (uint32, wraps)
//   [flag 4: byte 14 the position's length, then the position (a stream ID)]
//   then        the payload (UTF-8 for text)
// Delivery is at most once while connected: what is published while a process's
// connection is down is lost for it. The sequence numbers make that loss visible: a gap
// in one publisher's numbers for a topic is counted in `stats().lost`.
//
// Topics with history keep their last messages in a Redis Stream: one script appends the
// message (XADD … MAXLEN ~) and publishes it with the stream ID as its position, so every
// process, the publishing one included, delivers it in the order the stream recorded. A
// subscriber that comes back with its last position gets what it missed (XRANGE), or is
// told the history no longer reaches back that far (max-deleted-entry-id, Redis 7).

import { randomBytes } from 'node:crypto';
import { createClient, RESP_TYPES, type RedisClientOptions } from '@redis/client';
import { WebSocketError } from '../ws/errors.js';
import {
  type AdapterHub,
  comparePositions,
  type RemoteMessage,
  type TopicsAdapter,
} from '../ws/topics.js';

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
  /**
   * Keep the last messages of topics in Redis Streams, with positions, so subscribers
   * can recover what they missed (docs/scaling.md, "History and recovery").
   */
  history?: HistoryOptions;
}

/** Which topics keep a history, and how much of it. */
export interface HistoryOptions {
  /** Messages kept per topic, about (MAXLEN ~; default 1000). */
  maxLength?: number;
  /** Whether `topic` keeps a history (default: every topic). */
  topics?: (topic: string) => boolean;
}

/** What the adapter counted since it connected. */
export interface RedisTopicsStats {
  /** Publishes sent to Redis. */
  readonly published: number;
  /** Publishes that could not be sent (the connection was down): at most once means lost. */
  readonly publishFailed: number;
  /** Messages received through Redis (other processes', and this one's own on topics with history). */
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
const FLAG_POSITION = 4;

// Append to the topic's stream and publish with the new entry's ID, in one step: every
// process sees the messages of a topic in the stream's order.
// KEYS: stream, channel. ARGV: max length, header (stored), header (published), payload.
const APPEND_AND_PUBLISH = `local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'd', ARGV[2] .. ARGV[4])
redis.call('SPUBLISH', KEYS[2], ARGV[3] .. string.char(#id) .. id .. ARGV[4])
return id`;

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
  readonly #history: Required<HistoryOptions> | null;
  /** The subscription of each topic, done once Redis confirmed it. */
  readonly #subscribed = new Map<string, Promise<void>>();

  private constructor(pub: Client, sub: Client, opts: RedisTopicsOptions) {
    this.#pub = pub;
    this.#sub = sub;
    this.#prefix = opts.prefix ?? 'omniws:';
    this.#onError = opts.onError ?? (() => {});
    this.#history = opts.history
      ? { maxLength: opts.history.maxLength ?? 1000, topics: opts.history.topics ?? (() => true) }
      : null;
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
    const done = this.#sub
      .sSubscribe(this.#prefix + topic, (msg: Buffer) => this.#receive(topic, msg), true)
      .catch((err: Error) => this.#onError(err));
    this.#subscribed.set(topic, done);
  }

  ordered(topic: string): boolean {
    return this.#history?.topics(topic) ?? false;
  }

  unsubscribe(topic: string): void {
    if (this.#closed) return;
    // a later message of a publisher starts afresh: no gap across our own unsubscribe
    for (const k of this.#seen.keys()) if (k.endsWith(`/${topic}`)) this.#seen.delete(k);
    this.#subscribed.delete(topic);
    this.#sub.sUnsubscribe(this.#prefix + topic).catch((err: Error) => this.#onError(err));
  }

  publish(topic: string, m: RemoteMessage): void {
    if (this.#closed) return;
    const seq = ((this.#seq.get(topic) ?? 0) + 1) >>> 0;
    this.#seq.set(topic, seq);
    const flags = (m.binary ? FLAG_BINARY : 0) | (m.compress ? 0 : FLAG_PLAIN);
    if (this.ordered(topic)) {
      this.#append(topic, flags, seq, m.data);
      return;
    }
    const env = Buffer.allocUnsafe(HEADER + m.data.length);
    env[0] = VERSION;
    env[1] = flags;
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

  #header(flags: number, seq: number): Buffer {
    const h = Buffer.allocUnsafe(HEADER);
    h[0] = VERSION;
    h[1] = flags;
    this.#origin.copy(h, 2);
    h.writeUInt32BE(seq, 10);
    return h;
  }

  #streamKey(topic: string): string {
    return `${this.#prefix}history:${topic}`;
  }

  /** A topic with history: append to its stream and publish with the position. */
  #append(topic: string, flags: number, seq: number, data: Uint8Array): void {
    this.#pub
      .eval(APPEND_AND_PUBLISH, {
        keys: [this.#streamKey(topic), this.#prefix + topic],
        arguments: [
          String(this.#history!.maxLength),
          this.#header(flags, seq),
          this.#header(flags | FLAG_POSITION, seq),
          Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        ],
      })
      .then(
        () => {
          this.#published++;
        },
        (err: Error) => {
          this.#publishFailed++;
          this.#onError(err);
        },
      );
  }

  /**
   * What `topic`'s stream holds after `since`, or lost: the stream is gone (no history,
   * or Redis lost it) or trimmed past `since`.
   */
  async history(
    topic: string,
    since: string,
  ): Promise<{ entries: RemoteMessage[]; lost: boolean }> {
    const lost = { entries: [], lost: true };
    if (this.#history === null || !this.#history.topics(topic)) return lost;
    // what is published from now on arrives live: the subscription must be in place first
    await this.#subscribed.get(topic);
    const raw = this.#pub.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const key = this.#streamKey(topic);
    let info: unknown;
    try {
      info = await raw.sendCommand(['XINFO', 'STREAM', key]);
    } catch {
      return lost; // no such stream
    }
    // a map (RESP3, or node-redis's mapping of RESP2 pairs) or a flat list of pairs
    const field = (name: string): string | undefined => {
      if (Array.isArray(info)) {
        for (let i = 0; i + 1 < info.length; i += 2) {
          if (String(info[i]) === name) return String(info[i + 1]);
        }
        return undefined;
      }
      const v = info instanceof Map ? info.get(name) : (info as Record<string, unknown>)[name];
      return v === undefined ? undefined : String(v);
    };
    const deleted = field('max-deleted-entry-id') ?? '0-0';
    const last = field('last-generated-id') ?? '0-0';
    const first = field('recorded-first-entry-id') ?? '0-0';
    // lost: trimmed past `since` (the stream no longer starts at or before it), an entry
    // after it deleted, or a position from another stream (Redis restarted empty)
    if (
      comparePositions(since, first) < 0 ||
      comparePositions(deleted, since) > 0 ||
      comparePositions(since, last) > 0
    ) {
      return lost;
    }
    const rows = (await raw.sendCommand(['XRANGE', key, `(${since}`, '+'])) as [Buffer, Buffer[]][];
    const entries: RemoteMessage[] = [];
    for (const [id, fields] of rows) {
      const env = fields[1];
      if (!env || env.length < HEADER || env[0] !== VERSION) continue;
      entries.push({
        binary: (env[1]! & FLAG_BINARY) !== 0,
        compress: (env[1]! & FLAG_PLAIN) === 0,
        data: env.subarray(HEADER),
        position: String(id),
      });
    }
    return { entries, lost: false };
  }

  #receive(topic: string, env: Buffer): void {
    if (env.length < HEADER || env[0] !== VERSION) return; // not ours
    const positioned = (env[1]! & FLAG_POSITION) !== 0;
    // our own publish: delivered here already, unless it waited for its position
    if (!positioned && env.compare(this.#origin, 0, 8, 2, 10) === 0) return;
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
    let at = HEADER;
    let position: string | undefined;
    if (positioned) {
      const n = env[HEADER] ?? 0;
      position = env.toString('latin1', HEADER + 1, HEADER + 1 + n);
      at = HEADER + 1 + n;
    }
    this.#hub?.deliver(topic, {
      binary: (flags & FLAG_BINARY) !== 0,
      compress: (flags & FLAG_PLAIN) === 0,
      data: env.subarray(at),
      position,
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
