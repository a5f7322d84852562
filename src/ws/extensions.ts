// The hook through which a negotiated extension (permessage-deflate, RFC 7692)
// transforms whole messages inside the session. The codec is told which RSV bits
// the extension owns; the session keeps message order although the transforms
// may be asynchronous (zlib): decode and encode are called in message order and
// must settle in that order.

/** A message an extension encoded: its payload and the RSV bits for its first frame. */
export interface EncodedMessage {
  data: Uint8Array;
  /** RSV bits to set on the first frame (RSV1 = 0x4). */
  rsv: number;
}

/**
 * An extension's encoding shared by every session that agreed the same terms: synchronous,
 * and the same output for the same input whatever the session (no context takeover).
 */
export interface SharedEncoder {
  /** Equal for sessions whose encodings are interchangeable. */
  readonly key: string;
  encode(data: Uint8Array): EncodedMessage;
}

/** A negotiated extension, such as permessage-deflate (RFC 7692): it transforms whole messages. */
export interface MessageExtension {
  readonly name: string;
  /** RSV bits this extension owns (RSV1 = 0x4). */
  readonly rsv: number;
  /**
   * A received message whose first frame carried some of our RSV bits. Rejects (or
   * throws) with a WebSocketError whose closeCode fails the connection (1009 for a
   * message above maxMessage once decoded, 1007 …).
   */
  decode(data: Buffer, rsv: number, binary: boolean): Buffer | Promise<Buffer>;
  /** A message to send: its payload and RSV bits. */
  encode(data: Uint8Array, binary: boolean): EncodedMessage | Promise<EncodedMessage>;
  /** Release memory kept between messages (hibernation). The next call re-creates it. */
  release?(): void;
  /** The session ended: free everything. */
  close(): void;
  /**
   * The encoder a published message may share with other sessions (./pubsub.ts), or null
   * when each message depends on this session's earlier ones (context takeover).
   */
  readonly shared?: SharedEncoder | null;
}
