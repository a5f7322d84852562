// Assembles the payload pieces of one data message with memory bounded by its size.
//
// Pieces are views into the transport's chunks. Keeping every piece as a view is
// free for large pieces, but a message sent as many tiny fragments would cost a
// view object (~100 bytes) per fragment, and a small piece would keep its whole
// chunk alive (up to 64 KiB for one byte of payload): `maxMessage` would bound the
// payload but not the memory. So a piece is kept as a view only when it is large
// and fills at least half of its chunk; anything else is copied into a growing
// buffer shared by the small pieces. Retained memory stays within about twice the
// payload, and assembling is linear in the number of pieces.

/** Pieces at least this large (and at least half of their chunk) are kept as views. */
const VIEW_MIN = 1024;
const MIN_CAPACITY = 256;

export class MessageAssembler {
  #parts: Uint8Array[] = [];
  #length = 0;
  // copies of small pieces; the bytes from #accStart to #accEnd are not yet in #parts
  #acc: Buffer | null = null;
  #accStart = 0;
  #accEnd = 0;

  /** Total payload bytes held. */
  get length(): number {
    return this.#length;
  }

  get empty(): boolean {
    return this.#length === 0;
  }

  push(piece: Uint8Array): void {
    const n = piece.length;
    if (n === 0) return;
    this.#length += n;
    if (n >= VIEW_MIN && n * 2 >= piece.buffer.byteLength) {
      this.#sealAcc();
      this.#parts.push(piece);
      return;
    }
    let acc = this.#acc;
    if (acc === null || acc.length - this.#accEnd < n) {
      this.#sealAcc();
      // room for twice what the message holds: copies stay linear in the message size;
      // not from the shared pool, whose 8 KiB slab a slice would pin
      acc = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, this.#length * 2));
      this.#acc = acc;
      this.#accStart = 0;
      this.#accEnd = 0;
    }
    acc.set(piece, this.#accEnd);
    this.#accEnd += n;
  }

  /** The whole message, and the assembler is empty again. */
  take(): Buffer {
    this.#sealAcc();
    const parts = this.#parts;
    const len = this.#length;
    this.clear();
    if (parts.length === 0) return EMPTY;
    if (parts.length === 1) return toBuffer(parts[0]!);
    return Buffer.concat(parts, len);
  }

  /** Memory kept alive: pieces held, and bytes of the distinct buffers behind them. */
  footprint(): { parts: number; bytes: number } {
    const buffers = new Set<ArrayBufferLike>(this.#parts.map((p) => p.buffer));
    if (this.#acc) buffers.add(this.#acc.buffer);
    let bytes = 0;
    for (const b of buffers) bytes += b.byteLength;
    return { parts: this.#parts.length + (this.#accEnd > this.#accStart ? 1 : 0), bytes };
  }

  clear(): void {
    this.#parts = [];
    this.#length = 0;
    this.#acc = null;
    this.#accStart = 0;
    this.#accEnd = 0;
  }

  #sealAcc(): void {
    const acc = this.#acc;
    if (acc !== null && this.#accEnd > this.#accStart) {
      this.#parts.push(acc.subarray(this.#accStart, this.#accEnd));
      this.#accStart = this.#accEnd;
    }
  }
}

const EMPTY = Buffer.alloc(0);

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}
