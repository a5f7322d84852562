// A WebTransport client for Node shaped like the browser's (W3C WebTransport): `ready`,
// `closed`, `draining`, `datagrams` (readable/writable), `createBidirectionalStream`,
// `createUnidirectionalStream`, `incomingBidirectionalStreams`,
// `incomingUnidirectionalStreams`, `close`. It runs on our HTTP/3 client: a connection of
// its own unless `allowPooling`, SETTINGS that offer WebTransport under every draft's name,
// QUIC datagrams, and an extended CONNECT with `:protocol webtransport`.
//
// Streams are WHATWG streams (Node's globals) over WtStream: reading pauses QUIC when the
// readable's queue is full, writing waits for the stream to drain.

import { createHash, X509Certificate } from 'node:crypto';
import { type ParsedUrl, parseWsUrl } from '../h1/client.js';
import { ConnectionPool } from '../h2/pool.js';
import {
  type H3ClientOptions,
  type H3Pool,
  type PooledConnection,
  pooledConnection,
} from './client.js';
import type { H3Connection } from './connection.js';
import { H3_REQUEST_CANCELLED } from './errors.js';
import type { Header } from './qpack.js';
import type { QuicSettings } from './quic.js';
import { checkH3Response } from './upgrade.js';
import { type WtCloseInfo, WtSession } from './wt-session.js';
import type { WtStream } from './wt-stream.js';
import { encodeAvailableProtocols, isWtProtocol, parseWtProtocol } from './wt-wire.js';

/** Options of `new WebTransport(url, options)`: the W3C ones that apply, and Node's. */
export interface WebTransportOptions {
  /** Share an HTTP/3 connection with other WebTransports to the same origin (default false). */
  allowPooling?: boolean;
  /** Datagrams are always available here; accepted for compatibility. */
  requireUnreliable?: boolean;
  /**
   * Trust the server by the SHA-256 of its certificate (W3C): no CA check, the leaf's hash
   * must be one of these.
   */
  serverCertificateHashes?: { algorithm: string; value: ArrayBuffer | ArrayBufferView }[];
  /** TLS: trusted CAs, `rejectUnauthorized`, `servername` (Node). */
  tls?: {
    ca?: string | Uint8Array | (string | Uint8Array)[];
    rejectUnauthorized?: boolean;
    servername?: string;
  };
  /** QUIC transport settings (Node). */
  quic?: QuicSettings;
  /** Extra request header fields, e.g. `origin` or authorization (Node). */
  headers?: Record<string, string>;
  /** Give up on the session after this many ms (default 15 000). */
  handshakeTimeout?: number;
  /** With `allowPooling`: the pool (an Agent's `h3Pool`). */
  h3Pool?: H3Pool;
  /**
   * Application protocols to offer, most wanted first (W3C; WT-Available-Protocols); the
   * server's pick is `protocol` once `ready`. Duplicates or names that are not
   * printable ASCII throw a SyntaxError.
   */
  protocols?: readonly string[];
  /**
   * W3C hint: 'throughput' runs the connection on CUBIC, 'low-latency' on BBR (which
   * keeps queues short), 'default' on the QUIC settings' controller. An explicit
   * `quic.cc` wins, and `congestionControl` then says 'default'.
   */
  congestionControl?: WebTransportCongestionControl;
}

export type WebTransportCongestionControl = 'default' | 'throughput' | 'low-latency';
const CONTROLLER_OF = { throughput: 'cubic', 'low-latency': 'bbr' } as const;

/** `closed` resolves with this after a clean close. */
export interface WebTransportCloseInfo {
  closeCode: number;
  reason: string;
}

/** W3C WebTransportDatagramStats, as far as this stack knows them. */
export interface WebTransportDatagramStats {
  /** Incoming datagrams dropped because the reader was behind (beyond incomingHighWaterMark). */
  droppedIncoming: number;
  /** Incoming datagrams dropped for their age: none, there is no incomingMaxAge here. */
  expiredIncoming: number;
  /** Outgoing datagrams dropped for their age: none, there is no outgoingMaxAge here. */
  expiredOutgoing: number;
  // lostOutgoing is not given: quiche does not say which DATAGRAM frames were lost
}

/**
 * W3C WebTransportConnectionStats of the QUIC connection under the session (with
 * allowPooling, shared by every session on it). rttVariation is not given: the quiche
 * binding reports the smoothed RTT only.
 */
