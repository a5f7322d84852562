// ws's WebSocket class on an omniws session: the same class on both sides (a server's
// sockets are made with `new WebSocket(null)`), an EventEmitter with ws's events, methods,
// attributes, errors and EventTarget emulation. The session engine frames, validates,
// compresses and closes; this class turns its handler calls into ws's events. A client
// starts its handshake in ./client.ts (HTTP/1.1 as ws does it, HTTP/2 and HTTP/3 through
// connect()).

import { EventEmitter } from 'node:events';
import type { CloseReason, Handler, Message, Result } from '../../ws/handler.js';
import { ok } from '../../ws/handler.js';
import type { Session } from '../../ws/session.js';
import { utf8Of } from '../../ws/text.js';
import { startClient } from './client.js';
import {
  BINARY_TYPES,
  type BinaryType,
  CLOSED,
  CLOSING,
  CONNECTING,
  EMPTY_BUFFER,
  notOpenMessage,
  OPEN,
} from './constants.js';
import {
  binaryAs,
  checkedCloseReason,
  type Data,
  extensionNames,
  isBlob,
  toBuffer,
} from './data.js';
import { errorOf } from './errors.js';
import {
  addEventListener,
  defineEventAttributes,
  type EventListenerLike,
  kWasClean,
  removeEventListener,
} from './event-target.js';
import type { ClientHost, OpenHooks } from './internal.js';
import type { ClientOptions } from './options.js';
import { type Callback, Sender } from './sender.js';

const OK: Result<null> = ok(null);

/** Options of send(). */
export interface SendOptions {
  binary?: boolean;
  /** Accepted; compression follows permessage-deflate's `threshold` (docs/ws-compat.md). */
  compress?: boolean;
  fin?: boolean;
  /** Accepted and ignored: clients always mask, servers never do (RFC 6455 §5.1). */
  mask?: boolean;
}

/** The handler of a server's socket, with its hooks: for the server code only. */
export let handlerOf: (ws: WebSocket, hooks: OpenHooks) => Handler<null>;

/** ws's WebSocket (doc/ws.md "Class: WebSocket"), over HTTP/1.1, HTTP/2 or HTTP/3. */
export class WebSocket extends EventEmitter {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;
  declare onopen: ((event: any) => void) | null;
  declare onmessage: ((event: any) => void) | null;
  declare onclose: ((event: any) => void) | null;
  declare onerror: ((event: any) => void) | null;
  declare addEventListener: (
    type: string,
    listener: EventListenerLike,
    options?: { once?: boolean },
  ) => void;
  declare removeEventListener: (type: string, listener: EventListenerLike) => void;

  static {
    handlerOf = (ws, hooks) => ws.#handler(hooks);
  }

  #readyState: number = CONNECTING;
  #binaryType: BinaryType = 'nodebuffer';
  #protocol = '';
  #extensions = '';
  #url: string | undefined;
  #session: Session<null> | null = null;
  readonly #sender: Sender;
  #paused = false;
  /** Delivers the event held while paused. */
  #held: (() => void) | null = null;
  /** Bytes of sends after close (ws counts them in bufferedAmount). */
  #afterClose = 0;
  #wasClean = false;
  /** While connecting: how close() and terminate() abort the handshake. */
  #abort: (() => void) | null = null;

