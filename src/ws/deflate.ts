// permessage-deflate (RFC 7692) as a MessageExtension: compresses outgoing and
// inflates incoming messages with node:zlib, asynchronously, bounded and lean.
//
// - Order: each direction is a lane that runs one zlib job at a time; results
//   settle in call order. Jobs of every connection share a per-process limiter
//   (default 10 at once, like ws's), so a burst cannot pile up zlib buffers.
// - Limits: maxMessage is checked while inflating, on every output chunk; a bomb
//   stops after at most maxMessage + one zlib chunk (ws#1720 checked after).
// - Memory: contexts are created on first use, freed after each message when that
//   direction has no context takeover, and freed by release() (hibernation). The
//   inflater of a peer that keeps its context is re-created from the last window
//   of output (at most 2^windowBits bytes, usually far less), kept as a dictionary.
// - zlib cannot do raw deflate with an 8-bit window: 9 is used when 8 is agreed.
//   That is safe both ways: an inflater with a larger window reads any stream, and
//   zlib's compressor never reaches further back than 2^9 − 262 = 250 < 256 bytes.

import zlib from 'node:zlib';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  type DeflateOptions,
  type DeflateParams,
  deflateOptionsOf,
  PERMESSAGE_DEFLATE,
  validateDeflateOptions,
} from './deflate-negotiate.js';
import { WebSocketError } from './errors.js';
import type { EncodedMessage, MessageExtension, SharedEncoder } from './extensions.js';
import { DEFAULT_MAX_MESSAGE, type Role } from './frame.js';
import type { ExtensionOffer } from './headers.js';

export * from './deflate-negotiate.js';

/** RSV1 as the frame codec counts RSV bits (RSV1 = 0x4). */
export const RSV1 = 0x4;

// RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload"
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);
const CHUNK = 16 * 1024;

// ── the per-process limiter ──────────────────────────────────────────────────

/** At most `max` zlib jobs at once; the rest wait in arrival order. */
export class Limiter {
  readonly max: number;
  #active = 0;
  #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.max = max;
  }

  get active(): number {
    return this.#active;
  }
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `start` once a slot is free; it must call `release()` exactly once when done. */
  acquire(start: () => void): void {
    if (this.#active < this.max) {
      this.#active++;
      start();
    } else {
      this.#waiting.push(start);
    }
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }
}

const limiters = new Map<number, Limiter>();

/** The limiter shared by every connection of this process with `concurrency` (default 10). */
export function sharedLimiter(concurrency = 10): Limiter {
  let l = limiters.get(concurrency);
  if (!l) {
    l = new Limiter(concurrency);
    limiters.set(concurrency, l);
  }
  return l;
}

// ── lanes: one zlib stream, one job at a time ────────────────────────────────

type Job = {
  /** null: a barrier that settles once the jobs before it have. */
  input: Uint8Array | null;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
};

type Stream = zlib.DeflateRaw | zlib.InflateRaw;

abstract class Lane {
  readonly #limiter: Limiter;
  #queue: Job[] = [];
  #running = false;
  #releaseWanted = false;
  protected closed = false;
  protected stream: Stream | null = null;
  // the running job's output
  protected job: Job | null = null;
  protected chunks: Buffer[] = [];
  protected total = 0;

  constructor(limiter: Limiter) {
    this.#limiter = limiter;
  }

  get busy(): boolean {
    return this.#running;
  }
  /** Jobs queued behind the running one. */
  get queued(): number {
    return this.#queue.length;
  }
  get hasContext(): boolean {
    return this.stream !== null;
  }

