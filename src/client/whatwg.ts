// The browser's WebSocket (WHATWG WebSockets Standard, websockets.spec.whatwg.org)
// on top of omniws sessions, over HTTP/1.1, HTTP/2 or HTTP/3:
//
//   new WebSocket(url, protocols?, { http: 1 | 2 | 3 | 'auto', tls, headers, … })
//
// EventTarget events and on* attributes, binaryType, bufferedAmount, readyState,
// protocol, extensions, url, send and close, with the exceptions the standard
// mandates (DOMException SyntaxError / InvalidAccessError / InvalidStateError).
// Where the standard leaves room, undici's behaviour (Node's own WebSocket) is the
// model. Our additions: binaryType 'nodebuffer' (as in `ws`), and an options
// argument (also accepted in place of `protocols`, like undici's WebSocketInit).

import type { Blob as NodeBlob } from 'node:buffer';
import { types } from 'node:util';
import type { CloseReason, Handler } from '../ws/handler.js';
import { ok } from '../ws/handler.js';
import type { Session } from '../ws/session.js';
import { type ConnectOptions, connect } from './connect.js';

/**
 * How the WebSocket class hands over binary messages: a Blob, an ArrayBuffer, or a Node Buffer
 * ('nodebuffer').
 */
export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer';

/** Headers as a record, [name, value] pairs, or a Headers object. */
export type HeadersLike =
  | Readonly<Record<string, string | readonly string[]>>
  | Iterable<readonly [string, string]>
  | Iterable<readonly string[]>;

/**
 * Options of `new WebSocket()`: `connect()`'s, plus protocols, headers and the initial binaryType.
 */
export interface WebSocketOptions
  extends Omit<ConnectOptions<null>, 'handler' | 'state' | 'subprotocols' | 'headers'> {
  /** Subprotocols (when given here rather than as the second argument). */
  protocols?: string | readonly string[];
  headers?: HeadersLike | null;
  /** Initial binaryType (default 'blob'). */
  binaryType?: BinaryType;
}

interface AddEventListenerOptions extends EventListenerOptions {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignal;
}

interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

/** The init dictionary of CloseEvent: close code, reason and wasClean. */
export interface CloseEventInit extends EventInit {
  code?: number;
  reason?: string;
  wasClean?: boolean;
}

/** WHATWG CloseEvent (Node 20 has no global one). */
export class CloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/** The init dictionary of ErrorEvent: the message and the error. */
export interface ErrorEventInit extends EventInit {
  message?: string;
  error?: unknown;
}

/** WHATWG ErrorEvent (Node 20 has no global one); `error` holds the WebSocketError. */
export class ErrorEvent extends Event {
  readonly message: string;
  readonly error: unknown;
  readonly filename = '';
  readonly lineno = 0;
  readonly colno = 0;
  constructor(type: string, init: ErrorEventInit = {}) {
    super(type, init);
    this.message = init.message ?? '';
    this.error = init.error;
  }
}

type Listener<E> = ((ev: E) => any) | null;

/** The events of WebSocket and their event types, for typed listeners. */
export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: Event;
  close: CloseEvent;
}

type AnyListener = ((ev: Event) => void) | { handleEvent(ev: Event): void };

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

// RFC 6455 §4.1 / RFC 2616 §2.2: a subprotocol is a token
function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || '"(),/:;<=>?@[\\]{}'.includes(s[i]!)) return false;
  }
  return true;
}

/** WebIDL `[Clamp] unsigned short` (close's code argument). */
function clampUnsignedShort(v: unknown): number {
  let x = Number(v);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 65535);
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function isIterable(v: unknown): v is Iterable<unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
  );
}

function headerRecord(h: HeadersLike | null | undefined): Record<string, string> | undefined {
  if (h === null || h === undefined) return undefined;
  const out: Record<string, string> = {};
  const add = (k: string, v: string) => {
    const name = String(k).toLowerCase();
    out[name] = out[name] === undefined ? String(v) : `${out[name]}, ${v}`;
  };
  if (isIterable(h)) {
    for (const pair of h as Iterable<readonly string[]>) {
      if (pair.length !== 2) throw new TypeError('a header must be a [name, value] pair');
      add(pair[0]!, pair[1]!);
    }
  } else {
    for (const [k, v] of Object.entries(h)) {
      add(k, typeof v === 'string' ? v : (v as readonly string[]).join(', '));
    }
  }
  return out;
}

