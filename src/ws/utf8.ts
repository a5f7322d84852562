// Incremental UTF-8 validation whose state crosses fragment and chunk boundaries.
//
// RFC 6455 §8.1: "When an endpoint is to interpret a byte stream as UTF-8 but finds
// that the byte stream is not, in fact, a valid UTF-8 stream, that endpoint MUST
// _Fail the WebSocket Connection_." We fail as soon as the first invalid byte
// arrives: complete code points are checked by Node's native `isUtf8`, and an
// incomplete sequence at the end of a piece is checked as a prefix (the bytes it
// may still be followed by) and carried into the next piece.

import { isUtf8 } from 'node:buffer';

/** Number of bytes of the sequence a lead byte starts (0 = not a valid lead byte). */
function sequenceLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Whether `b` may be the second byte after `lead` (RFC 3629 §4 table). */
function validSecond(lead: number, b: number): boolean {
  switch (lead) {
    case 0xe0:
      return b >= 0xa0 && b <= 0xbf;
    case 0xed:
      return b >= 0x80 && b <= 0x9f;
    case 0xf0:
      return b >= 0x90 && b <= 0xbf;
    case 0xf4:
      return b >= 0x80 && b <= 0x8f;
    default:
      return b >= 0x80 && b <= 0xbf;
  }
}

/**
 * Incremental UTF-8 validation whose state crosses fragment and chunk boundaries (RFC 6455 §8.1).
 */
export class Utf8Validator {
  // an incomplete sequence carried from the previous piece (at most 3 bytes): its lead
  // byte and how many of its bytes were seen; the others only had to be continuations
  #lead = 0;
  #carryLen = 0;
  #need = 0;

  reset(): void {
    this.#carryLen = 0;
    this.#need = 0;
  }

  /** True when no partial code point is pending. */
  get complete(): boolean {
    return this.#carryLen === 0;
  }

  /** Feed the next bytes; false as soon as they cannot be (the start of) valid UTF-8. */
  push(data: Uint8Array): boolean {
    let start = 0;
    const n = data.length;
    if (this.#carryLen > 0) {
      // finish the carried sequence byte by byte
      while (start < n && this.#carryLen < this.#need) {
        const b = data[start]!;
        if (this.#carryLen === 1 ? !validSecond(this.#lead, b) : b < 0x80 || b > 0xbf) {
          return false;
        }
        this.#carryLen++;
        start++;
      }
      if (this.#carryLen < this.#need) return true;
      this.#carryLen = 0;
      this.#need = 0;
    }
    if (start >= n) return true;
    // find where a trailing incomplete sequence may begin (within the last 3 bytes)
    let end = n;
    for (let k = n - 1; k >= start && k >= n - 3; k--) {
      const b = data[k]!;
      if (b < 0x80) break;
      if (b >= 0xc0) {
        const len = sequenceLength(b);
        if (len === 0) return false;
        if (k + len > n) end = k;
        break;
      }
    }
    if (end > start) {
      const body = start === 0 && end === n ? data : data.subarray(start, end);
      if (!isUtf8(body)) return false;
    }
    if (end < n) {
      const lead = data[end]!;
      this.#need = sequenceLength(lead);
      this.#lead = lead;
      this.#carryLen = 1;
      for (let k = end + 1; k < n; k++) {
        const b = data[k]!;
        if (this.#carryLen === 1 ? !validSecond(lead, b) : b < 0x80 || b > 0xbf) return false;
        this.#carryLen++;
      }
    }
    return true;
  }
}

/** Whole-buffer validation. */
export function isValidUtf8(data: Uint8Array): boolean {
  return data.length === 0 || isUtf8(data);
}
