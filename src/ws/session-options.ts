// What a session can be told: the limits on what it accepts, its timeouts, how much it
// queues to a busy handler and buffers for a slow peer, fragmentation, the mask source
// (client) and the negotiated extension. Read by the session and its helpers; the
// defaults live where each option is applied.

import type { MessageExtension } from './extensions.js';

/** Frame and message size limits (default 16 MiB and 64 MiB; above them: close 1009). */
export interface Limits {
  /** Largest frame payload accepted (default 16 MiB); above it: close 1009. */
  maxFrame?: number;
  /** Largest message accepted (default 64 MiB); above it: close 1009. */
  maxMessage?: number;
}

/**
 * Per-WebSocket settings: size limits, timeouts, handler-queue and send-buffer bounds,
 * fragmentation, error hook.
 */
export interface SessionOptions extends Limits {
  /** Wait this long for the peer's close frame / for the transport to close (default 10 s). */
  closeTimeout?: number;
  /** Close with 1001 after this long without receiving anything (default 0: never). */
  idleTimeout?: number;
  /** Messages queued to a busy handler before reading pauses (default 64). */
  maxQueued?: number;
  /**
   * Bytes of messages queued to a busy handler before reading pauses (default 1 MiB):
   * with `maxQueued` alone, 64 queued messages of up to `maxMessage` each could be held.
   */
  maxQueuedBytes?: number;
  /** Split outgoing data messages into frames of at most this many bytes (default 0: never). */
  fragmentSize?: number;
  /**
   * Slow consumers: once this many bytes wait unsent (the peer does not read), a further
   * data message is refused as `onSlowConsumer` says (default 16 MiB; Infinity: never).
   */
  maxBuffered?: number;
  /**
   * What `send` does with a data message while `maxBuffered` is exceeded: 'close' (default)
   * closes with 1008 "slow consumer" (WS_ERR_SLOW_CONSUMER); 'drop' drops the message.
   * Either way the message is not sent and `send` returns false.
   */
  onSlowConsumer?: 'close' | 'drop';
  /** Errors that cannot be returned to anyone (a throwing terminate, a failed handler). */
  onError?: (err: Error) => void;
  /** The negotiated message extension (permessage-deflate), if any. */
  extension?: MessageExtension | undefined;
}
