// The handler API (after erlang_ws, WebSock and roadrunner): a handler is a set
// of callbacks over an explicit state; every callback returns a Result saying
// what to do next: `ok` (carry on), `reply` (send frames) or `stop` (close).
// The session calls them strictly in order, one at a time, awaiting async ones.

import { validateClose } from './close.js';
import type { HttpVersion } from './transport.js';

/** A complete message received: text as a string, binary as a Buffer. */
export type Message = { type: 'text'; data: string } | { type: 'binary'; data: Buffer };
/** A ping or pong received, with its payload. */
export type Control = { type: 'ping' | 'pong'; data: Buffer };

/** A frame to send: a string is a text message, bytes a binary message. */
export type OutFrame =
  | string
  | Uint8Array
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping' | 'pong'; data?: Uint8Array | string }
  | { type: 'close'; code?: number; reason?: string };

/** What can be published: a string is a text message, bytes a binary message. */
export type TopicData =
  | string
  | Uint8Array
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array };

/** How a message is published. */
export interface PublishOptions {
  /**
   * Compress for subscribers that agreed permessage-deflate (default true). false sends
   * every subscriber the plain frame.
   */
  compress?: boolean;
}

/** How a session subscribes. */
export interface SubscribeOptions {
  /**
   * Before each message that has a position in its topic's history, send the text
   * `{"omniws.position":"<position>","topic":"<topic>"}` (docs/scaling.md).
   */
  positions?: boolean;
  /**
   * Recover what was published after this position first (the history adapter replays
   * it), then go live; implies `positions`. Ends with `{"omniws.recovered":<count>,…}`,
   * or `{"omniws.lost":"<since>",…}` when the history no longer reaches back that far.
   */
  since?: string;
}

export interface ResultOptions {
  /** Release per-connection buffers until the next event (docs/handler.md: hibernation). */
  hibernate?: boolean;
}

/**
 * What a handler callback returns: the next state, and go on (ok), send (reply) or close (stop).
 */
export type Result<S> =
  | { readonly result: 'ok'; readonly state: S; readonly hibernate?: boolean }
  | {
      readonly result: 'reply';
      readonly state: S;
      readonly frames: readonly OutFrame[];
      readonly hibernate?: boolean;
    }
  | {
      readonly result: 'stop';
      readonly state: S;
      readonly code?: number;
      readonly reason?: string;
    };

/** Go on with the new state, sending nothing. */
export function ok<S>(state: S, opts?: ResultOptions): Result<S> {
  return opts?.hibernate ? { result: 'ok', state, hibernate: true } : { result: 'ok', state };
}

/** Go on with the new state after sending `frames`. */
export function reply<S>(
  state: S,
  frames: OutFrame | readonly OutFrame[],
  opts?: ResultOptions,
): Result<S> {
  const list = Array.isArray(frames) ? (frames as readonly OutFrame[]) : [frames as OutFrame];
  return opts?.hibernate
    ? { result: 'reply', state, frames: list, hibernate: true }
    : { result: 'reply', state, frames: list };
}

/**
 * Close the WebSocket (default 1000). A code or reason that may not be sent
 * (RFC 6455 §7.4) throws here, in the handler that asked for it.
 */
export function stop<S>(state: S, code?: number, reason?: string): Result<S> {
  if (code !== undefined || reason !== undefined) validateClose(code, reason);
  const r: { result: 'stop'; state: S; code?: number; reason?: string } = { result: 'stop', state };
  if (code !== undefined) r.code = code;
  if (reason !== undefined) r.reason = reason;
  return r;
}

/** What the handler learns about the upgrade, on either side. */
export interface UpgradeRequest {
  readonly http: HttpVersion;
  readonly secure: boolean;
  readonly method: string;
  /** Path and query as requested. */
  readonly path: string;
  readonly authority: string | undefined;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The subprotocol in use, or undefined. */
  readonly subprotocol: string | undefined;
  /** The Sec-WebSocket-Extensions value in use ('' for none). */
  readonly extensions: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** Client side: the server's response (status and lower-case headers). */
  readonly response?: {
    readonly status: number;
    readonly headers: Readonly<Record<string, string>>;
  };
}

/** How a session ended: normal, remote, shutdown, timeout or error (see CloseReason). */
export type CloseKind = 'normal' | 'remote' | 'shutdown' | 'timeout' | 'error';

/** Why a session ended (WebSock's close_reason), with the close code and reason seen. */
export interface CloseReason {
  /**
   * normal: we closed (stop / session.close) and the peer answered;
   * remote: the peer closed; shutdown: the server is going away;
   * timeout: idle or close timeout; error: protocol error, handler error, lost connection.
   */
  readonly kind: CloseKind;
  /** The close code (1006 when no close frame was exchanged). */
  readonly code: number;
  readonly reason: string;
  readonly error?: Error;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;
}

/** What a handler can do with its session: send, wait for the drain, close, post itself an info. */
export interface SessionApi {
  readonly http: HttpVersion;
  readonly subprotocol: string | undefined;
  readonly extensions: string;
  /** False once the transport is above its high-water mark (the frames are still queued). */
  send(frames: OutFrame | readonly OutFrame[]): boolean;
  /** Resolves when the transport has drained below its high-water mark (at once when it is). */
  drained(): Promise<void>;
  close(code?: number, reason?: string): void;
  post(info: unknown): void;
  /**
   * Subscribe to `topic` (server sessions): messages published to it are delivered until
   * `unsubscribe` or the end of the session. False when subscribed already.
   */
  subscribe(topic: string, opts?: SubscribeOptions): boolean;
  /** Stop receiving `topic`'s messages. False when not subscribed. */
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  /** The topics this session is subscribed to. */
  readonly topics: ReadonlySet<string>;
  /**
   * Publish `data` to every subscriber of `topic` but this session (the server's
   * `publish` includes everyone). Returns how many subscribers it was queued for.
   */
  publish(topic: string, data: TopicData, opts?: PublishOptions): number;
}

export type Awaitable<T> = T | Promise<T>;

/** Whether a callback's result is to be awaited (any thenable). */
export function isPromise<T>(x: unknown): x is Promise<T> {
  return (
    typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function'
  );
}

/**
 * A WebSocket's callbacks: `init`, one per message, control frame or posted info, and `terminate`
 * last.
 */
export interface Handler<S> {
  init?(req: UpgradeRequest, state: S, session: SessionApi): Awaitable<Result<S>>;
  /** A complete text or binary message. */
  handleIn(msg: Message, state: S, session: SessionApi): Awaitable<Result<S>>;
  /** A ping or pong; the pong to a ping has already been sent. */
  handleControl?(ctl: Control, state: S, session: SessionApi): Awaitable<Result<S>>;
  /** Whatever was given to `session.post(info)`. */
  handleInfo?(info: unknown, state: S, session: SessionApi): Awaitable<Result<S>>;
  /** Called exactly once, last. */
  terminate?(reason: CloseReason, state: S): void | Promise<void>;
}
