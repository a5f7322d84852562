// One WebTransport session over HTTP/3 (draft-ietf-webtrans-http3), either role: the
// extended CONNECT stream that carries its capsules, the streams opened on it both ways,
// its datagrams. The H3Connection routes a session's streams and datagrams here by the
// session ID (the CONNECT stream's ID), found in each stream's header and each
// datagram's quarter stream ID.
//
// The session ends (exactly once, `onClose`) when either side sends
// CLOSE_WEBTRANSPORT_SESSION or finishes the CONNECT stream, when that stream is reset,
// or when the connection goes; every stream still open on it is then reset with
// WT_SESSION_GONE (draft §6). Limits: `maxStreams` streams the peer may have open at once
// (beyond: reset), `maxDatagramSize` (larger ones are dropped), and the capsule parser's
// bound on a capsule's size.

import type { QuicConnection } from './quic.js';
import type { H3Stream } from './stream.js';
import { WtStream, type WtStreamHost } from './wt-stream.js';
import {
  CapsuleParser,
  encodeCloseCapsule,
  encodeDatagram,
  encodeDrainCapsule,
  encodeStreamHeader,
  MAX_CLOSE_REASON,
  WT_BUFFERED_STREAM_REJECTED,
  WtWireError,
} from './wt-wire.js';

/** How a session ended. */
export interface WtCloseInfo {
  /** The application's code (CLOSE_WEBTRANSPORT_SESSION), 0 without one. */
  code: number;
  reason: string;
  /** Closed with a capsule or a FIN (true), or cut off: a reset, the connection gone (false). */
  clean: boolean;
  /** Who ended it. */
  by: 'local' | 'peer';
}

/** A session's events. */
export interface WtSessionEvents {
  /** The peer opened a stream (bidirectional or unidirectional). */
  onStream?(stream: WtStream): void;
  onDatagram?(payload: Uint8Array): void;
  /** The peer asked us to wind the session down (DRAIN_WEBTRANSPORT_SESSION). */
  onDrain?(): void;
  onClose?(info: WtCloseInfo): void;
}

/** Limits of one session. */
export interface WtSessionLimits {
  /** Streams the peer may have open on the session at once (default 100). */
  maxStreams?: number;
  /** Largest datagram payload taken or sent (default 65 535; QUIC's packet size bounds it too). */
  maxDatagramSize?: number;
}

/** What a session needs of its connection. */
export interface WtConnection {
  readonly quic: QuicConnection;
  /** Forget the session (its ID no longer routes anything). */
  sessionClosed(s: WtSession): void;
  /** The session opened a stream. */
  wtStreamOpened(id: number, s: WtSession): void;
  /** A stream of the session is done both ways. */
  wtStreamClosed(id: number): void;
}

export class WtSession implements WtStreamHost {
  readonly id: number;
  readonly role: 'client' | 'server';
  readonly quic: QuicConnection;
  /** The application protocol agreed on (WT-Protocol), or null when none was. */
  readonly protocol: string | null;
  readonly #conn: WtConnection;
  readonly #connect: H3Stream;
  readonly #streams = new Map<number, WtStream>();
  readonly #capsules = new CapsuleParser();
  readonly #maxStreams: number;
  readonly #maxDatagramSize: number;
  #events: WtSessionEvents = {};
  #closed: WtCloseInfo | null = null;
  readonly #closeWaiters: ((info: WtCloseInfo) => void)[] = [];
  #incomingOpen = 0;

  constructor(
    conn: WtConnection,
    connect: H3Stream,
    role: 'client' | 'server',
    limits: WtSessionLimits = {},
    protocol: string | null = null,
  ) {
    this.#conn = conn;
    this.protocol = protocol;
    this.quic = conn.quic;
    this.#connect = connect;
    this.id = connect.id;
    this.role = role;
    this.#maxStreams = limits.maxStreams ?? 100;
    this.#maxDatagramSize = limits.maxDatagramSize ?? 65_535;
    connect.setSink({
      onHeaders: () => {
        // trailers on a CONNECT stream: nothing to do with them
      },
      onData: (chunk) => this.#onCapsuleBytes(chunk),
      onEnd: () => this.#ended({ code: 0, reason: '', clean: true, by: 'peer' }),
      onAbort: () =>
        this.#ended({ code: 0, reason: 'the session stream was reset', clean: false, by: 'peer' }),
      onDrain: () => {},
      onClose: () =>
        this.#ended({ code: 0, reason: 'the session stream closed', clean: false, by: 'peer' }),
    });
  }

