// Retry tokens (RFC 9000 §8.1.2): what a server that validates addresses gives a client
// in its Retry and checks in the client's next Initial. Stateless: a token carries the
// client's original DCID and the time it was minted, bound to the client's address by a
// MAC under a key that lives and dies with one server (or that the workers of one server
// share, derived from their common secret, so that any of them validates a token).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CID_LENGTH, type Host } from './quic.js';

/** First byte of our Retry tokens: tells them from a NEW_TOKEN another server issued. */
const RETRY_TOKEN_MAGIC = 0x6f;
const RETRY_TOKEN_MAC = 16;
/** A Retry token is used at once (the client's next Initial): 10 s is generous. */
const RETRY_TOKEN_LIFETIME = 10_000;

/**
 * Mint and check Retry tokens: magic, issue time, the client's original DCID, and a MAC
 * binding them to the client's address and port under a key that lives with the server.
 */
export class RetryTokens {
  readonly #key: Buffer;

  /** `secret`: shared by the processes that must accept each other's tokens (default: random). */
  constructor(secret?: Uint8Array) {
    this.#key =
      secret === undefined
        ? randomBytes(32)
        : createHmac('sha256', 'omniws QUIC retry token key').update(secret).digest();
  }

  #mac(from: Host, time: Buffer, odcid: Uint8Array): Buffer {
    return createHmac('sha256', this.#key)
      .update(`${from.host}|${from.port}|`)
      .update(time)
      .update(odcid)
      .digest()
      .subarray(0, RETRY_TOKEN_MAC);
  }

  mint(from: Host, odcid: Uint8Array, now = Date.now()): Buffer {
    const time = Buffer.allocUnsafe(8);
    time.writeBigUInt64BE(BigInt(now));
    return Buffer.concat([
      Uint8Array.of(RETRY_TOKEN_MAGIC),
      time,
      Uint8Array.of(odcid.length),
      odcid,
      this.#mac(from, time, odcid),
    ]);
  }

  /** Whether `token` looks like one of ours (else: a foreign NEW_TOKEN, to be ignored). */
  ours(token: Uint8Array): boolean {
    return token.length > 10 && token[0] === RETRY_TOKEN_MAGIC;
  }

  /** The original DCID the token carries, or null when it is forged, altered, stale or for another address. */
  check(token: Uint8Array, from: Host, now = Date.now()): Uint8Array | null {
    const t = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
    const odcidLength = t[9]!;
    if (odcidLength > CID_LENGTH || t.length !== 10 + odcidLength + RETRY_TOKEN_MAC) return null;
    const time = t.subarray(1, 9);
    const odcid = t.subarray(10, 10 + odcidLength);
    const mac = t.subarray(10 + odcidLength);
    if (!timingSafeEqual(mac, this.#mac(from, time, odcid))) return null;
    const age = now - Number(time.readBigUInt64BE(0));
    if (age < 0 || age > RETRY_TOKEN_LIFETIME) return null;
    return Buffer.from(odcid);
  }
}
