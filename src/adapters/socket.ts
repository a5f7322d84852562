// A `ws`-style socket over one omniws session, for the adapters whose frameworks hand
// their WebSocket handlers a socket (Fastify after @fastify/websocket, Express after
// express-ws): an EventEmitter with send / close / terminate / ping and the events
// 'message', 'ping', 'pong', 'close' and 'error'. `socketHandler` is the omniws handler
// that drives one: the application's function gets the socket when the WebSocket opens.
//
// Where it differs from `ws`: a text message arrives as a string (binary as a Buffer,
// `isBinary` second, as in ws 8), the close reason as a string, and 'error' is emitted
// only when someone listens (the session closes either way).

import { EventEmitter } from 'node:events';
import {
  type CloseReason,
  type Handler,
  type OutFrame,
  ok,
  type SessionApi,
} from '../ws/handler.js';
import type { Session } from '../ws/session.js';
import type { HttpVersion } from '../ws/transport.js';

type ReadyState = 0 | 1 | 2 | 3;

/** What `send` takes: a string is a text message, bytes are a binary one. */
export type SocketData = string | Buffer | ArrayBuffer | ArrayBufferView;

/** Options of `send` (`binary: false` sends bytes as a text message). */
export interface SendOptions {
  binary?: boolean;
}

/** The events of an EventSocket and their arguments. */
export interface EventSocketEvents {
  message: [data: string | Buffer, isBinary: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  close: [code: number, reason: string];
  error: [err: Error];
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A `ws`-style WebSocket over an omniws session (server side, open from the start). */
export class EventSocket extends EventEmitter<EventSocketEvents> {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly #session: Session;
  #ended = false;

  constructor(session: SessionApi) {
    super();
    this.#session = session as Session;
  }

  /** The omniws session underneath: topics (`subscribe`, `publish`), `post`, `drained`. */
  get session(): SessionApi {
    return this.#session;
  }
  /** The subprotocol agreed, '' for none. */
  get protocol(): string {
    return this.#session.subprotocol ?? '';
  }
  /** The Sec-WebSocket-Extensions agreed ('' for none). */
  get extensions(): string {
    return this.#session.extensions;
  }
  /** The HTTP version underneath: '1.1', '2' or '3'. */
  get http(): HttpVersion {
    return this.#session.http;
  }
  get readyState(): ReadyState {
    if (this.#ended) return 3;
    const s = this.#session.readyState;
    return s === 'open' ? 1 : s === 'closing' ? 2 : 3;
  }
  /** Bytes written but not yet sent. */
  get bufferedAmount(): number {
    return this.#session.bufferedAmount;
  }

  /**
   * Send a message: a string as text, bytes as binary (`{ binary: false }`: as text).
   * Once the socket is closing it is not sent, and `cb` gets the error (as in `ws`).
   */
  send(data: SocketData, opts?: SendOptions | ((err?: Error) => void), cb?: (err?: Error) => void) {
    if (typeof opts === 'function') [cb, opts] = [opts, undefined];
    let frame: OutFrame;
    if (typeof data === 'string') frame = data;
    else if (opts?.binary === false)
      frame = { type: 'text', data: Buffer.from(bytesOf(data)).toString() };
    else frame = bytesOf(data);
    this.#send(frame, cb);
  }

  ping(data?: string | Buffer, cb?: (err?: Error) => void): void {
    this.#send({ type: 'ping', data: data ?? '' }, cb);
  }

  pong(data?: string | Buffer, cb?: (err?: Error) => void): void {
    this.#send({ type: 'pong', data: data ?? '' }, cb);
  }

  #send(frame: OutFrame, cb?: (err?: Error) => void): void {
    try {
      this.#session.send(frame);
    } catch (err) {
      if (!cb) return;
      process.nextTick(cb, err as Error);
      return;
    }
    if (cb) process.nextTick(cb);
  }

  /**
   * Start the closing handshake (default 1000). A code RFC 6455 §7.4 does not allow on
   * the wire throws WS_ERR_CLOSE_CODE_NOT_ALLOWED, and nothing is sent.
   */
  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.#session.close(code, reason);
  }

  /** Drop the connection at once, without a closing handshake (close code 1006). */
  terminate(): void {
    if (this.readyState !== 3) this.#session.abort();
  }

  /** @internal The session ended: 'error' for listeners that want it, then 'close'. */
  ended(reason: CloseReason): void {
    this.#ended = true;
    if (reason.error && this.listenerCount('error') > 0) this.emit('error', reason.error);
    this.emit('close', reason.code, reason.reason);
  }
}

/** What the application gives for a WebSocket: a function of the open socket. */
export type OnSocket = (socket: EventSocket) => unknown;

/**
 * The omniws handler behind an EventSocket: `onOpen` gets the socket when the WebSocket
 * opens; an error it throws (or a promise it returns rejects with) goes to `onError`.
 */
export function socketHandler(
  onOpen: OnSocket,
  onError: (err: unknown, socket: EventSocket) => void,
): Handler<EventSocket | null> {
  return {
    init(_req, _state, session) {
      const socket = new EventSocket(session);
      try {
        const r = onOpen(socket) as Promise<unknown> | undefined;
        if (typeof r?.then === 'function') r.then(undefined, (err) => onError(err, socket));
      } catch (err) {
        onError(err, socket);
      }
      return ok(socket);
    },
    handleIn(msg, socket) {
      socket!.emit('message', msg.data, msg.type === 'binary');
      return ok(socket);
    },
    handleControl(ctl, socket) {
      socket!.emit(ctl.type, ctl.data);
      return ok(socket);
    },
    terminate(reason, socket) {
      socket?.ended(reason);
    },
  };
}