  /** Where the session's events go (those before it was set are not kept: set it at once). */
  setEvents(events: WtSessionEvents): void {
    this.#events = events;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Resolves once the session ended, with how. */
  whenClosed(): Promise<WtCloseInfo> {
    if (this.#closed) return Promise.resolve(this.#closed);
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  /** Open a stream on the session; throws when the session ended or QUIC has no stream left. */
  openStream(kind: 'bidi' | 'uni'): WtStream {
    if (this.#closed) throw new Error('the WebTransport session is closed');
    const id = this.quic.openStream(kind);
    if (id === null)
      throw new Error(
        `no ${kind === 'bidi' ? 'bidirectional' : 'unidirectional'} stream left on the connection`,
      );
    const s = new WtStream(this, id, kind, false);
    this.#streams.set(id, s);
    this.#conn.wtStreamOpened(id, this);
    this.quic.write(id, encodeStreamHeader(kind, this.id));
    return s;
  }

  /** Send an unreliable datagram; false when it cannot go (too large, queue full, closed). */
  sendDatagram(payload: Uint8Array): boolean {
    if (this.#closed || payload.length > this.#maxDatagramSize) return false;
    return this.quic.sendDatagram?.(encodeDatagram(this.id, payload)) ?? false;
  }

  /** The largest datagram payload that fits now. */
  get maxDatagramSize(): number {
    const quic = this.quic.maxDatagramSize?.() ?? 0;
    // the quarter stream ID takes up to 8 bytes of the QUIC datagram
    return Math.max(0, Math.min(this.#maxDatagramSize, quic - 8));
  }

  /** DRAIN_WEBTRANSPORT_SESSION: ask the peer to finish up. */
  drain(): void {
    if (!this.#closed) this.#connect.sendData(encodeDrainCapsule());
  }

  /**
   * CLOSE_WEBTRANSPORT_SESSION with `code` and `reason` (at most 1024 bytes of UTF-8),
   * then FIN; every stream still open is reset. Throws RangeError for a bad code or reason.
   */
  close(code = 0, reason = ''): void {
    if (this.#closed) return;
    const capsule = encodeCloseCapsule(code, reason);
    this.#connect.sendData(capsule, true);
    this.#ended({ code, reason, clean: true, by: 'local' });
  }

  // ── from the connection ───────────────────────────────────────────────────

  /** @internal The peer opened a stream on this session; false when refused (over the limit). */
  incoming(id: number, kind: 'bidi' | 'uni'): WtStream | null {
    if (this.#closed || this.#incomingOpen >= this.#maxStreams) return null;
    const s = new WtStream(this, id, kind, true);
    this.#streams.set(id, s);
    this.#incomingOpen++;
    try {
      this.#events.onStream?.(s);
    } catch {
      s.sessionGone();
    }
    return s;
  }

  /** @internal */
  stream(id: number): WtStream | undefined {
    return this.#streams.get(id);
  }

  /** @internal */
  datagram(payload: Uint8Array): void {
    if (this.#closed || payload.length > this.#maxDatagramSize) return;
    try {
      this.#events.onDatagram?.(payload);
    } catch {
      // a throwing consumer loses that datagram, as the network may have
    }
  }

  /** @internal The connection is gone. */
  connectionClosed(): void {
    this.#ended({ code: 0, reason: 'the HTTP/3 connection closed', clean: false, by: 'peer' });
  }

  streamClosed(s: WtStream): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    this.#conn.wtStreamClosed(s.id);
    if (s.incoming) this.#incomingOpen--;
  }

  #onCapsuleBytes(chunk: Uint8Array): void {
    if (this.#closed) return;
    let capsules: ReturnType<CapsuleParser['push']>;
    try {
      capsules = this.#capsules.push(chunk);
    } catch (err) {
      // a session whose CONNECT stream carries garbage is over
      this.#connect.reset(WT_BUFFERED_STREAM_REJECTED);
      this.#ended({
        code: 0,
        reason: err instanceof WtWireError ? err.message : 'bad capsule',
        clean: false,
        by: 'peer',
      });
      return;
    }
    for (const c of capsules) {
      if (c.type === 'drain') this.#events.onDrain?.();
      else if (c.type === 'close') {
        // draft §6: the receiver of CLOSE_WEBTRANSPORT_SESSION closes its side too
        this.#connect.end();
        this.#ended({
          code: c.code,
          reason: c.reason.slice(0, MAX_CLOSE_REASON),
          clean: true,
          by: 'peer',
        });
        return;
      }
    }
  }

  #ended(info: WtCloseInfo): void {
    if (this.#closed) return;
    this.#closed = info;
    if (info.by === 'peer' && info.clean) this.#connect.end();
    for (const s of [...this.#streams.values()]) s.sessionGone();
    this.#streams.clear();
    this.#conn.sessionClosed(this);
    for (const w of this.#closeWaiters.splice(0)) w(info);
    try {
      this.#events.onClose?.(info);
    } catch {
      // nothing left to close
    }
  }
}
