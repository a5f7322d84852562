// The Transport contract: an opaque, ordered byte stream under one WebSocket.
// h1 wraps a net/tls socket after the 101, h2 an Http2Stream after the 200 to
// extended CONNECT, h3 an HTTP/3 request stream. The session engine sees only this.
//
// Events go to a single sink (one consumer, no EventEmitter dispatch on the hot
// path). A transport must deliver nothing before `attach` and must call `onClose`
// exactly once, last.

/** The HTTP version that carries a WebSocket, as sessions report it. */
export type HttpVersion = '1.1' | '2' | '3';

/** What a transport tells about its connection: HTTP version, TLS, local and remote address. */
export interface TransportInfo {
  readonly http: HttpVersion;
  readonly secure: boolean;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
}

/** Where a transport delivers its events: data, end, error, drain and close. */
export interface TransportSink {
  /**
   * Received bytes. The chunk becomes the receiver's: it is unmasked in place and may
   * be kept (as views) until a message completes, so a transport must never reuse it.
   */
  onData(chunk: Uint8Array): void;
  /** The peer finished sending (TCP FIN / END_STREAM / QUIC FIN). */
  onEnd(): void;
  onError(err: Error): void;
  /** Buffered outbound bytes fell below the low-water mark after `write` returned false. */
  onDrain(): void;
  /** The transport is gone; nothing more will be delivered or sent. */
  onClose(): void;
}

/** What the path under a WebSocket looks like now: for HTTP/3, its QUIC connection's. */
export interface PathStats {
  /** Smoothed round-trip time (ms). */
  rtt: number;
  /** The least smoothed RTT seen in samples (each call, and every 100 ms of activity). */
  minRtt: number;
  /** Congestion window (bytes). */
  cwnd: number;
  /** Path MTU: the largest UDP payload on this path (bytes). */
  pmtu: number;
  /** The estimated delivery rate (bytes/s). */
  deliveryRate: number;
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  packetsRetransmitted: number;
  bytesSent: number;
  bytesReceived: number;
  bytesLost: number;
  /** Stream bytes sent again after a loss. */
  bytesRetransmitted: number;
  /** The congestion controller in use ('reno', 'cubic', 'bbr'). */
  cc: string;
  /** Whether the TLS session was resumed from an earlier connection's ticket. */
  resumed: boolean;
}

/**
 * The ordered byte stream under one WebSocket (a socket, an h2 stream, an h3 stream), as a session
 * sees it.
 */
export interface Transport {
  readonly info: TransportInfo;
  /** Start delivering events. Bytes that arrived before (e.g. with the request head) come first. */
  attach(sink: TransportSink): void;
  /** Queue bytes; false once the buffered amount is above the high-water mark. */
  write(chunks: Uint8Array | readonly Uint8Array[]): boolean;
  /**
   * Optional: write `chunk` now, without gathering it with the tick's other writes (the
   * caller gathered already: a subscriber's published frames at the end of a turn). In
   * order after anything written before. `write` is used where it is missing.
   */
  writeNow?(chunk: Uint8Array): boolean;
  /** Bytes accepted by `write` and not yet handed to the OS / the HTTP layer. */
  bufferedAmount(): number;
  /** Graceful end of our direction: TCP FIN / h2 END_STREAM / QUIC FIN. */
  end(): void;
  /** Abrupt: TCP RST (destroy) / h2 RST_STREAM / H3 stream reset. */
  abort(kind: 'cancel' | 'protocol'): void;
  pause(): void;
  resume(): void;
  /**
   * Optional: a stream with no TIME_WAIT (HTTP/2, HTTP/3): a client whose close handshake
   * is complete ends its side at once instead of waiting for the server to end first.
   */
  readonly clientEndsFirst?: boolean;
  /** Optional: the path's statistics (HTTP/3: its QUIC connection's, shared by every stream). */
  pathStats?(): PathStats;
  /**
   * Optional: move what carries this stream to a new local address (HTTP/3 clients: QUIC
   * connection migration, every stream on the connection with it); resolves with it.
   */
  migrate?(): Promise<{ address: string; port: number }>;
}
