// QUIC for HTTP/3: our own connection driver over node:dgram around Cloudflare quiche's
// native binding (shipped in @matrixai/quic). The only file that imports the QUIC
// library; the rest of src/h3 sees QuicConnection, QuicConnectionHandler, listenQuic
// and connectQuic, so another engine (node:quic) can replace this one.
//
// Why not @matrixai/quic's own QUICServer/QUICConnection: they drop (and for uni
// streams, crash on) peer streams that arrive before the connection's start resolves,
// which is exactly when every HTTP/3 client opens its control stream (toolchain.md).
//
// The loop, per connection: a datagram is `recv`'d; a new connection's handler is
// created the moment the handshake completes, before any stream is read, so no early
// stream is lost; readable streams are read (unless paused: then quiche keeps the bytes
// and flow control pushes back on the peer); queued writes are pushed into quiche as
// capacity allows; `send` is drained into the socket; the timer is re-armed from
// `timeout()`. Writes from the application are queued and flushed in a microtask, so a
// burst of writes leaves in as few packets as possible.
//
// Callers' exceptions never escape into the event loop: a handler that throws closes
// its connection with `internalErrorCode`. Every timer is cleared when its connection
// is gone, and connection timers never keep the process alive (sockets do, while they
// have work: see `QuicConnection.ref/unref`).

