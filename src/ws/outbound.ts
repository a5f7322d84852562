// The outgoing side of a session: a frame to send becomes protocol calls (UTF-8,
// fragmentation, the message extension's encode), data for a peer that does not read
// is refused by the slow-consumer policy, and messages whose encode is asynchronous
// (permessage-deflate) go out in order, with a close that waits behind them. The
// session checks that it may send at all and hands over its current protocol.

import { WebSocketError } from './errors.js';
import type { EncodedMessage } from './extensions.js';
import { isPromise, type OutFrame } from './handler.js';
import type { Protocol } from './protocol.js';
import type { SessionOptions } from './session-options.js';
import { utf8Of } from './text.js';
import type { Transport } from './transport.js';

/** `maxBuffered` when not given: 16 MiB. */
export const DEFAULT_MAX_BUFFERED = 16 * 1024 * 1024;

/** WS_ERR_SLOW_CONSUMER: more than `max` bytes wait unsent. */
export function slowConsumerError(max: number): WebSocketError {
  return new WebSocketError(
    'WS_ERR_SLOW_CONSUMER',
    `more than ${max} bytes wait unsent: the peer does not read`,
    { closeCode: 1008 },
  );
}

/** What the outgoing side asks of its session. */
export interface OutboundHost {
  /** The session's protocol, or null once it ended (a session with encodes pending never hibernates). */
  currentProtocol(): Protocol | null;
  transportClosed(): boolean;
  terminated(): boolean;
  /** Whether the session may still send (not closing, not closed). */
  canSend(): boolean;
  /** Whether a close reason is set already. */
  closing(): boolean;
  /** Close as failed, with this code on the wire. */
  closeOnError(code: number, reason: string, err: WebSocketError): void;
  /** A close frame among the frames to send. */
  close(code?: number, reason?: string): void;
  /** Write a frame encoded elsewhere (a topic's shared frame), in order. */
  writeFramed(frame: readonly Uint8Array[]): void;
  /** An asynchronous encode failed while the session was still up. */
  encodeFailed(err: unknown): void;
  /** The last pending encode went out. */
  encodesDone(): void;
}

export class Outbound {
  readonly #host: OutboundHost;
  readonly #opts: SessionOptions;
  readonly #transport: Transport;
  // outbound messages waiting for an asynchronous extension encode, in order
  #pending = 0;
  #chain: Promise<void> | null = null;

  constructor(host: OutboundHost, opts: SessionOptions, transport: Transport) {
    this.#host = host;
    this.#opts = opts;
    this.#transport = transport;
  }

  /** Messages whose asynchronous encode has not finished. */
  get pending(): number {
    return this.#pending;
  }

  /** Run `then` after every message now being encoded went out (or failed). */
  afterPending(then: () => void): void {
    this.#chain = (this.#chain ?? Promise.resolve()).then(then);
  }

  /** False when a data message was refused (slow consumer). */
  sendOne(p: Protocol, f: OutFrame): boolean {
    const isData =
      typeof f === 'string' || f instanceof Uint8Array || f.type === 'text' || f.type === 'binary';
    if (isData && !this.#admitData()) return false;
    this.#sendFrame(p, f);
    return true;
  }

  /** A data message as bytes (a published message this session encodes itself); false when refused. */
  sendMessage(p: Protocol, binary: boolean, data: Uint8Array): boolean {
    if (!this.#admitData()) return false;
    this.#sendData(p, binary, data, this.#opts.fragmentSize ?? 0);
    return true;
  }

  /**
   * A frame encoded elsewhere (a topic's shared frame) while messages are still being
   * encoded: it goes out after them.
   */
  sendFramed(frame: readonly Uint8Array[]): void {
    this.#pending++;
    const host = this.#host;
    this.#chain = (this.#chain ?? Promise.resolve()).then(() => {
      this.#pending--;
      const proto = host.currentProtocol();
      if (!host.transportClosed() && proto !== null && !proto.closeSent) host.writeFramed(frame);
      if (this.#pending === 0) host.encodesDone();
    });
  }

  /** Whether a data message may be queued now; applies the slow-consumer policy if not. */
  #admitData(): boolean {
    const max = this.#opts.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    if (this.#transport.bufferedAmount() < max) return true;
    const host = this.#host;
    if ((this.#opts.onSlowConsumer ?? 'close') === 'close' && !host.closing()) {
      // RFC 6455 §7.4.1: 1008 "a message that violates its policy"
      host.closeOnError(1008, 'slow consumer', slowConsumerError(max));
    }
    return false;
  }

  #sendFrame(p: Protocol, f: OutFrame): void {
    const frag = this.#opts.fragmentSize ?? 0;
    if (typeof f === 'string') {
      this.#sendData(p, false, utf8Of(f), frag);
    } else if (f instanceof Uint8Array) {
      this.#sendData(p, true, f, frag);
    } else if (f.type === 'text') {
      this.#sendData(p, false, utf8Of(f.data), frag);
    } else if (f.type === 'binary') {
      this.#sendData(p, true, f.data, frag);
    } else if (f.type === 'ping' || f.type === 'pong') {
      const d = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data;
      if (f.type === 'ping') p.ping(d);
      else p.pong(d);
    } else if (f.type === 'close') {
      this.#host.close(f.code, f.reason);
    } else {
      throw new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'unknown frame type');
    }
  }

  #sendData(p: Protocol, binary: boolean, data: Uint8Array, frag: number): void {
    const ext = this.#opts.extension;
    if (ext === undefined) {
      writeData(p, binary, data, 0, frag);
      return;
    }
    const enc = ext.encode(data, binary);
    if (!isPromise<EncodedMessage>(enc) && this.#pending === 0) {
      writeData(p, binary, enc.data, enc.rsv, frag);
      return;
    }
    // asynchronous encode: later frames (and our close) wait their turn
    this.#pending++;
    const pending = Promise.resolve(enc);
    const host = this.#host;
    this.#chain = (this.#chain ?? Promise.resolve())
      .then(() => pending)
      .then(
        (m) => {
          this.#pending--;
          if (host.transportClosed()) return;
          const proto = host.currentProtocol();
          if (proto && !proto.closeSent) writeData(proto, binary, m.data, m.rsv, frag);
          if (this.#pending === 0) host.encodesDone();
        },
        (err) => {
          this.#pending--;
          // the session ended meanwhile and closed the extension: nothing is lost
          if (host.transportClosed() || host.terminated()) return;
          this.#opts.onError?.(err as Error);
          host.encodeFailed(err);
        },
      );
  }
}

function writeData(
  p: Protocol,
  binary: boolean,
  data: Uint8Array,
  rsv: number,
  frag: number,
): void {
  if (frag > 0 && data.length > frag) p.sendFragmented(binary, data, frag, rsv);
  else p.sendData(binary, data, { rsv });
}
