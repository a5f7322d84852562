// What a client connection tells its handler and its caller: where an attempt
// connects, what the handler learns about attempts, opens, disconnects, timeouts and
// pongs, and the connection's state and counters (status()).

import type { UpgradeRequest } from '../ws/handler.js';
import type { HttpVersion } from '../ws/transport.js';
import type { ConnectOptions, HttpChoice } from './connect.js';
import type { RetryReason } from './reconnect.js';

/** Where and how one attempt connects. */
export interface ConnectionInfo {
  host: string;
  port: number;
  /** Path and query. */
  path: string;
  transport: 'tcp' | 'tls';
  /** TLS options for 'tls' (ca, cert, key, servername…). */
  tls?: ConnectOptions<null>['tls'];
  /** The opening handshake must complete within this many ms. */
  handshakeTimeout?: number | undefined;
  /** Subprotocols to offer. */
  subprotocols?: readonly string[] | undefined;
  /** @deprecated `handshakeTimeout` (read when that is undefined). */
  timeout?: number | undefined;
  /** @deprecated `subprotocols` (read when that is undefined). */
  protocols?: readonly string[] | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  http?: HttpChoice | undefined;
}

/**
 * What `connectionInfo()` learns about an attempt: its number, the failures so far, the defaults,
 * the last disconnect.
 */
export interface AttemptInfo {
  /** 1 for the first attempt, then 2, 3… (every attempt, successful or not). */
  readonly attempt: number;
  /** Consecutive failures before this attempt (0: first try, or after a stable connection). */
  readonly failures: number;
  /** The connection info from the URL and options; return changes to it. */
  readonly defaults: Readonly<ConnectionInfo>;
  readonly lastDisconnect: DisconnectReason | undefined;
}

/**
 * What `handleConnect` learns about a session that opened: the upgrade, the attempt, whether it
 * reconnected.
 */
export interface ConnectedInfo {
  /** The upgrade as the session saw it: HTTP version, subprotocol, extensions, response. */
  readonly request: UpgradeRequest;
  readonly attempt: number;
  /** False for the first connection, true for every reconnection. */
  readonly reconnected: boolean;
}

/** Why a client's attempt or session ended, and what the reconnect policy decided next. */
export interface DisconnectReason extends RetryReason {
  readonly reason: string;
  readonly wasClean: boolean;
  /** The attempt whose handshake or connection ended. */
  readonly attempt: number;
  /** The HTTP version of the session that ended (undefined for a failed handshake). */
  readonly http: HttpVersion | undefined;
  /** The policy's decision: the next attempt and its delay, or null. */
  readonly retry: { readonly attempt: number; readonly delay: number } | null;
  /** Why there is no retry. */
  readonly why?: 'closed' | 'not-retryable' | 'max-attempts' | 'no-policy';
}

/** Which client timeout fired, the heartbeat's or the handshake's, with its settings. */
export type TimeoutInfo =
  | { readonly kind: 'heartbeat'; readonly interval: number; readonly timeout: number }
  | { readonly kind: 'handshake'; readonly timeout: number };

/** A pong a client connection received, with the round trip when it answers our heartbeat ping. */
export interface Pong {
  /** Round trip of our heartbeat ping in ms; undefined for a pong that answers none. */
  readonly latency: number | undefined;
  readonly payload: Buffer;
}

/** Where a client connection is: connecting, open, reconnecting, closing or closed. */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/**
 * A snapshot of a client connection (`status()`): state, HTTP version, latency, attempts, byte
 * counts.
 */
export interface ClientStatus {
  readonly state: ClientState;
  /** The HTTP version of the open (or last) session. */
  readonly http: HttpVersion | undefined;
  /** The last heartbeat round trip in ms. */
  readonly latency: number | undefined;
  /** Consecutive failed attempts or short-lived connections (reset by a stable connection). */
  readonly attempts: number;
  /** Sessions opened so far. */
  readonly connects: number;
  /** Payload bytes of data messages received / sent (after prepareFrame). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  /** Frames waiting for a session. */
  readonly queued: number;
  /** Frames dropped by 'drop-oldest', or left in the queue when the connection ended. */
  readonly dropped: number;
  /** Bytes the open session's transport still buffers. */
  readonly bufferedAmount: number;
  readonly lastDisconnect: DisconnectReason | undefined;
}