import { createHmac, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import dgram, { type RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import tls from 'node:tls';
import {
  type Config,
  type Host,
  type Connection as QuicheConnection,
  quiche,
} from '@matrixai/quic/native/index.js';

/** Transport parameters and limits of our side of a connection. */
export interface QuicSettings {
  /** Close an idle connection after this long (ms, default 30 000; 0 = never). */
  maxIdleTimeout?: number;
  /** Connection-level receive window (default 16 MiB). */
  initialMaxData?: number;
  /** Per-stream receive window for bidirectional streams, either side (default 1 MiB). */
  initialMaxStreamData?: number;
  /** Per-stream receive window of the peer's unidirectional streams (default 256 KiB). */
  initialMaxStreamDataUni?: number;
  /** Concurrent bidirectional streams the peer may open (default 256). */
  maxStreamsBidi?: number;
  /** Concurrent unidirectional streams the peer may open (default 16). */
  maxStreamsUni?: number;
  /** Upper bound of quiche's stream window autotuning (default 4 MiB). */
  maxStreamWindow?: number;
  /** Upper bound of quiche's connection window autotuning (default 24 MiB). */
  maxConnectionWindow?: number;
  /**
   * Largest UDP payload we send (default 1350, quiche's default; 16 KiB to a loopback
   * peer, whose MTU is 64 KiB). quiche sends at most what the peer's
   * max_udp_payload_size transport parameter allows.
   */
  maxUdpPayload?: number;
}

/** How a connection ended, as its handler's `onClose` learns it (exactly once). */
export interface QuicCloseInfo {
  /** peer: CONNECTION_CLOSE received; local: we closed; idle: idle timeout; error: a failure here. */
  readonly by: 'peer' | 'local' | 'idle' | 'error';
  /** Application (true) or transport (false) error space. */
  readonly app: boolean;
  readonly code: number;
  readonly reason: string;
  readonly error?: Error;
}

/** Events of one connection. Called synchronously from the driver; may call back into it. */
export interface QuicConnectionHandler {
  /** Stream bytes in order (a fresh buffer the handler may keep), `fin` on the last. */
  onStreamData(stream: number, data: Uint8Array, fin: boolean): void;
  /** The peer reset its sending side (RESET_STREAM) with an application code. */
  onStreamReset(stream: number, code: number): void;
  /**
   * Our sending side is gone: the peer asked us to stop (STOP_SENDING, quiche has reset
   * our side), or `code` null when quiche had already forgotten the stream (its receiving
   * side had ended too) when we wrote.
   */
  onStreamStopped(stream: number, code: number | null): void;
  /** Everything queued on the stream has been handed to quiche. */
  onStreamDrain(stream: number): void;
  /** The connection is gone; nothing more will be delivered or sent. */
  onClose(info: QuicCloseInfo): void;
}

export type StreamKind = 'bidi' | 'uni';

const EMPTY = new Uint8Array(0);
const CID_LENGTH = 20; // quiche.MAX_CONN_ID_LEN: short headers are parsed with this length
const READ_CHUNK = 64 * 1024;
/** Datagrams up to this size are copied out of the send buffer (Node's pool serves them). */
const SMALL_PACKET = 1500;
const RETIRED_MAX = 4096;
/** Datagram size to a loopback peer: a twelfth of the per-packet work of 1350 bytes. */
const LOOPBACK_UDP_PAYLOAD = 16 * 1024;
/** Socket buffers we ask for (the kernel caps them at net.core.[rw]mem_max). */
const SOCKET_BUFFER = 4 * 1024 * 1024;

const DEFAULT_SETTINGS: Required<QuicSettings> = {
  maxIdleTimeout: 30_000,
  initialMaxData: 16 * 1024 * 1024,
  initialMaxStreamData: 1024 * 1024,
  initialMaxStreamDataUni: 256 * 1024,
  maxStreamsBidi: 256,
  maxStreamsUni: 16,
  maxStreamWindow: 4 * 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxUdpPayload: 1350,
};

interface StreamState {
  queue: Uint8Array[];
  queued: number;
  finQueued: boolean;
  finSent: boolean;
  readPaused: boolean;
  readDone: boolean;
  writeDone: boolean;
}

/** `StreamReset(268)` / `StreamStopped(268)` → 268, as quiche's errors read in JS. */
function streamErrorCode(err: unknown, kind: 'StreamReset' | 'StreamStopped'): number | null {
  const m = /^(\w+)\((\d{1,16})\)/.exec(err instanceof Error ? err.message : '');
  return m && m[1] === kind ? Number(m[2]) : null;
}

function cidKey(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('hex');
}

/**
 * The Destination Connection ID of a datagram's first packet, as a map key (RFC 9000
 * §17.2: long header, length-prefixed at byte 5; §17.3: short header, ours are 20 bytes
 * at byte 1), or null when the datagram is too short.
 */
function peekDcid(msg: Buffer): string | null {
  if (msg.length < 1 + CID_LENGTH) return null;
  if ((msg[0]! & 0x80) === 0) return msg.toString('hex', 1, 1 + CID_LENGTH);
  const len = msg[5] ?? 0xff;
  if (len > CID_LENGTH || msg.length < 6 + len) return null;
  return msg.toString('hex', 6, 6 + len);
}

function pemBytes(v: string | Uint8Array | readonly (string | Uint8Array)[]): Uint8Array {
  const list = Array.isArray(v) ? v : [v];
  return Buffer.from(
    list.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8'))).join('\n'),
    'utf8',
  );
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

/** Our settings for a peer: the loopback datagram size unless the caller chose one. */
function settingsFor(given: QuicSettings | undefined, peer: string): Required<QuicSettings> {
  const s = { ...DEFAULT_SETTINGS, ...given };
  if (given?.maxUdpPayload === undefined && isLoopback(peer))
    s.maxUdpPayload = LOOPBACK_UDP_PAYLOAD;
  return s;
}

function buildConfig(
  base: Config,
  alpn: readonly string[],
  s: Required<QuicSettings>,
  client: boolean,
): Config {
  base.setApplicationProtos([...alpn]);
  base.setMaxIdleTimeout(s.maxIdleTimeout);
  base.setMaxRecvUdpPayloadSize(quiche.MAX_UDP_PACKET_SIZE);
  base.setMaxSendUdpPayloadSize(s.maxUdpPayload);
  base.setInitialMaxData(s.initialMaxData);
  base.setInitialMaxStreamDataBidiLocal(s.initialMaxStreamData);
  base.setInitialMaxStreamDataBidiRemote(s.initialMaxStreamData);
  base.setInitialMaxStreamDataUni(s.initialMaxStreamDataUni);
  base.setInitialMaxStreamsBidi(client ? 0 : s.maxStreamsBidi);
  base.setInitialMaxStreamsUni(s.maxStreamsUni);
  base.setMaxStreamWindow(s.maxStreamWindow);
  base.setMaxConnectionWindow(s.maxConnectionWindow);
  base.setDisableActiveMigration(true);
  base.grease(true);
  return base;
}

/** The socket side of a connection: where its datagrams go and who forgets it. */
interface Owner {
  send(packet: Uint8Array, to: Host): void;
  forget(conn: DriverConnection): void;
  ref(): void;
  unref(): void;
}

/**
 * One QUIC connection: what src/h3 uses of a QUIC engine. Stream IDs are numbers
 * (RFC 9000 §2.1: bit 0 = server-initiated, bit 1 = unidirectional). All methods are
 * safe to call after the connection ended (they do nothing, or return 0).
 */
export interface QuicConnection {
  readonly role: 'client' | 'server';
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Whether the handshake completed. */
  readonly established: boolean;
  /** Whether the connection ended for the application (closing, draining or gone). */
  readonly closed: boolean;
  /** The negotiated ALPN protocol. */
  readonly alpn: string;
  /** Streams of `kind` we may still open before the peer raises its limit. */
  streamsLeft(kind: StreamKind): number;
  /** Our next stream ID of `kind`, or null at the peer's limit. */
  openStream(kind: StreamKind): number | null;
  /**
   * Queue bytes on a stream, then a FIN if `fin`. Never partial: what QUIC cannot take
   * now is kept (the caller must not modify the buffers afterwards) and the handler's
   * `onStreamDrain` reports when the stream's queue is empty again.
   */
  write(stream: number, data: Uint8Array | readonly Uint8Array[], fin?: boolean): void;
  /** Bytes queued on the stream that QUIC has not accepted yet. */
  bufferedAmount(stream: number): number;
  /** Stop reading the stream: QUIC keeps what arrives, and flow control stops the peer. */
  pauseStream(stream: number): void;
  resumeStream(stream: number): void;
  /** RESET_STREAM: abandon our sending side with an application error code. */
  resetStream(stream: number, code: number): void;
  /** STOP_SENDING: ask the peer to stop sending; what arrives is discarded. */
  stopSending(stream: number, code: number): void;
  /** Keep the connection from idling out (PING) while the application has streams open. */
  setKeepAlive(on: boolean): void;
  /** Whether the socket keeps the process alive (clients; a server's always does). */
  ref(): void;
  unref(): void;
  /** CONNECTION_CLOSE with an application code; the handler's onClose runs at once. */
  close(code: number, reason?: string): void;
  /** Close once every queued stream byte is handed to QUIC (at most `wait` ms later). */
  closeWhenFlushed(code: number, reason?: string, wait?: number): void;
  /** Drop at once without CONNECTION_CLOSE (teardown of last resort). */
  destroy(): void;
  /** Resolves once the connection is gone for good (after closing/draining). */
  whenGone(): Promise<void>;
}

/** Leading queued chunks smaller than this together are copied into one for streamSend. */
const COALESCE_MAX = 16 * 1024;

/** Merge the leading chunks of `queue` that fit in COALESCE_MAX bytes into one. */
function coalesce(queue: Uint8Array[]): void {
  let n = 0;
  let total = 0;
  while (n < queue.length && total + queue[n]!.length <= COALESCE_MAX) {
    total += queue[n]!.length;
    n++;
  }
  if (n < 2) return;
  const merged = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = 0; i < n; i++) {
    merged.set(queue[i]!, off);
    off += queue[i]!.length;
  }
  queue.splice(0, n, merged);
}

/** The quiche-backed QuicConnection, driven by the sockets below. */
class DriverConnection implements QuicConnection {
  readonly role: 'client' | 'server';
  readonly localAddress: string;
  readonly localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Source connection IDs under which the owner finds this connection. */
  readonly cids: string[];
  #conn: QuicheConnection;
  readonly #owner: Owner;
  readonly #internalErrorCode: number;
  readonly #maxUdpPayload: number;
  readonly #maxIdle: number;
  #handler: QuicConnectionHandler | null = null;
  #onEstablished: ((conn: DriverConnection) => QuicConnectionHandler) | null;
  #onFailed: ((info: QuicCloseInfo) => void) | null;
  #established = false;
  #closeReported = false;
  #gone = false;
  #timer: NodeJS.Timeout | null = null;
  #keepAlive: NodeJS.Timeout | null = null;
  #flushScheduled = false;
  #batchScheduled = false;
  #closeAfterFlush: (() => void) | null = null;
  #processing = false;
  readonly #streams = new Map<number, StreamState>();
  readonly #retired = new Set<number>();
  /** Streams with queued bytes (or a FIN) that quiche has not taken yet. */
  readonly #pending = new Set<number>();
  /** Streams we opened that quiche does not know yet (no send so far). */
  readonly #unborn = new Set<number>();
  /** Streams we sent a FIN on that quiche may still retransmit (see #allAcked). */
  readonly #inFlight = new Set<number>();
  #nextBidi: number;
  #nextUni: number;
  readonly #scratch = Buffer.allocUnsafe(READ_CHUNK);
  #sendBuffer: Buffer | null = null;
  readonly #closeWaiters: (() => void)[] = [];

  constructor(init: {
    role: 'client' | 'server';
    conn: QuicheConnection;
    owner: Owner;
    local: Host;
    remote: Host;
    cids: string[];
    internalErrorCode: number;
    settings: Required<QuicSettings>;
    onEstablished: (conn: DriverConnection) => QuicConnectionHandler;
    /** The connection ended before its handshake completed. */
    onFailed?: (info: QuicCloseInfo) => void;
  }) {
    this.role = init.role;
    this.#conn = init.conn;
    this.#owner = init.owner;
    this.localAddress = init.local.host;
    this.localPort = init.local.port;
    this.remoteAddress = init.remote.host;
    this.remotePort = init.remote.port;
    this.cids = init.cids;
    this.#internalErrorCode = init.internalErrorCode;
    this.#maxUdpPayload = init.settings.maxUdpPayload;
    this.#maxIdle = init.settings.maxIdleTimeout;
    this.#onEstablished = init.onEstablished;
    this.#onFailed = init.onFailed ?? null;
    const server = init.role === 'server' ? 1 : 0;
    this.#nextBidi = server;
    this.#nextUni = 2 | server;
  }

  /** Whether the handshake completed (and the handler exists). */
  get established(): boolean {
    return this.#established;
  }

  /** Whether the connection ended for the application (closing, draining or gone). */
  get closed(): boolean {
    return this.#closeReported;
  }

  /** The negotiated ALPN protocol ('' before the handshake). */
  get alpn(): string {
    try {
      return Buffer.from(this.#conn.applicationProto()).toString('latin1');
    } catch {
      return '';
    }
  }

  /** The peer's certificate chain (DER, leaf first), when it sent one. */
  peerCertificates(): Uint8Array[] {
    try {
      return this.#conn.peerCertChain() ?? [];
    } catch {
      return [];
    }
  }

  /** Streams of `kind` we may still open before the peer raises its limit. */
  streamsLeft(kind: StreamKind): number {
    if (this.#closeReported) return 0;
    try {
      const left =
        kind === 'bidi' ? this.#conn.peerStreamsLeftBidi() : this.#conn.peerStreamsLeftUni();
      // quiche creates a stream at its first send: IDs handed out since do not count yet
      let unborn = 0;
      for (const id of this.#unborn) if (((id & 2) === 0) === (kind === 'bidi')) unborn++;
      return Math.max(0, left - unborn);
    } catch {
      return 0;
    }
  }

  /** Allocates our next stream ID of `kind`, or returns null when the peer's limit is reached. */
  openStream(kind: StreamKind): number | null {
    if (this.#closeReported || this.streamsLeft(kind) <= 0) return null;
    const id = kind === 'bidi' ? this.#nextBidi : this.#nextUni;
    if (kind === 'bidi') this.#nextBidi += 4;
    else this.#nextUni += 4;
    this.#state(id, kind === 'uni');
    this.#unborn.add(id);
    return id;
  }

  /** Bytes queued on the stream that quiche has not accepted yet. */
  bufferedAmount(stream: number): number {
    return this.#streams.get(stream)?.queued ?? 0;
  }

  /**
   * Queue bytes on a stream, then a FIN if `fin`. Never partial: what quiche cannot take
   * now is kept (the caller must not modify the buffers afterwards) and `onStreamDrain`
   * reports when the queue is empty again.
   */
  write(stream: number, data: Uint8Array | readonly Uint8Array[], fin = false): void {
    if (this.#closeReported) return;
    const s = this.#streams.get(stream) ?? this.#state(stream, false);
    if (s.writeDone || s.finQueued) return;
    if (data instanceof Uint8Array) {
      if (data.length > 0) {
        s.queue.push(data);
        s.queued += data.length;
      }
    } else {
      for (const d of data) {
        if (d.length === 0) continue;
        s.queue.push(d);
        s.queued += d.length;
      }
    }
    if (fin) s.finQueued = true;
    if (s.queue.length > 0 || fin) {
      this.#pending.add(stream);
      this.#scheduleFlush();
    }
  }

  /** Stop reading the stream: quiche keeps what arrives, and flow control stops the peer. */
  pauseStream(stream: number): void {
    const s = this.#streams.get(stream);
    if (s) s.readPaused = true;
  }

  resumeStream(stream: number): void {
    const s = this.#streams.get(stream);
    if (!s?.readPaused) return;
    s.readPaused = false;
    if (this.#closeReported) return;
    // bytes quiche held while we were paused: read them outside the caller's stack
    queueMicrotask(() => {
      if (this.#closeReported || s.readPaused || s.readDone) return;
      this.#guard(() => this.#readStream(stream));
      this.#scheduleFlush();
    });
  }

  /** RESET_STREAM: abandon our sending side with an application error code. */
  resetStream(stream: number, code: number): void {
    const s = this.#streams.get(stream);
    if (this.#closeReported || !s || s.writeDone) return;
    this.#dropQueue(stream, s);
    s.writeDone = true;
    try {
      this.#conn.streamShutdown(stream, quiche.Shutdown.Write, code);
      // the RESET_STREAM is as much in flight as a FIN: a closeWhenFlushed must not
      // overtake it (quiche sends nothing but CONNECTION_CLOSE once closed)
      this.#finished(stream);
    } catch {
      // already finished or reset
    }
    this.#maybeRetire(stream, s);
    this.#scheduleFlush();
  }

  /** STOP_SENDING: ask the peer to stop sending on the stream; what arrives is discarded. */
  stopSending(stream: number, code: number): void {
    const s = this.#streams.get(stream) ?? this.#state(stream, false);
    if (this.#closeReported || s.readDone) return;
    s.readDone = true;
    try {
      this.#conn.streamShutdown(stream, quiche.Shutdown.Read, code);
    } catch {
      // already finished
    }
    this.#maybeRetire(stream, s);
    this.#scheduleFlush();
  }

  /** Keep the connection from idling out while the application has streams open. */
  setKeepAlive(on: boolean): void {
    if (!on || this.#closeReported || this.#maxIdle === 0) {
      if (this.#keepAlive) clearInterval(this.#keepAlive);
      this.#keepAlive = null;
      return;
    }
    if (this.#keepAlive) return;
    this.#keepAlive = setInterval(
      () => {
        if (this.#closeReported) return;
        try {
          this.#conn.sendAckEliciting();
        } catch {
          // closing
        }
        this.#scheduleFlush();
      },
      Math.max(1000, Math.floor(this.#maxIdle / 3)),
    );
    this.#keepAlive.unref();
  }

  /** Keep the process alive for this connection's socket (clients; servers always do). */
  ref(): void {
    this.#owner.ref();
  }

  unref(): void {
    this.#owner.unref();
  }

  /**
   * Close with an application error code (CONNECTION_CLOSE). The handler's onClose runs
   * at once; the connection lingers (unref'd) for the draining period RFC 9000 §10.2 asks.
   */
  close(code: number, reason = ''): void {
    if (this.#gone) return;
    if (!this.#closeReported) {
      try {
        this.#conn.close(true, code, Buffer.from(reason, 'utf8'));
      } catch {
        // already closing
      }
      this.#reportClose({ by: 'local', app: true, code, reason });
    }
    this.#scheduleFlush();
  }

  /**
   * Close once every queued stream byte has been handed to quiche (at most `wait` ms
   * later): quiche stops sending stream data at CONNECTION_CLOSE, so a graceful close
   * must not overtake the last FIN it has not taken yet.
   */
  closeWhenFlushed(code: number, reason = '', wait = 2000): void {
    if (this.#closeReported || this.#gone) return;
    if (this.#pending.size === 0 && this.#allAcked()) {
      this.close(code, reason);
      return;
    }
    if (this.#closeAfterFlush) return;
    const timer = setTimeout(() => this.close(code, reason), wait);
    timer.unref();
    this.#closeAfterFlush = () => {
      clearTimeout(timer);
      this.close(code, reason);
    };
  }

  /** Drop the connection at once, without CONNECTION_CLOSE (teardown of last resort). */
  destroy(): void {
    if (this.#gone) return;
    if (!this.#closeReported) {
      this.#reportClose({ by: 'local', app: true, code: 0, reason: 'destroyed' });
    }
    this.#finish();
  }

  /** Resolves once the connection is gone for good (after closing/draining). */
  whenGone(): Promise<void> {
    if (this.#gone) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  // ── driver side ───────────────────────────────────────────────────────────

  /** @internal A datagram for this connection. */
  receive(data: Buffer, from: Host): void {
    if (this.#gone) return;
    try {
      this.#conn.recv(data, {
        from,
        to: { host: this.localAddress, port: this.localPort },
      });
    } catch (err) {
      // quiche closed the connection itself (TLS failure, protocol violation): report it
      // below from localError; anything else is ours to close
      if (this.#conn.localError() === null && !this.#closeReported) {
        this.#fail(err as Error);
        return;
      }
      if (!this.#closeReported) {
        const e = this.#conn.localError();
        this.#reportClose({
          by: 'error',
          app: e?.isApp ?? false,
          code: e?.errorCode ?? 0,
          reason: e ? Buffer.from(e.reason).toString('utf8') : '',
          error: err as Error,
        });
      }
    }
    if (from.host !== this.remoteAddress || from.port !== this.remotePort) {
      this.remoteAddress = from.host;
      this.remotePort = from.port;
    }
    // the datagrams of one poll phase are all received before streams are processed and
    // answered: one ACK and one pass over the streams for the batch, not per datagram
    if (!this.#batchScheduled) {
      this.#batchScheduled = true;
      setImmediate(() => {
        this.#batchScheduled = false;
        this.#process();
        this.#flush();
      });
    }
  }

  /** @internal Send the first flight (client). */
  start(): void {
    this.#flush();
  }

  #state(id: number, uniLocal: boolean): StreamState {
    const peerUni = (id & 2) !== 0 && (id & 1) !== (this.role === 'server' ? 1 : 0);
    const s: StreamState = {
      queue: [],
      queued: 0,
      finQueued: false,
      finSent: false,
      readPaused: false,
      // our uni streams have no receiving side, the peer's no sending side
      readDone: uniLocal,
      writeDone: peerUni,
    };
    this.#streams.set(id, s);
    return s;
  }

  #process(): void {
    if (this.#gone || this.#processing) return;
    this.#processing = true;
    try {
      if (!this.#established && !this.#closeReported && this.#conn.isEstablished()) {
        this.#established = true;
        const make = this.#onEstablished;
        this.#onEstablished = null;
        if (make) this.#handler = make(this);
      }
      if (this.#established && !this.#closeReported) {
        for (const id of this.#conn.readable()) {
          if (this.#closeReported) break;
          this.#readStream(id);
        }
        if (!this.#closeReported) this.#checkStopped();
      }
    } catch (err) {
      this.#fail(err as Error);
    } finally {
      this.#processing = false;
    }
    this.#checkClosed();
  }

  #readStream(id: number): void {
    let s = this.#streams.get(id);
    if (s === undefined) {
      if (this.#retired.has(id) || (id & 1) === (this.role === 'server' ? 1 : 0)) {
        this.#discard(id);
        return;
      }
      s = this.#state(id, false);
    }
    if (s.readDone) {
      this.#discard(id);
      return;
    }
    while (!s.readPaused && !s.readDone && !this.#closeReported) {
      let r: [number, boolean] | null;
      try {
        r = this.#conn.streamRecv(id, this.#scratch);
      } catch (err) {
        s.readDone = true;
        const code = streamErrorCode(err, 'StreamReset');
        if (code !== null) this.#handler?.onStreamReset(id, code);
        this.#maybeRetire(id, s);
        return;
      }
      if (r === null) return;
      const [n, fin] = r;
      const chunk = n === 0 ? EMPTY : Buffer.from(this.#scratch.subarray(0, n));
      if (fin) s.readDone = true;
      if (n > 0 || fin) this.#handler?.onStreamData(id, chunk, fin);
      if (fin) {
        this.#maybeRetire(id, s);
        return;
      }
    }
  }

  /** Read and drop whatever quiche holds for a stream nobody reads any more. */
  #discard(id: number): void {
    for (let i = 0; i < 64; i++) {
      try {
        const r = this.#conn.streamRecv(id, this.#scratch);
        if (r === null || r[1]) return;
      } catch {
        return;
      }
    }
  }

  /**
   * A peer's STOP_SENDING shows as StreamStopped on a capacity query, and only until
   * quiche forgets the stream (once its automatic RESET_STREAM is acknowledged): so every
   * stream we still send on is asked after each batch, while the code is still there.
   * quiche's writable() does not reliably list stopped streams.
   */
  #checkStopped(): void {
    for (const [id, s] of this.#streams) {
      if (s.writeDone || this.#unborn.has(id)) continue;
      try {
        this.#conn.streamCapacity(id);
      } catch (err) {
        // StreamStopped(code); or InvalidStreamState: quiche forgot a stream we never
        // finished, which only a STOP_SENDING does (once all we sent was acknowledged)
        this.#stopped(id, s, err);
      }
    }
  }

  #stopped(id: number, s: StreamState, err: unknown): void {
    this.#dropQueue(id, s);
    s.writeDone = true;
    const code = streamErrorCode(err, 'StreamStopped');
    if (code !== null) {
      try {
        // quiche has queued the RESET_STREAM; this settles its stream state
        this.#conn.streamShutdown(id, quiche.Shutdown.Write, code);
      } catch {
        // already shut
      }
    }
    this.#handler?.onStreamStopped(id, code);
    this.#maybeRetire(id, s);
  }

  /** A FIN went to quiche: the stream's bytes are in flight until quiche forgets it. */
  #finished(id: number): void {
    this.#inFlight.add(id);
    if (this.#inFlight.size > 64) this.#allAcked();
  }

  /**
   * Whether every stream we ended has been acknowledged in full: quiche forgets a stream
   * (InvalidStreamState) only once both sides are complete and all it sent is acknowledged.
   */
  #allAcked(): boolean {
    for (const id of this.#inFlight) {
      try {
        this.#conn.streamCapacity(id);
      } catch {
        this.#inFlight.delete(id); // forgotten (all acknowledged), or stopped by the peer
      }
    }
    return this.#inFlight.size === 0;
  }

  /** Whether the stream's sending side is gone (then reported as stopped). */
  #wasStopped(id: number, s: StreamState): boolean {
    try {
      this.#conn.streamCapacity(id);
      return false;
    } catch (err) {
      this.#stopped(id, s, err);
      return true;
    }
  }

  #dropQueue(id: number, s: StreamState): void {
    this.#unborn.delete(id);
    s.queue = [];
    s.queued = 0;
    this.#pending.delete(id);
  }

  #maybeRetire(id: number, s: StreamState): void {
    if (!s.readDone || !s.writeDone) return;
    if (this.#streams.get(id) !== s) return;
    this.#streams.delete(id);
    this.#pending.delete(id);
    this.#retired.add(id);
    if (this.#retired.size > RETIRED_MAX) {
      const oldest = this.#retired.values().next().value;
      if (oldest !== undefined) this.#retired.delete(oldest);
    }
  }

  /** Hand queued bytes to quiche as far as its flow control and congestion window allow. */
  #pushStreams(): void {
    for (const id of this.#pending) {
      if (this.#closeReported) return;
      const s = this.#streams.get(id);
      if (!s || s.writeDone) {
        this.#pending.delete(id);
        continue;
      }
      const had = s.queued > 0;
      let blocked = false;
      while (s.queue.length > 0) {
        // many small pieces (frame headers, small messages): one call into quiche, not one each
        if (s.queue.length > 1 && s.queue[0]!.length < COALESCE_MAX) coalesce(s.queue);
        const chunk = s.queue[0]!;
        const last = s.queue.length === 1 && s.finQueued;
        let n: number | null;
        try {
          n = this.#conn.streamSend(id, chunk, last);
        } catch (err) {
          this.#stopped(id, s, err);
          blocked = true;
          break;
        }
        if (n !== null) this.#unborn.delete(id);
        if (n === null) {
          // quiche answers Done, not StreamStopped, when the peer sent STOP_SENDING: ask
          if (this.#wasStopped(id, s)) {
            blocked = true;
            break;
          }
          n = 0;
        }
        s.queued -= n;
        if (n < chunk.length) {
          s.queue[0] = chunk.subarray(n);
          blocked = true;
          break;
        }
        s.queue.shift();
        if (last) {
          s.finSent = true;
          s.writeDone = true;
          this.#finished(id);
        }
      }
      if (!blocked && s.finQueued && !s.finSent) {
        try {
          if (this.#conn.streamSend(id, EMPTY, true) !== null) {
            this.#unborn.delete(id);
            s.finSent = true;
            s.writeDone = true;
            this.#finished(id);
          } else {
            this.#wasStopped(id, s);
            blocked = true;
          }
        } catch (err) {
          this.#stopped(id, s, err);
          blocked = true;
        }
      }
      if (blocked && !s.writeDone) continue;
      this.#pending.delete(id);
      if (had && s.queued === 0) this.#handler?.onStreamDrain(id);
      if (s.writeDone) this.#maybeRetire(id, s);
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#gone) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#gone) return;
    try {
      if (this.#established && !this.#closeReported && this.#pending.size > 0) {
        this.#pushStreams();
      }
      this.#sendPackets();
      // after the packets: stream data quiche has taken but not sent yet would be dropped
      // by the CONNECTION_CLOSE (close() schedules the flush that sends it)
      if (
        this.#closeAfterFlush &&
        this.#pending.size === 0 &&
        !this.#closeReported &&
        this.#allAcked()
      ) {
        const close = this.#closeAfterFlush;
        this.#closeAfterFlush = null;
        close();
      }
    } catch (err) {
      this.#fail(err as Error);
    }
    this.#armTimer();
    this.#checkClosed();
  }

  /** Hand every packet quiche has to the socket. */
  #sendPackets(): void {
    for (;;) {
      if (this.#sendBuffer === null) this.#sendBuffer = Buffer.allocUnsafe(this.#maxUdpPayload);
      const packet = this.#sendBuffer;
      const r = this.#conn.send(packet);
      if (r === null) break;
      const [n, info] = r;
      if (n <= SMALL_PACKET) {
        // small (ACKs, short messages): a copy from Node's pool, the buffer stays ours
        this.#owner.send(Buffer.from(packet.subarray(0, n)), info.to);
      } else {
        // the socket keeps the buffer until sent: hand it over, take a new one next time
        this.#sendBuffer = null;
        this.#owner.send(packet.subarray(0, n), info.to);
      }
    }
  }

  #armTimer(): void {
    if (this.#gone) return;
    let ms: number | null = null;
    try {
      ms = this.#conn.timeout();
    } catch {
      ms = null;
    }
    if (ms === null) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#onTimeout(), ms);
    this.#timer.unref();
  }

  #onTimeout(): void {
    this.#timer = null;
    if (this.#gone) return;
    try {
      this.#conn.onTimeout();
    } catch (err) {
      this.#fail(err as Error);
    }
    this.#process();
    this.#flush();
  }

  #checkClosed(): void {
    if (this.#gone) return;
    let closed = false;
    let draining = false;
    try {
      closed = this.#conn.isClosed();
      draining = this.#conn.isDraining();
    } catch {
      closed = true;
    }
    if (!this.#closeReported && (closed || draining)) {
      const peer = this.#conn.peerError();
      const local = this.#conn.localError();
      if (peer) {
        this.#reportClose({
          by: 'peer',
          app: peer.isApp,
          code: peer.errorCode,
          reason: Buffer.from(peer.reason).toString('utf8'),
        });
      } else if (this.#conn.isTimedOut()) {
        this.#reportClose({ by: 'idle', app: false, code: 0, reason: 'idle timeout' });
      } else {
        this.#reportClose({
          by: local ? 'error' : 'local',
          app: local?.isApp ?? false,
          code: local?.errorCode ?? 0,
          reason: local ? Buffer.from(local.reason).toString('utf8') : '',
        });
      }
    }
    if (closed) this.#finish();
  }

  #reportClose(info: QuicCloseInfo): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.setKeepAlive(false);
    this.#pending.clear();
    if (this.role === 'client') this.#owner.unref();
    const h = this.#handler;
    const failed = this.#onFailed;
    this.#onEstablished = null;
    this.#onFailed = null;
    if (!h && failed) {
      try {
        failed(info);
      } catch {
        // the caller's promise is settled already
      }
    }
    if (h) {
      try {
        h.onClose(info);
      } catch {
        // nothing left to close
      }
    }
  }

  #fail(err: Error): void {
    if (this.#closeReported) return;
    try {
      this.#conn.close(true, this.#internalErrorCode, Buffer.from('internal error'));
    } catch {
      // already closing
    }
    this.#reportClose({
      by: 'error',
      app: true,
      code: this.#internalErrorCode,
      reason: err.message,
      error: err,
    });
  }

  /** Run a piece of stream processing; an exception closes the connection. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #finish(): void {
    if (this.#gone) return;
    this.#gone = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.setKeepAlive(false);
    this.#streams.clear();
    this.#pending.clear();
    this.#owner.forget(this);
    for (const w of this.#closeWaiters.splice(0)) w();
  }
}

// ── sockets ───────────────────────────────────────────────────────────────────

function bindSocket(host: string, port: number): Promise<dgram.Socket> {
  const v6 = isIP(host) === 6;
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.removeListener('error', onError);
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER);
        socket.setSendBufferSize(SOCKET_BUFFER);
      } catch {
        // the defaults then
      }
      resolve(socket);
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

// ── server ────────────────────────────────────────────────────────────────────

export interface QuicServerOptions {
  /**
   * Addresses to listen on, all on one port (default 127.0.0.1 and ::1, or 127.0.0.1
   * alone on a machine without IPv6).
   */
  hosts?: readonly string[];
  /** UDP port (0: pick one free on every host). */
  port?: number;
  /** PEM certificate chain and private key. */
  cert: string | Uint8Array;
  key: string | Uint8Array;
  alpn: readonly string[];
  settings?: QuicSettings;
  /** Application code for closing a connection whose handler threw. */
  internalErrorCode: number;
  /** A handshake completed: return the connection's handler (called before any stream is read). */
  onConnection(conn: QuicConnection): QuicConnectionHandler;
  /**
   * Address validation with Retry (RFC 9000 §8.1.2) before any connection state exists:
   * true for every new connection, false never, 'auto' (default) once `retryAbove`
   * handshakes are in progress, so a flood of Initials from spoofed addresses costs one
   * stateless Retry each instead of a connection each. A Retry costs a client one round trip.
   */
  retry?: boolean | 'auto';
  /** For retry 'auto': handshakes in progress from which new ones must validate (default 64). */
  retryAbove?: number;
}

export interface QuicServer {
  readonly port: number;
  readonly hosts: readonly string[];
  readonly connections: ReadonlySet<QuicConnection>;
  /** Refuse new connections (their Initial packets are dropped). */
  stopAccepting(): void;
  /**
   * Stop: new connections are refused; connections still open are closed with `code`;
   * waits for their draining (at most `grace` ms), then closes the sockets.
   */
  close(code: number, grace?: number): Promise<void>;
}

// ── Retry tokens (RFC 9000 §8.1.2) ────────────────────────────────────────────

/** First byte of our Retry tokens: tells them from a NEW_TOKEN another server issued. */
const RETRY_TOKEN_MAGIC = 0x6f;
const RETRY_TOKEN_MAC = 16;
/** A Retry token is used at once (the client's next Initial): 10 s is generous. */
const RETRY_TOKEN_LIFETIME = 10_000;

/**
 * Mint and check Retry tokens: magic, issue time, the client's original DCID, and a MAC
 * binding them to the client's address and port under a key that lives with the server.
 */
class RetryTokens {
  readonly #key = randomBytes(32);

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

/** Listen for QUIC on every host on one UDP port. */
export async function listenQuic(opts: QuicServerOptions): Promise<QuicServer> {
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
  // one quiche config per datagram size: loopback peers get larger datagrams
  const configs = new Map<number, Config>();
  const configFor = (s: Required<QuicSettings>): Config => {
    let c = configs.get(s.maxUdpPayload);
    if (c === undefined) {
      c = buildConfig(
        quiche.Config.withBoringSslCtx(
          false,
          false,
          null,
          [pemBytes(opts.key)],
          [pemBytes(opts.cert)],
        ),
        opts.alpn,
        s,
        false,
      );
      configs.set(s.maxUdpPayload, c);
    }
    return c;
  };
  configFor(settings); // a bad certificate or key fails here, not at the first packet
  const explicit = opts.hosts !== undefined && opts.hosts.length > 0;
  const sockets = await bindAll(explicit ? opts.hosts! : DEFAULT_HOSTS, opts.port ?? 0, !explicit);
  const hosts = sockets.map((s) => s.address().address);
  const port = sockets[0]!.address().port;
  const byCid = new Map<string, DriverConnection>();
  const connections = new Set<QuicConnection>();
  /** Connections whose handshake has not completed (for retry 'auto'). */
  const handshaking = new Set<DriverConnection>();
  const tokens = new RetryTokens();
  const retry = opts.retry ?? 'auto';
  const retryAbove = opts.retryAbove ?? 64;
  let accepting = true;

  const onMessage = (socket: dgram.Socket, local: Host) => (msg: Buffer, rinfo: RemoteInfo) => {
    const from: Host = { host: rinfo.address, port: rinfo.port };
    const dcid = peekDcid(msg);
    const known = dcid === null ? undefined : byCid.get(dcid);
    if (known) {
      known.receive(msg, from);
      return;
    }
    if (!accepting) return;
    let header: ReturnType<typeof quiche.Header.fromSlice>;
    try {
      header = quiche.Header.fromSlice(msg, CID_LENGTH);
    } catch {
      return; // not QUIC
    }
    if (header.ty !== quiche.Type.Initial) return;
    if (!quiche.versionIsSupported(header.version)) {
      const out = Buffer.allocUnsafe(settings.maxUdpPayload);
      try {
        const n = quiche.negotiateVersion(header.scid, header.dcid, out);
        socket.send(out.subarray(0, n), rinfo.port, rinfo.address, noop);
      } catch {
        // malformed
      }
      return;
    }
    // RFC 9000 §14.1: a client Initial is padded to at least 1200 bytes
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN) return;
    let scid: Uint8Array;
    let odcid: Uint8Array | null = null;
    const token = header.token;
    if (token !== undefined && tokens.ours(token)) {
      // RFC 9000 §8.1.3: an invalid Retry token means the client will take no other;
      // discarding the packet is allowed (and costs us nothing)
      odcid = tokens.check(token, from);
      if (odcid === null) return;
      scid = header.dcid; // the connection ID our Retry gave the client
    } else if (retry === true || (retry === 'auto' && handshaking.size >= retryAbove)) {
      const newScid = randomBytes(CID_LENGTH);
      const out = Buffer.allocUnsafe(quiche.MIN_CLIENT_INITIAL_LEN);
      try {
        const token = tokens.mint(from, header.dcid);
        const n = quiche.retry(header.scid, header.dcid, newScid, token, header.version, out);
        socket.send(out.subarray(0, n), rinfo.port, rinfo.address, noop);
      } catch {
        // malformed
      }
      return;
    } else {
      scid = randomBytes(CID_LENGTH);
    }
    const connSettings = settingsFor(opts.settings, from.host);
    let qc: QuicheConnection;
    try {
      qc = quiche.Connection.accept(scid, odcid, local, from, configFor(connSettings));
    } catch {
      return;
    }
    // the client's retransmitted Initials still carry its original DCID: map both (after
    // a Retry they carry the one the Retry gave)
    const cids = odcid === null ? [cidKey(scid), cidKey(header.dcid)] : [cidKey(scid)];
    const owner: Owner = {
      send: (packet, to) => socket.send(packet, to.port, to.host, noop),
      forget: (c) => {
        for (const k of c.cids) if (byCid.get(k) === c) byCid.delete(k);
        connections.delete(c);
        handshaking.delete(c);
      },
      ref: noop,
      unref: noop,
    };
    const conn = new DriverConnection({
      role: 'server',
      conn: qc,
      owner,
      local,
      remote: from,
      cids,
      internalErrorCode: opts.internalErrorCode,
      settings: connSettings,
      onEstablished: (c) => {
        handshaking.delete(c);
        connections.add(c);
        return opts.onConnection(c);
      },
    });
    handshaking.add(conn);
    for (const k of cids) byCid.set(k, conn);
    conn.receive(msg, from);
  };
  for (const socket of sockets) {
    const a = socket.address();
    socket.on('message', onMessage(socket, { host: a.address, port: a.port }));
    socket.on('error', noop); // ICMP errors and the like: QUIC's own timers recover
  }

  return {
    port,
    hosts,
    connections,
    stopAccepting() {
      accepting = false;
    },
    async close(code: number, grace = 1000) {
      accepting = false;
      const all = new Set<DriverConnection>();
      for (const c of new Set(byCid.values())) {
        // a handshake that never completed has no RTT sample: its closing period would
        // last seconds (3 × an initial PTO of ~1 s), for a peer that has nothing to lose
        if (c.established) {
          c.close(code);
          all.add(c);
        } else {
          c.destroy();
        }
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...all].map((c) => c.whenGone())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, grace);
        }),
      ]);
      clearTimeout(timer);
      for (const c of new Set(byCid.values())) c.destroy();
      await Promise.all(sockets.map(closeSocket));
    },
  };
}

/** Where a server listens unless told: both loopbacks (Chromium tries ::1 first for localhost). */
const DEFAULT_HOSTS = ['127.0.0.1', '::1'];

/**
 * Bind every host to one port; with port 0, retry when a later host has that port taken.
 * `tolerant`: skip an address family the machine lacks (no IPv6) while one host binds.
 */
async function bindAll(
  hosts: readonly string[],
  port: number,
  tolerant: boolean,
): Promise<dgram.Socket[]> {
  for (let attempt = 0; ; attempt++) {
    const sockets: dgram.Socket[] = [];
    try {
      let p = port;
      for (const [i, host] of hosts.entries()) {
        let s: dgram.Socket;
        try {
          s = await bindSocket(host, p);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const missing = code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
          if (tolerant && missing && (sockets.length > 0 || i < hosts.length - 1)) continue;
          throw err;
        }
        sockets.push(s);
        p = s.address().port;
      }
      return sockets;
    } catch (err) {
      await Promise.all(sockets.map(closeSocket));
      if (port !== 0 || attempt >= 8 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw err;
      }
    }
  }
}

// ── client ────────────────────────────────────────────────────────────────────

export interface QuicClientOptions {
  /** The server's IP address. */
  host: string;
  port: number;
  /** SNI and the name the certificate must carry; null for an IP address (checked by IP). */
  servername: string | null;
  /** Trusted CAs (PEM); default: Node's bundled root certificates. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  /** Verify the server's certificate (default true). */
  verify?: boolean;
  alpn: readonly string[];
  settings?: QuicSettings;
  internalErrorCode: number;
  /** Handshake timeout (ms). */
  timeout: number;
  /** The handshake completed: return the handler (called before any stream is read). */
  onEstablished(conn: QuicConnection): QuicConnectionHandler;
}

/**
 * Open a QUIC connection on a socket of its own. Resolves once the handshake completed
 * (the handler exists by then); rejects on a handshake failure or timeout.
 */
export async function connectQuic(opts: QuicClientOptions): Promise<QuicConnection> {
  const settings = settingsFor(opts.settings, opts.host);
  const verify = opts.verify !== false;
  const ca = verify ? pemBytes(opts.ca ?? tls.rootCertificates) : null;
  const config = buildConfig(
    quiche.Config.withBoringSslCtx(verify, false, ca, null, null),
    opts.alpn,
    settings,
    true,
  );
  const v6 = isIP(opts.host) === 6;
  const socket = await bindSocket(v6 ? '::' : '0.0.0.0', 0);
  const a = socket.address();
  const local: Host = { host: a.address, port: a.port };
  const remote: Host = { host: opts.host, port: opts.port };
  const scid = randomBytes(CID_LENGTH);
  let qc: QuicheConnection;
  try {
    qc = quiche.Connection.connect(opts.servername, scid, local, remote, config);
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  let socketClosed = false;
  const closeOnce = () => {
    if (socketClosed) return;
    socketClosed = true;
    void closeSocket(socket);
  };
  return new Promise<QuicConnection>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      conn.destroy();
      reject(new Error(`QUIC handshake timed out after ${opts.timeout} ms`));
    }, opts.timeout);
    const conn: DriverConnection = new DriverConnection({
      role: 'client',
      conn: qc,
      owner: {
        send: (packet, to) => {
          if (!socketClosed) socket.send(packet, to.port, to.host, noop);
        },
        forget: closeOnce,
        ref: () => socket.ref(),
        unref: () => socket.unref(),
      },
      local,
      remote,
      cids: [cidKey(scid)],
      internalErrorCode: opts.internalErrorCode,
      settings,
      onEstablished: (c) => {
        clearTimeout(timer);
        const problem = checkPeer(c, opts);
        if (problem !== undefined) {
          settled = true;
          queueMicrotask(() => c.close(opts.internalErrorCode, 'bad certificate'));
          reject(new Error(problem));
          return inertHandler;
        }
        settled = true;
        resolve(c);
        return opts.onEstablished(c);
      },
      onFailed: (info) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        reject(new Error(`QUIC handshake failed: ${describeClose(info)}`, { cause: info.error }));
      },
    });
    socket.on('message', (msg, rinfo) =>
      conn.receive(msg, { host: rinfo.address, port: rinfo.port }),
    );
    socket.on('error', noop);
    conn.start();
  }).catch((err: Error) => {
    closeOnce();
    throw err;
  });
}

