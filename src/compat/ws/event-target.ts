// ws's EventTarget emulation on its EventEmitter: addEventListener / removeEventListener
// and the onopen / onmessage / onclose / onerror attributes, which wrap ws's events in
// Event, MessageEvent (text as a string), CloseEvent and ErrorEvent. As in ws, listeners
// added one way are invisible to the other (`on` vs `addEventListener`), and only the
// four WHATWG event types are taken.

import type { EventEmitter } from 'node:events';

const kTarget = Symbol('omniws.ws.target');
/** Marks the wrapper of an `on…` attribute. */
const kForOnEventAttribute = Symbol('omniws.ws.forOnEventAttribute');
/** The listener a wrapper calls. */
const kListener = Symbol('omniws.ws.listener');

/** ws's Event: `type` and `target`. */
export class Event {
  [kTarget]: unknown = null;
  readonly #type: string;
  constructor(type: string) {
    this.#type = type;
  }
  get target(): unknown {
    return this[kTarget];
  }
  get type(): string {
    return this.#type;
  }
}

export class CloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
    this.#wasClean = init.wasClean ?? false;
  }
  get code(): number {
    return this.#code;
  }
  get reason(): string {
    return this.#reason;
  }
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

export class ErrorEvent extends Event {
  readonly #error: unknown;
  readonly #message: string;
  constructor(type: string, init: { error?: unknown; message?: string } = {}) {
    super(type);
    this.#error = init.error ?? null;
    this.#message = init.message ?? '';
  }
  get error(): unknown {
    return this.#error;
  }
  get message(): string {
    return this.#message;
  }
}

export class MessageEvent extends Event {
  readonly #data: unknown;
  constructor(type: string, init: { data?: unknown } = {}) {
    super(type);
    this.#data = init.data ?? null;
  }
  get data(): unknown {
    return this.#data;
  }
}

for (const [cls, names] of [
  [Event, ['target', 'type']],
  [CloseEvent, ['code', 'reason', 'wasClean']],
  [ErrorEvent, ['error', 'message']],
  [MessageEvent, ['data']],
] as const) {
  for (const name of names) Object.defineProperty(cls.prototype, name, { enumerable: true });
}

/** A listener: a function, or an object with `handleEvent`. */
export type EventListenerLike = ((event: any) => void) | { handleEvent(event: any): void };

type Wrapper = ((...args: any[]) => void) & {
  [kForOnEventAttribute]?: boolean;
  [kListener]?: EventListenerLike;
};

/** Where a socket says whether its close handshake completed both ways (CloseEvent.wasClean). */
export const kWasClean: unique symbol = Symbol('omniws.ws.wasClean');

/** What the wrappers read from the socket. */
export interface EventSource extends EventEmitter {
  readonly [kWasClean]: boolean;
}

function callListener(listener: EventListenerLike, thisArg: unknown, event: Event): void {
  if (typeof listener === 'object' && typeof listener.handleEvent === 'function') {
    listener.handleEvent.call(listener, event);
  } else {
    (listener as (event: Event) => void).call(thisArg, event);
  }
}

function wrapperFor(type: string, handler: EventListenerLike): Wrapper | undefined {
  const dispatch = (target: EventSource, event: Event) => {
    event[kTarget] = target;
    callListener(handler, target, event);
  };
  switch (type) {
    case 'message':
      return function onMessage(this: EventSource, data: unknown, isBinary: boolean) {
        dispatch(this, new MessageEvent('message', { data: isBinary ? data : String(data) }));
      };
    case 'close':
      return function onClose(this: EventSource, code: number, reason: Buffer) {
        dispatch(
          this,
          new CloseEvent('close', { code, reason: reason.toString(), wasClean: this[kWasClean] }),
        );
      };
    case 'error':
      return function onError(this: EventSource, error: Error) {
        dispatch(this, new ErrorEvent('error', { error, message: error.message }));
      };
    case 'open':
      return function onOpen(this: EventSource) {
        dispatch(this, new Event('open'));
      };
    default:
      return undefined;
  }
}

/** ws's `addEventListener(type, listener, { once })`. */
export function addEventListener(
  this: EventSource,
  type: string,
  handler: EventListenerLike,
  options: { once?: boolean; [kForOnEventAttribute]?: boolean } = {},
): void {
  for (const l of this.listeners(type) as Wrapper[]) {
    if (!options[kForOnEventAttribute] && l[kListener] === handler && !l[kForOnEventAttribute]) {
      return;
    }
  }
  const wrapper = wrapperFor(type, handler);
  if (wrapper === undefined) return;
  wrapper[kForOnEventAttribute] = !!options[kForOnEventAttribute];
  wrapper[kListener] = handler;
  if (options.once) this.once(type, wrapper);
  else this.on(type, wrapper);
}

/** ws's `removeEventListener(type, listener)`: only listeners added with addEventListener. */
export function removeEventListener(
  this: EventSource,
  type: string,
  handler: EventListenerLike,
): void {
  for (const l of this.listeners(type) as Wrapper[]) {
    if (l[kListener] === handler && !l[kForOnEventAttribute]) {
      this.removeListener(type, l);
      break;
    }
  }
}

/** Define `onopen`, `onerror`, `onclose` and `onmessage` on a prototype, as ws does. */
export function defineEventAttributes(proto: object): void {
  for (const type of ['open', 'error', 'close', 'message']) {
    Object.defineProperty(proto, `on${type}`, {
      enumerable: true,
      configurable: true,
      get(this: EventSource) {
        for (const l of this.listeners(type) as Wrapper[]) {
          if (l[kForOnEventAttribute]) return l[kListener];
        }
        return null;
      },
      set(this: EventSource, handler: unknown) {
        for (const l of this.listeners(type) as Wrapper[]) {
          if (l[kForOnEventAttribute]) {
            this.removeListener(type, l);
            break;
          }
        }
        if (typeof handler !== 'function') return;
        addEventListener.call(this, type, handler as EventListenerLike, {
          [kForOnEventAttribute]: true,
        });
      },
    });
  }
}