  push(input: Uint8Array | null): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      if (!this.#running) this.#next();
    });
  }

  #next(): void {
    if (this.#queue.length === 0) {
      this.#running = false;
      if (this.#releaseWanted) this.release();
      return;
    }
    this.#running = true;
    if (this.#queue[0]!.input === null) {
      this.#queue.shift()!.resolve(EMPTY);
      this.#next();
      return;
    }
    this.#limiter.acquire(() => {
      const job = this.#queue.shift()!;
      if (this.closed) {
        this.#finish(job, null, closedError());
        return;
      }
      this.job = job;
      this.chunks = [];
      this.total = 0;
      try {
        this.run(job as Job & { input: Uint8Array });
      } catch (err) {
        this.fail(err as Error);
      }
    });
  }

  /** Start the zlib work for `job`; end with done() or fail(). */
  protected abstract run(job: Job & { input: Uint8Array }): void;
  /** Free what this lane keeps between messages (it is re-created on demand). */
  protected abstract free(): void;

  protected onData = (chunk: Buffer): void => {
    if (this.job === null) return;
    this.total += chunk.length;
    if (this.limit(chunk)) this.chunks.push(chunk);
  };

  /** Accept `chunk` (true), or fail the job (false). */
  protected limit(_chunk: Buffer): boolean {
    return true;
  }

  protected onError = (err: Error): void => {
    this.fail(err);
  };

  protected attach(s: Stream): Stream {
    s.on('data', this.onData);
    s.on('error', this.onError);
    this.stream = s;
    return s;
  }

  protected destroyStream(): void {
    const s = this.stream;
    if (s === null) return;
    this.stream = null;
    s.removeListener('data', this.onData);
    s.removeListener('error', this.onError);
    s.on('error', noop); // a late error from a destroyed stream is nobody's business
    s.destroy();
  }

  protected output(): Buffer {
    const c = this.chunks;
    this.chunks = [];
    return c.length === 0 ? EMPTY : c.length === 1 ? c[0]! : Buffer.concat(c, this.total);
  }

  protected done(out: Buffer): void {
    const job = this.job;
    if (job === null) return;
    this.job = null;
    this.#finish(job, out, null);
  }

  /** Fail the running job; the stream is unusable afterwards and is dropped. */
  protected fail(err: Error): void {
    const job = this.job;
    this.job = null;
    this.chunks = [];
    this.destroyStream();
    if (job) this.#finish(job, null, err);
  }

  #finish(job: Job, out: Buffer | null, err: Error | null): void {
    this.#limiter.release();
    if (err) job.reject(err);
    else job.resolve(out!);
    this.#next();
  }

  /** Free the context now, or once the running and queued jobs are done. */
  release(): void {
    if (this.#running) {
      this.#releaseWanted = true;
      return;
    }
    this.#releaseWanted = false;
    this.free();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const queued = this.#queue;
    this.#queue = [];
    for (const j of queued) j.reject(closedError());
    if (this.job) this.fail(closedError());
    this.destroyStream();
  }
}

function noop(): void {}

/** A long-lived copy outside Buffer's shared 8 KiB pool (a pooled copy pins its whole slab). */
function keep(b: Uint8Array): Buffer {
  const c = Buffer.allocUnsafeSlow(b.length);
  c.set(b);
  return c;
}

function closedError(): WebSocketError {
  return new WebSocketError('WS_ERR_INVALID_STATE', 'permessage-deflate was closed');
}

/** Our compressor. */
class DeflateLane extends Lane {
  readonly #opts: zlib.ZlibOptions;
  readonly #noContext: boolean;

  constructor(limiter: Limiter, opts: zlib.ZlibOptions, noContext: boolean) {
    super(limiter);
    this.#opts = opts;
    this.#noContext = noContext;
  }

