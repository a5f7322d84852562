// Topics: which session is subscribed to what, and publishing to them. One hub per server
// (or shared by several, given as the `topics` option); sessions of every HTTP version
// mix in it. A publish builds one SharedMessage and hands it to each subscriber, which
// queues the shared frame until the end of the turn (./pubsub.ts). A topic without
// subscribers has no entry: publishing to it allocates nothing.
//
// With an adapter (Redis: src/scale/redis.ts; a cluster's primary: src/scale/cluster.ts)
// the hub also carries publishes between processes: it tells the adapter which topics
// have local subscribers, hands it each local publish, and delivers what other
// processes published. Local subscribers get a local publish at once, not through the
// adapter, and the adapter never hands a process its own publishes back.

import type { PublishOptions, SessionApi, SubscribeOptions, TopicData } from './handler.js';
import {
  Delivery,
  kDeliver,
  type MessageBytes,
  SharedMessage,
  type Subscriber,
  type TopicHub,
} from './pubsub.js';

/** A message not queued for a subscriber whose buffer was full (policy 'drop'). */
export interface TopicDrop {
  readonly topic: string;
  /** Payload bytes of the dropped message. */
  readonly bytes: number;
  readonly session: SessionApi;
}

/** What a hub asks of the adapter that carries its publishes to other processes. */
export interface TopicsAdapter {
  /** Called once, by the hub the adapter serves. */
  attach(hub: AdapterHub): void;
  /** The first local subscriber of `topic` came. */
  subscribe(topic: string): void;
  /** The last local subscriber of `topic` left. */
  unsubscribe(topic: string): void;
  /** A message published in this process, for the others. */
  publish(topic: string, message: RemoteMessage): void;
  /**
   * True when the adapter gives `topic`'s messages their positions (a topic with history):
   * then a publish reaches this process's subscribers through the adapter too, in the
   * order the history recorded, and not at once.
   */
  ordered?(topic: string): boolean;
  /**
   * What `topic`'s history holds after `since`, oldest first, or `lost` when it no longer
   * reaches back there (trimmed, or the history itself was lost).
   */
  history?(topic: string, since: string): Promise<{ entries: RemoteMessage[]; lost: boolean }>;
  /** Stop: no more publishes in or out. */
  close(): Promise<void>;
}

/** A published message as it travels between processes. */
export type RemoteMessage = MessageBytes;

/** What an adapter may do with its hub. */
export interface AdapterHub {
  /** A message another process published: deliver it to this process's subscribers. */
  deliver(topic: string, message: RemoteMessage): number;
  /** Topics with local subscribers now. */
  topicNames(): string[];
}

/** Options of a Topics hub. */
export interface TopicsOptions {
  /**
   * Called for each message not queued to a slow subscriber whose `onSlowConsumer` is
   * 'drop' (its `maxBuffered` bytes wait unsent). Also counted in `stats().dropped`.
   */
  onDrop?: (drop: TopicDrop) => void;
  /** Carries publishes to and from other processes (default: none, this process only). */
  adapter?: TopicsAdapter;
}

/** Counters of a Topics hub since it was made. */
export interface TopicStats {
  /** Topics with at least one subscriber. */
  readonly topics: number;
  /** (session, topic) pairs. */
  readonly subscriptions: number;
  /** Messages (published here or arriving from other processes) that found local subscribers. */
  readonly published: number;
  /** Messages queued to subscribers. */
  readonly delivered: number;
  /** Messages not queued to slow subscribers (policy 'drop'). */
  readonly dropped: number;
}

/** Sessions subscribed to topics, and publishing to them. */
export class Topics implements TopicHub {
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #onDrop: ((drop: TopicDrop) => void) | undefined;
  /** The adapter, if any. */
  readonly adapter: TopicsAdapter | undefined;
  #subscriptions = 0;
  /** Subscribers recovering a topic's history: what is published meanwhile waits here. */
  readonly #recovering = new Map<Subscriber, Map<string, SharedMessage[]>>();
  /**
   * After a replay: the last position replayed. A live message at or before it may still
   * come (it was published before the replay was read, and its publication arrives on
   * another connection): it was replayed already and is skipped.
   */
  readonly #floors = new Map<Subscriber, Map<string, string>>();
  #published = 0;
  #delivered = 0;
  #dropped = 0;

  constructor(opts: TopicsOptions = {}) {
    this.#onDrop = opts.onDrop;
    this.adapter = opts.adapter;
    this.adapter?.attach({
      deliver: (topic, m) => this.#deliver(topic, new SharedMessage(topic, m), undefined),
      topicNames: () => this.topicNames(),
    });
  }