/** What is wrong with the server's identity beyond what quiche checked, if anything. */
function checkPeer(c: DriverConnection, opts: QuicClientOptions): string | undefined {
  if (opts.verify === false || opts.servername !== null) return undefined;
  // quiche checks DNS names only; an IP address is checked against the leaf's IP SANs
  const leaf = c.peerCertificates()[0];
  if (!leaf) return 'the server sent no certificate';
  try {
    const cert = new X509Certificate(leaf);
    if (cert.checkIP(opts.host) === undefined) {
      return `the server's certificate is not valid for ${opts.host}`;
    }
  } catch (err) {
    return `unreadable server certificate: ${(err as Error).message}`;
  }
  return undefined;
}

const TLS_ALERTS: Record<number, string> = {
  40: 'handshake_failure',
  42: 'bad_certificate',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  48: 'unknown_ca',
  80: 'internal_error',
  112: 'unrecognized_name',
  120: 'no_application_protocol',
};

/** A close for people: `TLS alert 42 (bad_certificate)`, `application error 0x10c: …`. */
export function describeClose(info: QuicCloseInfo): string {
  const why = info.reason !== '' ? `: ${info.reason}` : info.error ? `: ${info.error.message}` : '';
  if (info.by === 'idle') return 'idle timeout';
  // RFC 9001 §4.8: a TLS alert becomes the transport error 0x0100 + alert
  if (!info.app && info.code >= 0x100 && info.code <= 0x1ff) {
    const alert = info.code - 0x100;
    return `TLS alert ${alert} (${TLS_ALERTS[alert] ?? 'unknown'})${why}`;
  }
  return `${info.app ? 'application' : 'transport'} error 0x${info.code.toString(16)}${why}`;
}

const inertHandler: QuicConnectionHandler = {
  onStreamData: noop,
  onStreamReset: noop,
  onStreamStopped: noop,
  onStreamDrain: noop,
  onClose: noop,
};

function noop(): void {}