export interface WebTransportConnectionStats {
  /** When the figures were read (ms since the epoch). */
  timestamp: number;
  bytesSent: number;
  packetsSent: number;
  bytesLost: number;
  packetsLost: number;
  bytesReceived: number;
  packetsReceived: number;
  /** ms */
  smoothedRtt: number;
  /** ms: the least smoothed RTT seen (sampled every 100 ms of activity). */
  minRtt: number;
  /** The congestion controller's delivery rate estimate, bits/s. */
  estimatedSendRate: number | null;
  datagrams: WebTransportDatagramStats;
}

/** W3C WebTransportError: `source` 'session' or 'stream', `streamErrorCode` for a stream. */
export class WebTransportError extends Error {
  override readonly name = 'WebTransportError';
  readonly source: 'session' | 'stream';
  readonly streamErrorCode: number | null;

  constructor(
    message: string,
    init: { source?: 'session' | 'stream'; streamErrorCode?: number | null } = {},
  ) {
    super(message);
    this.source = init.source ?? 'session';
    this.streamErrorCode = init.streamErrorCode ?? null;
  }
}

export interface WebTransportBidirectionalStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** `datagrams`: a readable of what arrives, a writable that sends. */
export interface WebTransportDatagramDuplexStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** The largest payload that fits one datagram now. */
  readonly maxDatagramSize: number;
  /** Datagrams kept for a reader that is behind; beyond it the oldest are dropped (default 64). */
  incomingHighWaterMark: number;
}

const STREAM_HIGH_WATER = 64 * 1024;

/** Readable and writable halves of a WtStream. */
function whatwgStream(s: WtStream): {
  readable?: ReadableStream<Uint8Array>;
  writable?: WritableStream<Uint8Array>;
} {
  let rc: ReadableStreamDefaultController<Uint8Array> | null = null;
  let drainWaiter: (() => void) | null = null;
  let writeError: Error | null = null;
  const drained = () => {
    const w = drainWaiter;
    drainWaiter = null;
    w?.();
  };
  s.setSink({
    onData(chunk) {
      if (!rc) return;
      rc.enqueue(chunk);
      if ((rc.desiredSize ?? 1) <= 0) s.pause();
    },
    onEnd() {
      try {
        rc?.close();
      } catch {
        // cancelled already
      }
    },
    onAbort(how, code) {
      const err = new WebTransportError(
        how === 'reset'
          ? `the peer reset the stream (code ${code})`
          : `the peer stopped reading the stream (code ${code})`,
        { source: 'stream', streamErrorCode: code },
      );
      if (how === 'reset') {
        try {
          rc?.error(err);
        } catch {
          // closed already
        }
      } else {
        writeError = err;
        drained();
      }
    },
    onDrain: drained,
    onClose: drained,
  });
  const out: { readable?: ReadableStream<Uint8Array>; writable?: WritableStream<Uint8Array> } = {};
  if (s.readable) {
    out.readable = new ReadableStream<Uint8Array>(
      {
        start(c) {
          rc = c;
        },
        pull() {
          s.resume();
        },
        cancel(reason) {
          s.stopSending(codeOf(reason));
        },
      },
      { highWaterMark: STREAM_HIGH_WATER, size: (chunk) => chunk.byteLength },
    );
  }
  if (s.writable) {
    out.writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        if (writeError) throw writeError;
        if (!(chunk instanceof Uint8Array)) throw new TypeError('write a Uint8Array');
        if (!s.write(chunk)) {
          await new Promise<void>((resolve) => {
            drainWaiter = resolve;
          });
          if (writeError) throw writeError;
        }
      },
      close() {
        s.end();
      },
      abort(reason) {
        s.reset(codeOf(reason));
      },
    });
  }
  return out;
}

/** A stream error code from an abort/cancel reason (W3C: `WebTransportError.streamErrorCode`). */
function codeOf(reason: unknown): number {
  const c = (reason as { streamErrorCode?: unknown } | null)?.streamErrorCode;
  return typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 0xffffffff ? c : 0;
}

export class WebTransport {
  readonly ready: Promise<void>;
  readonly closed: Promise<WebTransportCloseInfo>;
  readonly draining: Promise<void>;
  readonly datagrams: WebTransportDatagramDuplexStream;
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidirectionalStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  /** The congestion control hint in force (W3C): what was asked, or 'default'. */
  readonly congestionControl: WebTransportCongestionControl;
  #session: WtSession | null = null;
  #pooled: PooledConnection | null = null;
  #closeRequested: WebTransportCloseInfo | null = null;
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  #resolveClosed!: (info: WebTransportCloseInfo) => void;
  #rejectClosed!: (err: Error) => void;
  #resolveDraining!: () => void;
  #bidiController!: ReadableStreamDefaultController<WebTransportBidirectionalStream>;
  #uniController!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  #datagramController!: ReadableStreamDefaultController<Uint8Array>;
  #done = false;

