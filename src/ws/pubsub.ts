// The engine's side of topics: a published message is framed once per variant and the
// same bytes are queued to every subscriber, whatever HTTP version carries it (server
// frames are unmasked, so one frame fits an HTTP/1.1 socket, an HTTP/2 DATA frame and an
// HTTP/3 DATA frame alike). Deliveries wait in each subscriber's queue until the end of
// the event-loop turn (setImmediate: after every I/O callback of the turn ran), then
// each subscriber writes its whole queue at once: a chat room's hundred messages of a
// turn become one write per socket, not a hundred.
//
// The hub (which session is subscribed to what) is ./topics.ts; the session keeps its
// own queue and topic set (./session.ts). This file knows neither.

import type { SharedEncoder } from './extensions.js';
import { encodeFrame, Opcode } from './frame.js';
import type { PublishOptions, SessionApi, SubscribeOptions, TopicData } from './handler.js';
import { utf8Of } from './text.js';

/** Frames at most this long are one contiguous buffer (header and payload); longer ones two. */
const JOIN_MAX = 16 * 1024;

function frameOf(binary: boolean, data: Uint8Array, rsv: number): Uint8Array[] {
  const parts = encodeFrame(binary ? Opcode.Binary : Opcode.Text, data, { rsv });
  if (parts.length === 1 || data.length > JOIN_MAX) return parts;
  return [Buffer.concat(parts)];
}

/** A published message's payload as bytes, as it travels between processes. */
export interface MessageBytes {
  readonly binary: boolean;
  /** The payload (UTF-8 for text). */
  readonly data: Uint8Array;
  /** false: sent uncompressed (PublishOptions.compress). */
  readonly compress: boolean;
  /** Its place in the topic's history (a topic with history: src/scale/redis.ts). */
  readonly position?: string | undefined;
}

/** Whether `s` is a history position: `<ms>-<seq>`, as Redis stream IDs are. */
export function isPosition(s: string): boolean {
  return /^\d{1,20}-\d{1,20}$/.test(s);
}

/**
 * The text message that precedes a message with a position, for subscribers that asked
 * for positions (docs/scaling.md, "History and recovery").
 */
export function positionNotice(topic: string, position: string): string {
  return JSON.stringify({ 'omniws.position': position, topic });
}

/** One published message and its frames, made on first use, once per variant. */
export class SharedMessage implements MessageBytes {
  readonly topic: string;
  readonly binary: boolean;
  /** The payload as published (UTF-8 for text). */
  readonly data: Uint8Array;
  readonly compress: boolean;
  readonly position: string | undefined;
  #plain: Uint8Array[] | null = null;
  #notice: Uint8Array[] | null = null;
  // the last encoded variant, and any others (one key is the common case)
  #lastKey: string | null = null;
  #last: Uint8Array[] | null = null;
  #others: Map<string, Uint8Array[]> | null = null;

  constructor(topic: string, data: TopicData | MessageBytes, opts?: PublishOptions) {
    this.topic = topic;
    this.compress = opts?.compress ?? true;
    this.position = undefined;
    if (typeof data === 'string') {
      this.binary = false;
      this.data = utf8Of(data);
    } else if (data instanceof Uint8Array) {
      this.binary = true;
      this.data = data;
    } else if ('binary' in data) {
      this.binary = data.binary;
      this.data = data.data;
      this.compress = data.compress;
      this.position = data.position;
    } else if (data.type === 'text') {
      this.binary = false;
      this.data = utf8Of(data.data);
    } else {
      this.binary = true;
      this.data = data.data;
    }
  }

  /** The uncompressed frame. */
  plain(): Uint8Array[] {
    this.#plain ??= frameOf(this.binary, this.data, 0);
    return this.#plain;
  }

  /** The frame of the position notice that goes before it (only when it has a position). */
  notice(): Uint8Array[] {
    this.#notice ??= frameOf(false, Buffer.from(positionNotice(this.topic, this.position!)), 0);
    return this.#notice;
  }

  /** The frame as `enc` encodes it, made once per distinct encoder key. */
  encoded(enc: SharedEncoder): Uint8Array[] {
    const key = enc.key;
    if (key === this.#lastKey) return this.#last!;
    let frame = this.#others?.get(key);
    if (frame === undefined) {
      const m = enc.encode(this.data);
      frame =
        m.rsv === 0 && m.data === this.data ? this.plain() : frameOf(this.binary, m.data, m.rsv);
      if (this.#lastKey !== null) {
        this.#others ??= new Map();
        this.#others.set(this.#lastKey, this.#last!);
      }
    }
    this.#lastKey = key;
    this.#last = frame;
    return frame;
  }
}

/** The method that flushes a subscriber's queue (a symbol: not part of the Session's face). */
export const kFlush: unique symbol = Symbol('omniws.flushDeliveries');
/** The method that queues one published message to a subscriber. */
export const kDeliver: unique symbol = Symbol('omniws.deliver');

/** What the end of a turn flushes: a session with deliveries queued. */
export interface Flushable {
  [kFlush](): void;
}

let dirty: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) list[i]![kFlush]();
}

/** Flush `f`'s queue at the end of this event-loop turn (call once per non-empty queue). */
export function flushLater(f: Flushable): void {
  dirty.push(f);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushAll);
  }
}

/** What became of one delivery. */
export const Delivery = {
  /** Queued (or written). */
  Queued: 0,
  /** Not queued: the subscriber's buffer is full and its policy is 'drop'. */
  Dropped: 1,
  /** Not queued: the session is closing or closed (a 'close' policy just closed it). */
  Closed: 2,
} as const;
export type Delivery = (typeof Delivery)[keyof typeof Delivery];

/** A session as the hub sees it. */
export interface Subscriber extends SessionApi {
  /** Queue one published message. */
  [kDeliver](m: SharedMessage): Delivery;
}

/** What a session asks of the hub it belongs to. */
export interface TopicHub {
  /** `s` subscribed to `topic` (the session keeps its own set: called once per pair). */
  add(s: Subscriber, topic: string, opts?: SubscribeOptions): void;
  remove(s: Subscriber, topic: string): void;
  /** Deliver to every subscriber of `topic` except `except`; the count queued. */
  publish(topic: string, data: TopicData, opts?: PublishOptions, except?: Subscriber): number;
}
