// Stateless resets (RFC 9000 §10.3): how a server that lost a connection's state (a
// crash, a restart) tells the client at once instead of letting it wait for its idle
// timeout. Every connection ID we issue gets the token HMAC(static key, connection ID)
// truncated to 16 bytes (§10.3.2), so a restarted server with the same key computes
// the token of a connection it never saw from the packet's connection ID alone. The key
// comes from the server's TLS private key unless given: the same certificate, the same
// tokens, across restarts and across workers.

import { createHmac, randomBytes } from 'node:crypto';

/** RFC 9000 §10.3: 5 bytes that look like a short header's start, then the token. */
const MIN_RESET = 21;
/** §10.3: "in response to a packet that is 43 bytes or shorter … one byte shorter". */
const MAX_RESET = 43;

export class StatelessResets {
  readonly #key: Buffer;
  readonly #perSecond: number;
  readonly #cidLength: number;
  #windowStart = 0;
  #sentInWindow = 0;

  /**
   * `key`: the static key (any length); `cidLength`: the length of every connection ID we
   * issue (§10.3.2: it must be fixed to find the connection ID without state);
   * `perSecond`: resets sent at most per second (a flood of garbage buys no flood back).
   */
  constructor(key: Uint8Array, cidLength: number, perSecond = 100) {
    this.#key = createHmac('sha256', 'omniws QUIC stateless reset key').update(key).digest();
    this.#cidLength = cidLength;
    this.#perSecond = perSecond;
  }

  /** The token of connection ID `cid`. */
  token(cid: Uint8Array): Buffer {
    return createHmac('sha256', this.#key).update(cid).digest().subarray(0, 16);
  }

  /**
   * The Stateless Reset answering `msg`, a datagram for a connection we do not know, or
   * null: not a short-header packet, too short to answer without risking a reset loop
   * (§10.3.3: a reset is always smaller than what triggered it), or over the rate.
   */
  answer(msg: Uint8Array, now = Date.now()): Buffer | null {
    // a short header: header form 0, fixed bit 1 (RFC 9000 §17.3.1)
    if (msg.length <= MIN_RESET || (msg[0]! & 0xc0) !== 0x40) return null;
    if (msg.length < 1 + this.#cidLength) return null;
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#sentInWindow = 0;
    }
    if (this.#sentInWindow >= this.#perSecond) return null;
    this.#sentInWindow++;
    const size = Math.min(msg.length - 1, MAX_RESET);
    const out = randomBytes(size);
    // §10.3: fixed bits 01, the rest of the first byte unpredictable
    out[0] = (out[0]! & 0x3f) | 0x40;
    this.token(msg.subarray(1, 1 + this.#cidLength)).copy(out, size - 16);
    return out;
  }
}

/** A token as the binding takes it (a u128, whose big-endian bytes are the token). */
export function tokenAsBigInt(token: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(token).toString('hex')}`);
}