  constructor(url: string | URL, options: WebTransportOptions = {}) {
    const hint = options.congestionControl ?? 'default';
    if (hint !== 'default' && !(hint in CONTROLLER_OF)) {
      throw new TypeError(`congestionControl is 'default', 'throughput' or 'low-latency'`);
    }
    this.congestionControl =
      hint !== 'default' && options.quic?.cc === undefined ? hint : 'default';
    const protocols = options.protocols ?? [];
    if (new Set(protocols).size !== protocols.length || !protocols.every(isWtProtocol)) {
      throw new DOMException(
        `protocols must be distinct, non-empty printable ASCII: ${JSON.stringify(protocols)}`,
        'SyntaxError',
      );
    }
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.draining = new Promise((resolve) => {
      this.#resolveDraining = resolve;
    });
    // an application that awaits only one of them must not see the other unhandled
    this.ready.catch(() => {});
    this.closed.catch(() => {});
    this.incomingBidirectionalStreams = new ReadableStream({
      start: (c) => {
        this.#bidiController = c;
      },
    });
    this.incomingUnidirectionalStreams = new ReadableStream({
      start: (c) => {
        this.#uniController = c;
      },
    });
    const self = this;
    let incomingHighWaterMark = 64;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#datagramController = c;
        },
        pull: () => this.#drainDatagrams(),
      },
      { highWaterMark: 1 },
    );
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.ready;
        // W3C: a datagram that cannot go is dropped, not an error (it is unreliable)
        this.#session?.sendDatagram(chunk);
      },
    });
    this.datagrams = {
      readable,
      writable,
      get maxDatagramSize() {
        return self.#session?.maxDatagramSize ?? 0;
      },
      get incomingHighWaterMark() {
        return incomingHighWaterMark;
      },
      set incomingHighWaterMark(v: number) {
        incomingHighWaterMark = Math.max(1, Math.floor(v));
      },
    };
    this.#queueLimit = () => incomingHighWaterMark;
    let u: ParsedUrl;
    try {
      u = parseWsUrl(url);
      if (!u.secure) throw new TypeError('WebTransport needs an https:// URL');
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    this.#open(u, options).catch((err: Error) => this.#fail(err));
  }

  readonly #queueLimit: () => number;
  readonly #datagramQueue: Uint8Array[] = [];
  #droppedIncoming = 0;

  /** The application protocol the server chose from `protocols` ('' when none, or before `ready`). */
  get protocol(): string {
    return this.#session?.protocol ?? '';
  }

  /** The session underneath (Node): its ID and the QUIC connection's statistics. */
  get session(): WtSession | null {
    return this.#session;
  }

  async #open(u: ParsedUrl, options: WebTransportOptions): Promise<void> {
    const hashes = options.serverCertificateHashes;
    const tls = { ...options.tls, ...(hashes && { rejectUnauthorized: false }) };
    const opts = {
      tls,
      ...((options.quic || this.congestionControl !== 'default') && {
        quic: {
          ...(this.congestionControl !== 'default' && {
            cc: CONTROLLER_OF[this.congestionControl],
          }),
          ...options.quic,
        },
      }),
      handshakeTimeout: options.handshakeTimeout ?? 15_000,
      webtransport: true,
      h3Pool: options.allowPooling ? options.h3Pool : new ConnectionPool<PooledConnection>(),
      sessionIdleTimeout: 1,
    } as H3ClientOptions<unknown>;
    const pooled = pooledConnection(u, opts);
    pooled.retain();
    this.#pooled = pooled;
    const timeout = options.handshakeTimeout ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new WebTransportError(`no session within ${timeout} ms`)),
        timeout,
      );
    });
    try {
      const h3 = await Promise.race([pooled.ready, late]);
      if (hashes) checkHashes(h3, hashes);
      if (!h3.peerOffersWebTransport || !h3.peerEnablesConnectProtocol) {
        throw new WebTransportError(
          `${u.authority} does not offer WebTransport in its HTTP/3 SETTINGS`,
        );
      }
      if (this.#done) return;
      const fields: Header[] = [
        [':method', 'CONNECT'],
        [':protocol', 'webtransport'],
        [':scheme', 'https'],
        [':authority', u.authority],
        [':path', u.path],
        // servers of draft-02 (as Chromium speaks it) look for this
        ['sec-webtransport-http3-draft02', '1'],
      ];
      if (options.protocols?.length) {
        fields.push(['wt-available-protocols', encodeAvailableProtocols(options.protocols)]);
      }
      for (const [k, v] of Object.entries(options.headers ?? {})) fields.push([k.toLowerCase(), v]);
      const stream = h3.request(fields);
      const [status, answer] = await Promise.race([
        new Promise<[number, Header[]]>((resolve, reject) => {
          stream.setSink({
            onHeaders: (f) => {
              const check = checkH3Response(f);
              if (!check.ok) reject(new WebTransportError(`malformed response: ${check.error}`));
              else if (check.status! >= 200) resolve([check.status!, f]);
            },
            onData() {},
            onEnd: () =>
              reject(new WebTransportError('the server ended the stream without a response')),
            onAbort: (err) =>
              reject(new WebTransportError(`the session request failed: ${err.message}`)),
            onDrain() {},
            onStopped() {
              // the server stopped reading the CONNECT: its answer still comes
            },
            onClose: () => reject(new WebTransportError('the stream closed before a response')),
          });
        }),
        late,
      ]);
      if (status < 200 || status > 299) {
        stream.reset(H3_REQUEST_CANCELLED);
        throw Object.assign(new WebTransportError(`the server answered ${status}`), { status });
      }
      const picked = chosenProtocol(answer, options.protocols ?? []);
      if (picked instanceof Error) {
        stream.reset(H3_REQUEST_CANCELLED);
        throw picked;
      }
      stream.becomeTunnel();
      const session = new WtSession(h3, stream, 'client', {}, picked);
      this.#session = session;
      session.setEvents({
        onStream: (s) => this.#incoming(s),
        onDatagram: (d) => this.#datagram(d),
        onDrain: () => this.#resolveDraining(),
        onClose: (info) => this.#ended(info),
      });
      h3.addSession(session);
      if (this.#closeRequested) {
        session.close(this.#closeRequested.closeCode, this.#closeRequested.reason);
        return;
      }
      this.#resolveReady();
    } finally {
      clearTimeout(timer);
    }
  }

  #incoming(s: WtStream): void {
    const halves = whatwgStream(s);
    try {
      if (s.kind === 'bidi') {
        this.#bidiController.enqueue({ readable: halves.readable!, writable: halves.writable! });
      } else {
        this.#uniController.enqueue(halves.readable!);
      }
    } catch {
      s.stopSending(0);
      s.reset(0);
    }
  }

  #datagram(d: Uint8Array): void {
    // W3C: a reader that is behind loses the oldest datagrams beyond incomingHighWaterMark
    this.#datagramQueue.push(d);
    while (this.#datagramQueue.length > this.#queueLimit()) {
      this.#datagramQueue.shift();
      this.#droppedIncoming++;
    }
    this.#drainDatagrams();
  }

  /**
   * The connection's statistics (W3C getStats): bytes and packets each way and lost,
   * RTTs, the send rate estimate, and what became of datagrams. Rejects before `ready`
   * failed and once the session has ended.
   */
  async getStats(): Promise<WebTransportConnectionStats> {
    await this.ready;
    const st = this.#live().quic.stats();
    return {
      timestamp: Date.now(),
      bytesSent: st.bytesSent,
      packetsSent: st.packetsSent,
      bytesLost: st.bytesLost,
      packetsLost: st.packetsLost,
      bytesReceived: st.bytesReceived,
      packetsReceived: st.packetsReceived,
      smoothedRtt: st.rtt,
      minRtt: st.minRtt,
      estimatedSendRate: st.deliveryRate > 0 ? st.deliveryRate * 8 : null,
      datagrams: { droppedIncoming: this.#droppedIncoming, expiredIncoming: 0, expiredOutgoing: 0 },
    };
  }

  #drainDatagrams(): void {
    const c = this.#datagramController;
    while (this.#datagramQueue.length > 0 && (c.desiredSize ?? 0) > 0) {
      try {
        c.enqueue(this.#datagramQueue.shift()!);
      } catch {
        return; // closed
      }
    }
  }

  /** Open a bidirectional stream (after `ready`). */
  async createBidirectionalStream(): Promise<WebTransportBidirectionalStream> {
    await this.ready;
    const halves = whatwgStream(this.#live().openStream('bidi'));
    return { readable: halves.readable!, writable: halves.writable! };
  }

  /** Open a unidirectional stream to the server (after `ready`). */
  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    await this.ready;
    return whatwgStream(this.#live().openStream('uni')).writable!;
  }

  #live(): WtSession {
    const s = this.#session;
    if (!s || s.closed) throw new WebTransportError('the session is closed');
    return s;
  }

  /** Close the session with a code (0 … 2^32-1) and a reason (at most 1024 bytes). */
  close(info: { closeCode?: number; reason?: string } = {}): void {
    const closeCode = info.closeCode ?? 0;
    const reason = info.reason ?? '';
    if (this.#done) return;
    if (!this.#session) {
      this.#closeRequested = { closeCode, reason };
      this.#fail(new WebTransportError('closed before the session was ready'));
      return;
    }
    this.#session.close(closeCode, reason);
  }

  #ended(info: WtCloseInfo): void {
    if (this.#done) return;
    this.#done = true;
    this.#release();
    const err = new WebTransportError(info.reason || 'the session ended', { source: 'session' });
    for (const c of [this.#bidiController, this.#uniController, this.#datagramController]) {
      try {
        if (info.clean) c.close();
        else c.error(err);
      } catch {
        // closed already
      }
    }
    if (info.clean) this.#resolveClosed({ closeCode: info.code, reason: info.reason });
    else this.#rejectClosed(err);
  }

  #fail(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#release();
    for (const c of [this.#bidiController, this.#uniController, this.#datagramController]) {
      try {
        c.error(err);
      } catch {
        // closed already
      }
    }
    this.#rejectReady(err);
    this.#rejectClosed(err);
  }

  #release(): void {
    const p = this.#pooled;
    this.#pooled = null;
    p?.release();
  }
}

/** W3C serverCertificateHashes: the leaf's SHA-256 must be one of them. */
function checkHashes(
  h3: H3Connection,
  hashes: NonNullable<WebTransportOptions['serverCertificateHashes']>,
): void {
  const leaf = h3.quic.peerCertificates?.()[0];
  if (!leaf)
    throw new WebTransportError('the server sent no certificate to check its hash against');
  const digest = createHash('sha256').update(leaf).digest();
  const matches = hashes.some((h) => {
    if (h.algorithm.toLowerCase() !== 'sha-256') return false;
    const v = ArrayBuffer.isView(h.value)
      ? Buffer.from(h.value.buffer, h.value.byteOffset, h.value.byteLength)
      : Buffer.from(h.value);
    return v.equals(digest);
  });
  if (!matches) {
    throw new WebTransportError("the server's certificate matches none of serverCertificateHashes");
  }
  const unfit = unfitForHashes(leaf, Date.now());
  if (unfit) throw new WebTransportError(`serverCertificateHashes: the certificate ${unfit}`);
}

/** The W3C limit on a certificate's validity period when it is trusted by its hash. */
const HASHED_CERT_MAX_DAYS = 14;

/**
 * Why a certificate trusted by its hash does not meet the W3C's custom certificate
 * requirements (an ECDSA P-256 key, valid now, for at most 14 days), or null when it
 * does: browsers refuse such certificates, so a server tested here fails as it would there.
 */
export function unfitForHashes(der: Uint8Array, now: number): string | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(der);
  } catch {
    return 'does not parse as X.509';
  }
  const key = x.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    return `has a ${key.asymmetricKeyType ?? 'unknown'} key, not ECDSA P-256`;
  }
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  if (now < from || now > to) return `is not valid now (${x.validFrom} to ${x.validTo})`;
  if (to - from > HASHED_CERT_MAX_DAYS * 86_400_000) {
    return `is valid for more than ${HASHED_CERT_MAX_DAYS} days (${x.validFrom} to ${x.validTo})`;
  }
  return null;
}

/**
 * The protocol a response's WT-Protocol names: null when it names none (or is not a
 * String: ignored, RFC 9651 §4.2), an error when it names one that was not offered.
 */
function chosenProtocol(
  fields: readonly Header[],
  offered: readonly string[],
): string | null | Error {
  const value = fields.find(([k]) => k === 'wt-protocol')?.[1];
  if (value === undefined) return null;
  const p = parseWtProtocol(value);
  if (p === null) return null;
  if (!offered.includes(p)) {
    return new WebTransportError(
      `the server chose a protocol that was not offered: ${JSON.stringify(p)}`,
    );
  }
  return p;
}
