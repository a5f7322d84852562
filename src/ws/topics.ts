// Topics: which session is subscribed to what, and publishing to them. One hub per server
// (or shared by several, given as the `topics` option); sessions of every HTTP version
// mix in it. A publish builds one SharedMessage and hands it to each subscriber, which
// queues the shared frame until the end of the turn (./pubsub.ts). A topic without
// subscribers has no entry: publishing to it allocates nothing.

import type { PublishOptions, SessionApi, TopicData } from './handler.js';
import { Delivery, kDeliver, SharedMessage, type Subscriber, type TopicHub } from './pubsub.js';

/** A message not queued for a subscriber whose buffer was full (policy 'drop'). */
export interface TopicDrop {
  readonly topic: string;
  /** Payload bytes of the dropped message. */
  readonly bytes: number;
  readonly session: SessionApi;
}

/** Options of a Topics hub. */
export interface TopicsOptions {
  /**
   * Called for each message not queued to a slow subscriber whose `onSlowConsumer` is
   * 'drop' (its `maxBuffered` bytes wait unsent). Also counted in `stats().dropped`.
   */
  onDrop?: (drop: TopicDrop) => void;
}

/** Counters of a Topics hub since it was made. */
export interface TopicStats {
  /** Topics with at least one subscriber. */
  readonly topics: number;
  /** (session, topic) pairs. */
  readonly subscriptions: number;
  /** publish() calls that found subscribers. */
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
  #subscriptions = 0;
  #published = 0;
  #delivered = 0;
  #dropped = 0;

  constructor(opts: TopicsOptions = {}) {
    this.#onDrop = opts.onDrop;
  }

  /** Called by a session that subscribed (use `session.subscribe(topic)`). */
  add(s: Subscriber, topic: string): void {
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    const n = set.size;
    set.add(s);
    if (set.size !== n) this.#subscriptions++;
  }

  /** Called by a session that unsubscribed or ended. */
  remove(s: Subscriber, topic: string): void {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(s)) return;
    this.#subscriptions--;
    if (set.size === 0) this.#topics.delete(topic);
  }

  /**
   * Send `data` to every subscriber of `topic` (but `except`): framed once, queued to each,
   * written at the end of this event-loop turn. Returns how many subscribers it was
   * queued for (drops and closing sessions not counted).
   */
  publish(topic: string, data: TopicData, opts?: PublishOptions, except?: Subscriber): number {
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    if (set.size === 1 && except !== undefined && set.has(except)) return 0;
    const m = new SharedMessage(topic, data, opts);
    this.#published++;
    let queued = 0;
    for (const s of set) {
      if (s === except) continue;
      const d = s[kDeliver](m);
      if (d === Delivery.Queued) queued++;
      else if (d === Delivery.Dropped) this.#drop(m, s);
    }
    this.#delivered += queued;
    return queued;
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

  /** Topics with at least one subscriber. */
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