  /**
   * A client: `new WebSocket(address, protocols?, options?)` starts the handshake at once.
   * `address` null makes a server's socket (servers do that).
   */
  constructor(
    address: string | URL | null,
    protocols?: string | readonly string[] | ClientOptions,
    options?: ClientOptions,
  ) {
    super();
    this.#sender = new Sender({
      session: () => this.#session,
      readyState: () => this.readyState,
    });
    if (address === null) return;
    let list: readonly string[];
    let opts = options;
    if (protocols === undefined) {
      list = listOf(opts?.protocols);
    } else if (Array.isArray(protocols)) {
      list = protocols;
    } else if (typeof protocols === 'object' && protocols !== null) {
      opts = protocols as ClientOptions;
      list = listOf(opts.protocols);
    } else {
      list = [protocols as string];
    }
    startClient(this.#clientHost(), address, list, opts ?? {});
  }

  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(type: BinaryType) {
    if ((BINARY_TYPES as readonly string[]).includes(type)) this.#binaryType = type;
  }

  /** Bytes queued by send() and not yet handed to the network (framing included). */
  get bufferedAmount(): number {
    return (this.#session?.bufferedAmount ?? 0) + this.#afterClose + this.#sender.pendingBytes;
  }

  /** The names of the negotiated extensions ('permessage-deflate' or ''). */
  get extensions(): string {
    return this.#extensions;
  }

  get isPaused(): boolean {
    return this.#paused;
  }

  get protocol(): string {
    return this.#protocol;
  }

  get readyState(): number {
    const s = this.#session;
    if (this.#readyState === OPEN && s !== null && s.readyState !== 'open') return CLOSING;
    return this.#readyState;
  }

  /** The URL of a client; undefined on a server's socket. */
  get url(): string {
    return this.#url as string;
  }

  get [kWasClean](): boolean {
    return this.#wasClean;
  }

  close(code?: number, data?: string | Buffer): void {
    const state = this.readyState;
    if (state === CLOSED) return;
    if (state === CONNECTING) {
      this.#abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    // ws: a second close() only ends the socket once both close frames went; the engine does
    if (state === CLOSING) return;
    const reason = checkedCloseReason(code, data);
    this.#readyState = CLOSING;
    try {
      // the engine always sends a code: 1000 where ws would send an empty close frame
      this.#session!.close(code ?? 1000, reason);
    } catch {
      // closing already
    }
  }

  pause(): void {
    const state = this.readyState;
    if (state === CONNECTING || state === CLOSED) return;
    this.#paused = true;
  }

  resume(): void {
    const state = this.readyState;
    if (state === CONNECTING || state === CLOSED) return;
    this.#paused = false;
    this.#held?.();
  }

  ping(data?: Data | Callback, mask?: boolean | Callback, cb?: Callback): void {
    this.#control('ping', data, mask, cb);
  }

  pong(data?: Data | Callback, mask?: boolean | Callback, cb?: Callback): void {
    this.#control('pong', data, mask, cb);
  }

  send(data: Data, options?: SendOptions | Callback, cb?: Callback): void {
    if (this.readyState === CONNECTING) throw new Error(notOpenMessage(CONNECTING));
    if (typeof options === 'function') {
      cb = options;
      options = {};
    }
    if (typeof data === 'number') data = data.toString();
    if (this.readyState !== OPEN) {
      this.#sendAfterClose(data, cb);
      return;
    }
    const binary = options?.binary ?? typeof data !== 'string';
    this.#sender.send(data || EMPTY_BUFFER, binary, options?.fin ?? true, cb);
  }

  terminate(): void {
    const state = this.readyState;
    if (state === CLOSED) return;
    if (state === CONNECTING) {
      this.#abortHandshake('WebSocket was closed before the connection was established');
      return;
    }
    this.#readyState = CLOSING;
    // what was held by pause() is delivered before 'close', as ws's receiver does
    this.#paused = false;
    this.#held?.();
    this.#session?.abort();
  }

  // ── internals ──────────────────────────────────────────────────────────────

  #control(type: 'ping' | 'pong', data: unknown, mask: unknown, cb: Callback | undefined): void {
    if (this.readyState === CONNECTING) throw new Error(notOpenMessage(CONNECTING));
    if (typeof data === 'function') {
      cb = data as Callback;
      data = undefined;
    } else if (typeof mask === 'function') {
      cb = mask as Callback;
    }
    if (typeof data === 'number') data = data.toString();
    if (this.readyState !== OPEN) {
      this.#sendAfterClose(data as Data, cb);
      return;
    }
    const buf = toBuffer(data || EMPTY_BUFFER);
    if (buf.length > 125) throw new RangeError('The data size must not be greater than 125 bytes');
    this.#sender.control(type, buf, cb);
  }

  #sendAfterClose(data: Data, cb: Callback | undefined): void {
    if (data) this.#afterClose += isBlob(data) ? data.size : toBuffer(data).length;
    if (cb) process.nextTick(cb, new Error(notOpenMessage(this.readyState)));
  }

  /** Calls of the session's handler wait here while paused. */
  #gate(deliver: () => void): Result<null> | Promise<Result<null>> {
    if (!this.#paused) {
      deliver();
      return OK;
    }
    return new Promise((resolve, reject) => {
      this.#held = () => {
        this.#held = null;
        try {
          deliver();
          resolve(OK);
        } catch (err) {
          reject(err);
        }
      };
    });
  }

  #emitMessage(msg: Message): void {
    // ws gives text as the Buffer it arrived in, whatever binaryType says
    if (msg.type === 'text') this.emit('message', utf8Of(msg.data), false);
    else this.emit('message', binaryAs(this.#binaryType, msg.data), true);
  }

  #handler(hooks: OpenHooks): Handler<null> {
    let attached = false;
    return {
      init: (req, _state, api) => {
        const session = api as Session<null>;
        // closed while connecting, or from a listener of the client's 'upgrade' event
        if (this.#readyState !== CONNECTING || hooks.beforeOpen?.(req) === false) {
          session.abort();
          return OK;
        }
        attached = true;
        this.#session = session;
        this.#abort = null;
        this.#protocol = req.subprotocol ?? '';
        this.#extensions = extensionNames(req.extensions);
        this.#readyState = OPEN;
        this.emit('open');
        hooks.afterOpen?.();
        return OK;
      },
      handleIn: (msg) => this.#gate(() => this.#emitMessage(msg)),
      handleControl: (ctl) => this.#gate(() => this.emit(ctl.type, ctl.data)),
      terminate: (reason) => {
        if (attached) this.#ended(reason);
      },
    };
  }

  /** The session ended: ws's 'error' (for a protocol error) and 'close' events. */
  #ended(r: CloseReason): void {
    if (this.#readyState === CLOSED) return;
    const err = errorOf(r, this.#extensions !== '');
    this.#readyState = CLOSING;
    this.#wasClean = r.wasClean;
    // ws reports the code of the close frame it received, 1006 when none came
    const received = r.kind === 'remote' || (r.wasClean && r.kind !== 'error');
    const code = received ? r.code : 1006;
    const reason = received && r.reason !== '' ? Buffer.from(r.reason) : EMPTY_BUFFER;
    this.#sender.fail();
    try {
      if (err) this.#emitError(err);
    } finally {
      this.#readyState = CLOSED;
      this.emit('close', code, reason);
    }
  }

  /** 'error' as EventEmitter does it, but without listeners thrown outside the engine (as in ws). */
  #emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else
      process.nextTick(() => {
        throw err;
      });
  }

  #abortHandshake(message: string): void {
    this.#readyState = CLOSING;
    const abort = this.#abort;
    this.#abort = null;
    abort?.();
    const err = new Error(message);
    process.nextTick(() => this.#failHandshake(err));
  }

  /** ws's emitErrorAndClose. */
  #failHandshake(err: Error | null): void {
    if (this.#readyState === CLOSED) return;
    this.#readyState = CLOSING;
    this.#abort = null;
    try {
      if (err) this.#emitError(err);
    } finally {
      this.#readyState = CLOSED;
      this.emit('close', 1006, EMPTY_BUFFER);
    }
  }

  #clientHost(): ClientHost {
    return {
      ws: this,
      handler: (hooks = {}) => this.#handler(hooks),
      setUrl: (url) => {
        this.#url = url;
      },
      onAbort: (abort) => {
        this.#abort = abort;
      },
      fail: (err) => this.#failHandshake(err),
      closing: () => {
        this.#readyState = CLOSING;
      },
    };
  }
}

function listOf(p: string | readonly string[] | undefined): readonly string[] {
  return p === undefined ? [] : typeof p === 'string' ? [p] : p;
}

const STATES = [
  ['CONNECTING', CONNECTING],
  ['OPEN', OPEN],
  ['CLOSING', CLOSING],
  ['CLOSED', CLOSED],
] as const;
for (const [name, value] of STATES) {
  Object.defineProperty(WebSocket, name, { enumerable: true, value });
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true, value });
}
for (const name of [
  'binaryType',
  'bufferedAmount',
  'extensions',
  'isPaused',
  'protocol',
  'readyState',
  'url',
]) {
  Object.defineProperty(WebSocket.prototype, name, { enumerable: true });
}
defineEventAttributes(WebSocket.prototype);
Object.assign(WebSocket.prototype, { addEventListener, removeEventListener });