  protected run(job: Job & { input: Uint8Array }): void {
    const s = (this.stream ?? this.attach(zlib.createDeflateRaw(this.#opts))) as zlib.DeflateRaw;
    // the stream's default flush is Z_SYNC_FLUSH: one write gives the whole message
    s.write(job.input, (err) => {
      if (err || this.job !== job) return;
      let out = this.output();
      // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end"
      const n = out.length;
      if (
        n >= 4 &&
        out[n - 4] === 0 &&
        out[n - 3] === 0 &&
        out[n - 2] === 0xff &&
        out[n - 1] === 0xff
      ) {
        out = out.subarray(0, n - 4);
      }
      // An empty message right after a flush makes zlib write nothing at all; the peer
      // would then append 00 00 ff ff to a byte-aligned stream and misread it. One 0x00
      // (an empty stored block's header, as ws and python-websockets send) keeps it whole.
      if (out.length === 0) out = Buffer.from([0]);
      // RFC 7692 §7.1.1.1 / §7.1.1.2: without context takeover every message starts
      // afresh; reuse the context for a queued message, free it otherwise.
      if (this.#noContext) {
        if (this.queued > 0) s.reset();
        else this.destroyStream();
      }
      this.done(out);
    });
  }

  protected free(): void {
    // A fresh compressor never refers to earlier messages: always safe to drop.
    this.destroyStream();
  }
}

/** Our decompressor. */
class InflateLane extends Lane {
  readonly #windowBits: number;
  readonly #noContext: boolean;
  readonly #maxMessage: number;
  // the peer keeps its context: the last window of output, for release()
  #history: Buffer[] = [];
  #historyLength = 0;
  #dictionary: Buffer | null = null;

  constructor(
    limiter: Limiter,
    windowBits: number,
    noContext: boolean,
    maxMessage: number,
    dictionary: Buffer | null,
  ) {
    super(limiter);
    this.#windowBits = windowBits;
    this.#noContext = noContext;
    this.#maxMessage = maxMessage;
    this.#dictionary = dictionary;
  }

  /** The window kept for the next context (after release(), until one is created). */
  get dictionary(): Buffer | null {
    return this.#dictionary;
  }

  protected override limit(_chunk: Buffer): boolean {
    if (this.total <= this.#maxMessage) return true;
    // checked on every output chunk: zlib stops within one chunk of the limit
    this.fail(
      new WebSocketError(
        'WS_ERR_MESSAGE_TOO_BIG',
        `inflated message above maxMessage (${this.#maxMessage} bytes)`,
        { closeCode: 1009 },
      ),
    );
    return false;
  }

  protected override onError = (err: Error): void => {
    // A payload that does not inflate fails the connection; 1007 (inconsistent data), as
    // python-websockets does.
    this.fail(
      new WebSocketError('WS_ERR_DECOMPRESSION', `invalid compressed data: ${err.message}`, {
        closeCode: 1007,
        cause: err,
      }),
    );
  };

  #create(): zlib.InflateRaw {
    const opts: zlib.ZlibOptions = {
      windowBits: Math.max(9, this.#windowBits),
      // each stream keeps one output chunk while idle: smaller for small windows
      chunkSize: Math.min(CHUNK, 1 << (this.#windowBits + 1)),
    };
    if (this.#dictionary) {
      opts.dictionary = this.#dictionary;
      this.#history = [this.#dictionary];
      this.#historyLength = this.#dictionary.length;
      this.#dictionary = null;
    }
    return this.attach(zlib.createInflateRaw(opts)) as zlib.InflateRaw;
  }

  protected run(job: Job & { input: Uint8Array }): void {
    const s = (this.stream as zlib.InflateRaw | null) ?? this.#create();
    const input = job.input;
    const onWritten = (err?: Error | null) => {
      if (err || this.job !== job) return;
      const out = this.output();
      if (this.#noContext) {
        if (this.queued > 0) s.reset();
        else this.destroyStream();
      } else {
        this.#remember(out);
      }
      this.done(out);
    };
    // RFC 7692 §7.2.2: inflate the payload followed by 00 00 ff ff
    if (input.length <= CHUNK) {
      s.write(Buffer.concat([input, TRAILER]), onWritten);
    } else {
      s.write(input);
      s.write(TRAILER, onWritten);
    }
  }

  /** Keep the last 2^windowBits bytes of output: the window the peer may refer to. */
  #remember(out: Buffer): void {
    if (out.length === 0) return;
    const win = 1 << this.#windowBits;
    if (out.length >= win) {
      this.#history = [keep(out.subarray(out.length - win))];
      this.#historyLength = win;
      return;
    }
    // a copy: the handler owns `out` (and a slice would pin zlib's 16 KiB output chunk)
    this.#history.push(keep(out));
    this.#historyLength += out.length;
    while (this.#historyLength - this.#history[0]!.length >= win) {
      this.#historyLength -= this.#history.shift()!.length;
    }
  }

  protected free(): void {
    if (this.stream === null) return;
    if (!this.#noContext && this.#historyLength > 0) {
      const win = 1 << this.#windowBits;
      const all = this.#history.length === 1 ? this.#history[0]! : Buffer.concat(this.#history);
      this.#dictionary = keep(all.subarray(Math.max(0, all.length - win)));
    }
    this.#history = [];
    this.#historyLength = 0;
    this.destroyStream();
  }

  override close(): void {
    super.close();
    this.#history = [];
    this.#historyLength = 0;
    this.#dictionary = null;
  }
}

// ── the extension ────────────────────────────────────────────────────────────

/**
 * Settings of a PerMessageDeflate: its role, the agreed parameters, local options, message limit.
 */
export interface PerMessageDeflateInit {
  role: Role;
  /** The agreed parameters (from negotiateDeflateServer / acceptDeflateResponse). */
  params: DeflateParams;
  /** Local settings: threshold, level, memLevel, concurrency (the window options are in params). */
  options?: DeflateOptions;
  /** Largest inflated message (the session's maxMessage, default 64 MiB); above it: 1009. */
  maxMessage?: number;
}

/**
 * permessage-deflate for one connection. Hand it to the Session as `extension`.
 *
 * The two lanes (compressor, decompressor) exist only while in use: `release()`
 * (hibernation) drops an idle lane whole, keeping just the decompressor's last window
 * when the peer may refer back to it, so a hibernated connection holds this object and
 * that window and nothing else.
 */
export class PerMessageDeflate implements MessageExtension {
  readonly name = 'permessage-deflate';
  readonly rsv = RSV1;
  readonly params: DeflateParams;
  readonly threshold: number;
  readonly #options: DeflateOptions;
  readonly #server: boolean;
  readonly #maxMessage: number;
  #deflate: DeflateLane | null = null;
  #inflate: InflateLane | null = null;
  /** The decompressor's window while it is dropped (context takeover by the peer). */
  #dictionary: Buffer | null = null;
  #closed = false;
  #shared: SharedEncoder | null | undefined;

  constructor(init: PerMessageDeflateInit) {
    const o = init.options ?? {};
    validateDeflateOptions(o);
    this.params = init.params;
    this.threshold = o.threshold ?? 1024;
    this.#options = o;
    this.#server = init.role === 'server';
    this.#maxMessage = init.maxMessage ?? DEFAULT_MAX_MESSAGE;
  }

  get #ownNoContext(): boolean {
    const p = this.params;
    return this.#server ? p.serverNoContextTakeover : p.clientNoContextTakeover;
  }

  #deflateLane(): DeflateLane {
    if (this.#deflate !== null) return this.#deflate;
    const p = this.params;
    const o = this.#options;
    const ownBits = this.#server ? p.serverMaxWindowBits : p.clientMaxWindowBits;
    this.#deflate = new DeflateLane(
      sharedLimiter(o.concurrency ?? 10),
      {
        windowBits: Math.max(9, ownBits),
        memLevel: o.memLevel ?? 8,
        level: o.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
        flush: zlib.constants.Z_SYNC_FLUSH,
        // output is mostly smaller than the input: no need for 16 KiB per idle stream
        chunkSize: Math.min(CHUNK, 1 << (ownBits + 1)),
      },
      this.#ownNoContext,
    );
    return this.#deflate;
  }

  #inflateLane(): InflateLane {
    if (this.#inflate !== null) return this.#inflate;
    const p = this.params;
    this.#inflate = new InflateLane(
      sharedLimiter(this.#options.concurrency ?? 10),
      this.#server ? p.clientMaxWindowBits : p.serverMaxWindowBits,
      this.#server ? p.clientNoContextTakeover : p.serverNoContextTakeover,
      this.#maxMessage,
      this.#dictionary,
    );
    this.#dictionary = null;
    return this.#inflate;
  }

  /**
   * Published messages are compressed once for every session with the same terms when our
   * side starts each message afresh (no context takeover); null otherwise.
   */
  get shared(): SharedEncoder | null {
    if (this.#shared !== undefined) return this.#shared;
    if (!this.#ownNoContext) {
      this.#shared = null;
      return null;
    }
    const p = this.params;
    const o = this.#options;
    this.#shared = sharedDeflate(
      Math.max(9, this.#server ? p.serverMaxWindowBits : p.clientMaxWindowBits),
      o.level ?? zlib.constants.Z_DEFAULT_COMPRESSION,
      o.memLevel ?? 8,
      this.threshold,
    );
    return this.#shared;
  }

  /** Whether zlib contexts are held right now (for tests and accounting). */
  get contexts(): { deflate: boolean; inflate: boolean; dictionary: number } {
    return {
      deflate: this.#deflate?.hasContext ?? false,
      inflate: this.#inflate?.hasContext ?? false,
      dictionary: (this.#inflate?.dictionary ?? this.#dictionary)?.length ?? 0,
    };
  }

  decode(data: Buffer, rsv: number, _binary?: boolean): Promise<Buffer> {
    // RFC 7692 §6: RSV1 marks the first frame of a compressed message; the session
    // calls us only then.
    if ((rsv & RSV1) === 0) return Promise.resolve(data);
    if (this.#closed) return Promise.reject(closedError());
    // Nothing compressed: appending 00 00 ff ff to the byte-aligned stream would start a
    // stored block that the next message completes with garbage.
    if (data.length === 0) {
      // results settle in call order: behind messages still being inflated, if any
      return this.#inflate?.busy ? this.#inflate.push(null) : Promise.resolve(EMPTY);
    }
    return this.#inflateLane().push(data);
  }

  encode(data: Uint8Array, _binary?: boolean): EncodedMessage | Promise<EncodedMessage> {
    if (this.#closed) return Promise.reject(closedError());
    if (data.length < this.threshold) {
      const plain = { data, rsv: 0 };
      // results settle in call order: wait behind messages still being compressed
      if (!this.#deflate?.busy) return plain;
      return this.#deflate.push(null).then(() => plain);
    }
    return this.#deflateLane()
      .push(data)
      .then((out) =>
        // Without context takeover the peer's window does not matter: send whichever is
        // smaller (RFC 7692 §6: a message may go uncompressed, RSV1 clear).
        this.#ownNoContext && out.length >= data.length
          ? { data, rsv: 0 }
          : { data: out, rsv: RSV1 },
      );
  }

  release(): void {
    const d = this.#deflate;
    if (d !== null) {
      // a fresh compressor never refers to earlier messages: an idle one goes whole
      if (d.busy) d.release();
      else {
        d.close();
        this.#deflate = null;
      }
    }
    const i = this.#inflate;
    if (i !== null) {
      i.release();
      if (!i.busy) {
        // what the peer may still refer back to stays, the rest goes
        this.#dictionary = i.dictionary;
        i.close();
        this.#inflate = null;
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#deflate?.close();
    this.#inflate?.close();
    this.#deflate = null;
    this.#inflate = null;
    this.#dictionary = null;
  }
}

// ── shared compression (topics) ──────────────────────────────────────────────

const sharedEncoders = new Map<string, SharedEncoder>();

/**
 * One message compressed without context (every message starts afresh), synchronously:
 * a published message is compressed once for all the subscribers with these terms.
 */
function sharedDeflate(
  windowBits: number,
  level: number,
  memLevel: number,
  threshold: number,
): SharedEncoder {
  const key = `${windowBits}/${level}/${memLevel}/${threshold}`;
  let enc = sharedEncoders.get(key);
  if (enc !== undefined) return enc;
  const opts: zlib.ZlibOptions = {
    windowBits,
    level,
    memLevel,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  };
  enc = {
    key,
    encode(data: Uint8Array): EncodedMessage {
      if (data.length < threshold) return { data, rsv: 0 };
      const out = zlib.deflateRawSync(data, opts);
      // RFC 7692 §7.2.1: remove the 00 00 ff ff that ends a sync-flushed block
      const body = out.subarray(0, out.length - TRAILER.length);
      return body.length >= data.length ? { data, rsv: 0 } : { data: body, rsv: RSV1 };
    },
  };
  sharedEncoders.set(key, enc);
  return enc;
}

// ── client glue, for every HTTP version ──────────────────────────────────────

/**
 * What a client offers as extensions: permessage-deflate, others, and how to accept the server's
 * answer.
 */
export interface ClientExtensionOptions {
  /** Offer permessage-deflate (RFC 7692): true or options (default off). */
  perMessageDeflate?: boolean | DeflateOptions | undefined;
  /** Other extensions to offer, as a Sec-WebSocket-Extensions value. */
  extensions?: string | undefined;
  /** Accept the server's response for the other extensions; default: none accepted. */
  acceptExtensions?: ((response: readonly ExtensionOffer[]) => boolean) | undefined;
}

/** What a client needs around its handshake to offer, check and run permessage-deflate. */
export interface ClientExtensions {
  /** The Sec-WebSocket-Extensions value to send ('' for none). */
  readonly offer: string;
  /** For ResponseCheckOptions.acceptExtensions: false fails the connection. */
  accept(response: readonly ExtensionOffer[]): boolean;
  /** Why accept() refused, when it did. */
  readonly error: string | undefined;
  /** After an accepted response: the extension for the Session, if one was agreed. */
  extension(maxMessage?: number): MessageExtension | undefined;
}

/**
 * A client's extensions for one handshake: the offer, the check of the response, the extension to
 * run.
 */
export function clientExtensions(o: ClientExtensionOptions): ClientExtensions {
  const pmd = deflateOptionsOf(o.perMessageDeflate);
  if (pmd) validateDeflateOptions(pmd);
  const parts: string[] = [];
  if (pmd) parts.push(buildDeflateOffer(pmd));
  if (o.extensions) parts.push(o.extensions);
  let params: DeflateParams | undefined;
  let error: string | undefined;
  return {
    offer: parts.join(', '),
    get error() {
      return error;
    },
    accept(response) {
      params = undefined;
      error = undefined;
      const ours = pmd ? response.filter((e) => e.name === PERMESSAGE_DEFLATE) : [];
      const others = pmd ? response.filter((e) => e.name !== PERMESSAGE_DEFLATE) : response;
      if (pmd && ours.length > 0) {
        const r = acceptDeflateResponse(ours, pmd);
        if ('error' in r) {
          error = r.error;
          return false;
        }
        params = r;
      }
      if (others.length === 0) return true;
      // RFC 6455 §9.1: the server may only answer with extensions the client offered
      if (!o.acceptExtensions?.(others)) {
        error = `server accepted extensions that were not offered: ${others.map((e) => e.name).join(', ')}`;
        return false;
      }
      return true;
    },
    extension(maxMessage) {
      if (!params || !pmd) return undefined;
      return new PerMessageDeflate({
        role: 'client',
        params,
        options: pmd,
        ...(maxMessage !== undefined && { maxMessage }),
      });
    },
  };
}