  /** Called by a session that subscribed (use `session.subscribe(topic)`). */
  add(s: Subscriber, topic: string, opts?: SubscribeOptions): void {
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      this.adapter?.subscribe(topic);
    }
    const n = set.size;
    set.add(s);
    if (set.size !== n) this.#subscriptions++;
    if (opts?.since !== undefined) void this.#recover(s, topic, opts.since);
  }

  /**
   * Replay `topic`'s history after `since` to `s`, then what was published meanwhile, then
   * live: each message once, in position order. Told `lost` when it cannot be replayed.
   */
  async #recover(s: Subscriber, topic: string, since: string): Promise<void> {
    let mine = this.#recovering.get(s);
    if (mine === undefined) {
      mine = new Map();
      this.#recovering.set(s, mine);
    }
    mine.set(topic, []);
    let result: { entries: RemoteMessage[]; lost: boolean };
    try {
      result = (await this.adapter?.history?.(topic, since)) ?? { entries: [], lost: true };
    } catch {
      result = { entries: [], lost: true };
    }
    const held = mine.get(topic) ?? [];
    mine.delete(topic);
    if (mine.size === 0) this.#recovering.delete(s);
    if (!this.#topics.get(topic)?.has(s)) return; // gone meanwhile
    let last = since;
    try {
      if (result.lost) {
        s.send(JSON.stringify({ 'omniws.lost': since, topic }));
      } else {
        for (const e of result.entries) {
          s[kDeliver](new SharedMessage(topic, e));
          last = e.position ?? last;
        }
        s.send(JSON.stringify({ 'omniws.recovered': result.entries.length, topic, since }));
      }
      for (const m of held) {
        if (m.position === undefined || comparePositions(m.position, last) > 0) s[kDeliver](m);
      }
      if (last !== since) {
        let floors = this.#floors.get(s);
        if (floors === undefined) {
          floors = new Map();
          this.#floors.set(s, floors);
        }
        floors.set(topic, last);
      }
    } catch {
      // the session closed meanwhile
    }
  }

  /** Called by a session that unsubscribed or ended. */
  remove(s: Subscriber, topic: string): void {
    const floors = this.#floors.get(s);
    if (floors?.delete(topic) && floors.size === 0) this.#floors.delete(s);
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(s)) return;
    this.#subscriptions--;
    if (set.size === 0) {
      this.#topics.delete(topic);
      this.adapter?.unsubscribe(topic);
    }
  }

  /**
   * Send `data` to every subscriber of `topic` (but `except`): framed once, queued to each,
   * written at the end of this event-loop turn. Returns how many subscribers it was
   * queued for (drops and closing sessions not counted).
   */
  publish(topic: string, data: TopicData, opts?: PublishOptions, except?: Subscriber): number {
    const set = this.#topics.get(topic);
    const adapter = this.adapter;
    if (adapter === undefined) {
      if (set === undefined) return 0;
      if (set.size === 1 && except !== undefined && set.has(except)) return 0;
    }
    const m = new SharedMessage(topic, data, opts);
    adapter?.publish(topic, m);
    // a topic with history: this process's subscribers get it with its position, from the adapter
    if (adapter?.ordered?.(topic)) return 0;
    return this.#deliver(topic, m, except);
  }

  /** Queue `m` to the local subscribers of `topic` but `except`. */
  #deliver(topic: string, m: SharedMessage, except: Subscriber | undefined): number {
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    this.#published++;
    let queued = 0;
    const recovering = this.#recovering.size > 0 ? this.#recovering : null;
    const floors = this.#floors.size > 0 ? this.#floors : null;
    for (const s of set) {
      if (s === except) continue;
      const held = recovering?.get(s)?.get(topic);
      if (held !== undefined) {
        held.push(m);
        continue;
      }
      if (floors !== null && this.#belowFloor(floors, s, m)) continue;
      const d = s[kDeliver](m);
      if (d === Delivery.Queued) queued++;
      else if (d === Delivery.Dropped) this.#drop(m, s);
    }
    this.#delivered += queued;
    return queued;
  }

  /** Whether `m` was replayed to `s` already; the first message past the replay ends the check. */
  #belowFloor(
    floors: Map<Subscriber, Map<string, string>>,
    s: Subscriber,
    m: SharedMessage,
  ): boolean {
    const mine = floors.get(s);
    const floor = mine?.get(m.topic);
    if (floor === undefined) return false;
    if (m.position !== undefined && comparePositions(m.position, floor) <= 0) return true;
    mine!.delete(m.topic);
    if (mine!.size === 0) floors.delete(s);
    return false;
  }

  #drop(m: SharedMessage, s: Subscriber): void {
    this.#dropped++;
    const onDrop = this.#onDrop;
    if (onDrop === undefined) return;
    try {
      onDrop({ topic: m.topic, bytes: m.data.length, session: s });
    } catch {
      // a throwing observer must not stop the delivery to the others
    }
  }

  /** Subscribers of `topic` (0 for a topic nobody subscribed to). */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** Topics with at least one subscriber in this process. */
  topicNames(): string[] {
    return [...this.#topics.keys()];
  }

  stats(): TopicStats {
    return {
      topics: this.#topics.size,
      subscriptions: this.#subscriptions,
      published: this.#published,
      delivered: this.#delivered,
      dropped: this.#dropped,
    };
  }
}

/** Order of two history positions (`<ms>-<seq>`, as Redis stream IDs are). */
export function comparePositions(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as) - BigInt(bs);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}
