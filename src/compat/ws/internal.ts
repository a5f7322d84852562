// What the handshake code (client-h1.ts, client-connect.ts, the server) may do to a
// WebSocket that is still connecting, without reaching into its private state: the one
// handler its session runs, how close() aborts a pending handshake, how a failed one ends.

import type { EventEmitter } from 'node:events';
import type { Handler, UpgradeRequest } from '../../ws/handler.js';

/** Hooks into the session's `init`, around the 'open' event. */
export interface OpenHooks {
  /** Before 'open' (a client's 'upgrade' event); false: the application closed meanwhile. */
  beforeOpen?(req: UpgradeRequest): boolean;
  /** After 'open': a server tracks the client and emits 'connection'. */
  afterOpen?(): void;
}

/** A client WebSocket as its handshake sees it. */
export interface ClientHost {
  /** The WebSocket, for its events and its readyState. */
  readonly ws: EventEmitter & { readonly readyState: number };
  /** The handler of the session the handshake will start. */
  handler(hooks?: OpenHooks): Handler<null>;
  setUrl(url: string): void;
  /** How close() / terminate() abort the handshake while connecting (null: nothing to abort). */
  onAbort(abort: (() => void) | null): void;
  /** The handshake failed: readyState CLOSING, 'error' (unless null), then 'close' 1006. */
  fail(err: Error | null): void;
  /** readyState CLOSING before the failure is reported (ws's abortHandshake). */
  closing(): void;
}