/** The URL record of the constructor steps ("get a URL record"). */
function urlRecord(input: string): URL {
  let url: URL;
  try {
    // no base URL in Node: relative URLs fail, as undici's do
    url = new URL(input);
  } catch {
    throw new DOMException(`invalid URL: ${input}`, 'SyntaxError');
  }
  if (url.protocol === 'http:') url = new URL(`ws:${url.href.slice(5)}`);
  else if (url.protocol === 'https:') url = new URL(`wss:${url.href.slice(6)}`);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new DOMException(
      `the URL's scheme must be ws or wss, not ${url.protocol}`,
      'SyntaxError',
    );
  }
  // a '#' can only survive parsing as the fragment delimiter (even an empty fragment)
  if (url.href.includes('#')) {
    throw new DOMException('a WebSocket URL has no fragment', 'SyntaxError');
  }
  return url;
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && types.isArrayBuffer(b.buffer)) {
    return b.buffer;
  }
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return ab;
}

type Outgoing = { size: number; data: string | Uint8Array | Promise<Uint8Array> };

/** The browser's WebSocket API (WHATWG) for Node, over HTTP/1.1, HTTP/2 or HTTP/3. */
export class WebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  declare readonly CONNECTING: typeof CONNECTING;
  declare readonly OPEN: typeof OPEN;
  declare readonly CLOSING: typeof CLOSING;
  declare readonly CLOSED: typeof CLOSED;

  readonly #url: URL;
  #readyState: number = CONNECTING;
  #binaryType: BinaryType = 'blob';
  #protocol = '';
  #extensions = '';
  #session: Session<null> | null = null;
  /** close() before the connection was established: fail it once it settles. */
  #failRequested = false;
  #handlers: {
    open: Listener<Event>;
    message: Listener<MessageEvent>;
    error: Listener<Event>;
    close: Listener<CloseEvent>;
  } = { open: null, message: null, error: null, close: null };

  // bufferedAmount: application bytes queued by send() and not yet handed to the network
  #unflushed = 0;
  #holding = false;
  #outgoing: Outgoing[] = [];
  #outgoingBytes = 0;
  #discarded = 0;
  #frozen: number | null = null;

  constructor(
    url: string | URL,
    protocols?: string | readonly string[] | WebSocketOptions | null,
    options?: WebSocketOptions,
  ) {
    super();
    // biome-ignore lint/complexity/noArguments: WebIDL checks the argument count
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required");
    }
    let opts: WebSocketOptions = options ?? {};
    let list: string | Iterable<unknown> | undefined;
    if (protocols !== null && typeof protocols === 'object' && !isIterable(protocols)) {
      opts = { ...(protocols as WebSocketOptions), ...options };
      list = opts.protocols;
    } else if (protocols !== undefined) {
      list = protocols === null ? 'null' : (protocols as string | readonly string[]);
    } else {
      list = opts.protocols;
    }
    // 1–2. Get a URL record (http → ws, https → wss; other schemes and fragments fail).
    this.#url = urlRecord(String(url));
    // 3. If protocols is a string, set protocols to a sequence consisting of just that string.
    const subprotocols =
      list === undefined ? [] : typeof list === 'string' ? [list] : [...list].map(String);
    // 4. "If any of the values in protocols occur more than once or otherwise fail to
    // match the requirements for elements that comprise the value of
    // `Sec-WebSocket-Protocol` fields as defined by The WebSocket protocol, then throw a
    // "SyntaxError" DOMException." (duplicates compared without case, as undici does)
    if (new Set(subprotocols.map((p) => p.toLowerCase())).size !== subprotocols.length) {
      throw new DOMException('duplicate subprotocol', 'SyntaxError');
    }
    for (const p of subprotocols) {
      if (!isToken(p)) throw new DOMException(`invalid subprotocol ${p}`, 'SyntaxError');
    }
    if (opts.binaryType !== undefined) this.binaryType = opts.binaryType;

    const { protocols: _p, headers, binaryType: _b, ...rest } = opts;
    const handler: Handler<null> = {
      init: (req, _s, session) => {
        this.#session = session as Session<null>;
        if (this.#failRequested) {
          (session as Session<null>).abort();
          return ok(null);
        }
        this.#readyState = OPEN;
        this.#protocol = req.subprotocol ?? '';
        this.#extensions = req.extensions;
        // held until the open event was dispatched: no message before 'open'
        return Promise.resolve().then(() => {
          this.dispatchEvent(new Event('open'));
          return ok(null);
        });
      },
      handleIn: (msg) => {
        // "If ready state is not OPEN (1), then return."
        if (this.readyState !== OPEN) return ok(null);
        let data: unknown;
        if (msg.type === 'text') data = msg.data;
        else if (this.#binaryType === 'blob') data = new Blob([msg.data]);
        else if (this.#binaryType === 'arraybuffer') data = toArrayBuffer(msg.data);
        else data = msg.data;
        this.dispatchEvent(new MessageEvent('message', { data, origin: this.#url.origin }));
        return ok(null);
      },
      terminate: (reason) => this.#onClose(reason),
    };
    let pending: Promise<Session<null>>;
    // throws at once for options that cannot work (an unavailable HTTP version)
    pending = connect(this.#url, {
      ...rest,
      ...(subprotocols.length > 0 && { subprotocols }),
      ...(headers !== undefined && headers !== null && { headers: headerRecord(headers) }),
      handler,
      state: null,
    });
    pending = pending.then((session) => {
      this.#session = session;
      return session;
    });
    pending.catch((err: unknown) => this.#onFailedHandshake(err));
  }

  // ── attributes ─────────────────────────────────────────────────────────────

  get url(): string {
    return this.#url.href;
  }

  get readyState(): number {
    const s = this.#session;
    if (this.#readyState === OPEN && s && s.readyState !== 'open') return CLOSING;
    return this.#readyState;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get extensions(): string {
    return this.#extensions;
  }

  /**
   * 'blob' (default), 'arraybuffer', or our 'nodebuffer' (a Buffer, as `ws` gives).
   * As in undici, any other value sets 'blob'. The getter is typed with the WHATWG
   * values only, so that this class is assignable to globalThis.WebSocket; at run
   * time it reads back 'nodebuffer' when that was set.
   */
  get binaryType(): 'blob' | 'arraybuffer' {
    return this.#binaryType as 'blob' | 'arraybuffer';
  }

  set binaryType(type: BinaryType | (string & {})) {
    this.#binaryType =
      type === 'arraybuffer' || type === 'nodebuffer' ? (type as BinaryType) : 'blob';
  }

  /**
   * Bytes of application data queued by send() and not yet transmitted: they stay
   * counted for the rest of the task that sent them, and data sent once closing is
   * counted and never sent, as the standard says.
   */
  get bufferedAmount(): number {
    if (this.#frozen !== null) return this.#frozen + this.#discarded;
    return this.#inFlight() + this.#outgoingBytes + this.#discarded;
  }

  get onopen(): Listener<Event> {
    return this.#handlers.open;
  }
  set onopen(fn: Listener<Event>) {
    this.#setHandler('open', fn);
  }
  get onmessage(): Listener<MessageEvent> {
    return this.#handlers.message;
  }
  set onmessage(fn: Listener<MessageEvent>) {
    this.#setHandler('message', fn);
  }
  get onerror(): Listener<Event> {
    return this.#handlers.error;
  }
  set onerror(fn: Listener<Event>) {
    this.#setHandler('error', fn);
  }
  get onclose(): Listener<CloseEvent> {
    return this.#handlers.close;
  }
  set onclose(fn: Listener<CloseEvent>) {
    this.#setHandler('close', fn);
  }

  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: AnyListener | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: any, options?: any): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: AnyListener | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: any, options?: any): void {
    super.removeEventListener(type, listener, options);
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocket';
  }

  #setHandler(type: 'open' | 'message' | 'error' | 'close', fn: unknown): void {
    const old = this.#handlers[type];
    if (old) this.removeEventListener(type, old as (ev: Event) => void);
    if (typeof fn === 'function') {
      this.#handlers[type] = fn as never;
      this.addEventListener(type, fn as (ev: Event) => void);
    } else {
      this.#handlers[type] = null;
    }
  }

  // ── methods ────────────────────────────────────────────────────────────────

  send(data: string | ArrayBufferLike | NodeBlob | Blob | ArrayBufferView): void {
    // biome-ignore lint/complexity/noArguments: WebIDL checks the argument count
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required");
    }
    // WebIDL: (BufferSource or Blob or USVString)
    let item: Outgoing;
    if (data instanceof Blob) {
      const blob = data as Blob;
      item = { size: blob.size, data: blob.arrayBuffer().then((ab) => new Uint8Array(ab)) };
    } else if (types.isArrayBuffer(data) || types.isSharedArrayBuffer(data)) {
      const u = new Uint8Array(data as ArrayBuffer);
      item = { size: u.byteLength, data: u };
    } else if (ArrayBuffer.isView(data)) {
      const u = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      item = { size: u.byteLength, data: u };
    } else {
      // USVString: lone surrogates become U+FFFD on the way to UTF-8
      const s = `${data as string}`;
      item = { size: Buffer.byteLength(s, 'utf8'), data: s };
    }
    // 1. "If this's ready state is CONNECTING, then throw an "InvalidStateError" DOMException."
    const state = this.readyState;
    if (state === CONNECTING) {
      throw new DOMException('the WebSocket is not open yet', 'InvalidStateError');
    }
    // 2. Send only while established and not closing; "Any invocation of this method …
    // that does not throw an exception must increase the bufferedAmount attribute".
    if (state !== OPEN) {
      this.#discarded += item.size;
      return;
    }
    if (this.#outgoing.length > 0 || (typeof item.data === 'object' && 'then' in item.data)) {
      this.#outgoing.push(item);
      this.#outgoingBytes += item.size;
      if (this.#outgoing.length === 1) void this.#pump();
      return;
    }
    this.#write(item.data as string | Uint8Array, item.size);
  }

  close(code?: number, reason?: string): void {
    // 1. "If code is present, but is neither an integer equal to 1000 nor an integer in
    // the range 3000 to 4999, inclusive, throw an "InvalidAccessError" DOMException."
    let c: number | undefined;
    if (code !== undefined) {
      c = clampUnsignedShort(code);
      if (c !== 1000 && !(c >= 3000 && c <= 4999)) {
        throw new DOMException(
          `close code must be 1000 or 3000-4999, not ${c}`,
          'InvalidAccessError',
        );
      }
    }
    // 2. "If reasonBytes is longer than 123 bytes, then throw a "SyntaxError" DOMException."
    let r = '';
    if (reason !== undefined) {
      r = Buffer.from(`${reason}`, 'utf8').toString('utf8');
      if (Buffer.byteLength(r, 'utf8') > 123) {
        throw new DOMException('the close reason is longer than 123 bytes', 'SyntaxError');
      }
    }
    // 3. Close the WebSocket
    const state = this.readyState;
    if (state === CLOSING || state === CLOSED) return;
    if (state === CONNECTING) {
      // "Fail the WebSocket connection and set this's ready state to CLOSING."
      this.#failRequested = true;
      this.#readyState = CLOSING;
      return;
    }
    this.#readyState = CLOSING;
    // a close frame always carries a code here: 1000 when none was given
    try {
      this.#session?.close(c ?? 1000, r);
    } catch {
      // the session is already closing
    }
  }

  // ── internals ──────────────────────────────────────────────────────────────

  #write(data: string | Uint8Array, size: number): void {
    const s = this.#session;
    if (!s || this.readyState !== OPEN) {
      this.#discarded += size;
      return;
    }
    try {
      s.send(data);
    } catch {
      this.#discarded += size;
      return;
    }
    this.#unflushed += size;
    if (!this.#holding) {
      // counted until the end of this task, then read from the transport
      this.#holding = true;
      setImmediate(() => {
        this.#holding = false;
      });
    }
  }

  #inFlight(): number {
    if (this.#holding || this.#unflushed === 0) return this.#unflushed;
    const buffered = this.#session?.bufferedAmount ?? 0;
    if (buffered === 0) this.#unflushed = 0;
    else if (buffered < this.#unflushed) this.#unflushed = buffered;
    return this.#unflushed;
  }

  /** Sends in order once a Blob ahead has been read. */
  async #pump(): Promise<void> {
    while (this.#outgoing.length > 0) {
      const item = this.#outgoing[0]!;
      let data: string | Uint8Array;
      try {
        data = await item.data;
      } catch {
        data = new Uint8Array(0);
      }
      this.#outgoing.shift();
      this.#outgoingBytes -= item.size;
      this.#write(data, item.size);
    }
  }

  #onFailedHandshake(err: unknown): void {
    if (this.#readyState === CLOSED) return;
    this.#frozen = this.#outgoingBytes;
    this.#readyState = CLOSED;
    const message = err instanceof Error ? err.message : String(err);
    this.dispatchEvent(new ErrorEvent('error', { message, error: err }));
    this.dispatchEvent(new CloseEvent('close', { code: 1006, reason: '', wasClean: false }));
  }

  #onClose(r: CloseReason): void {
    if (this.#readyState === CLOSED) return;
    this.#frozen = this.#inFlight() + this.#outgoingBytes;
    this.#readyState = CLOSED;
    const lost =
      r.error !== undefined &&
      'code' in r.error &&
      (r.error.code === 'WS_ERR_CONNECTION_LOST' || r.error.code === 'WS_ERR_TRANSPORT');
    // "If the user agent was required to fail the WebSocket connection … fire an event named error"
    const failed = this.#failRequested || (r.kind === 'error' && !lost);
    if (failed) {
      this.dispatchEvent(
        new ErrorEvent('error', { message: r.error?.message ?? 'failed', error: r.error }),
      );
    }
    // "If no Close control frame was received … the WebSocket Connection Close Code is 1006"
    const code = r.kind === 'error' || r.kind === 'timeout' ? 1006 : r.code;
    this.dispatchEvent(
      new CloseEvent('close', {
        code,
        reason: code === 1006 ? '' : r.reason,
        wasClean: r.wasClean,
      }),
    );
  }
}

for (const [name, value] of [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const) {
  const d = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(WebSocket, name, d);
  Object.defineProperty(WebSocket.prototype, name, d);
}
