// The driver of one QUIC connection over quiche's native binding (through quic.ts):
// the QuicConnection that src/h3 uses, fed datagrams by its socket (quic-server.ts,
// quic-client.ts) and handing its packets back to it.
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

import { Qlog } from './qlog.js';
import {
  type CongestionControl,
  closeInfoOf,
  type Host,
  keylogTo,
  type QuicCloseInfo,
  type QuicConnection,
  type QuicConnectionHandler,
  type QuicheConnection,
  type QuicSettings,
  type QuicStats,
  readStats,
  type StreamKind,
  shutdownStream,
} from './quic.js';
import { EMPTY, StreamTable, streamErrorCode } from './quic-streams.js';

const READ_CHUNK = 64 * 1024;
/** Datagrams up to this size are copied out of the send buffer (Node's pool serves them). */
const SMALL_PACKET = 1500;

/** A client's move to a new path, waiting for the path's validation. */
interface Migration {
  local: Host;
  resolve: (local: Host) => void;
  reject: (err: Error) => void;
}

/** The socket side of a connection: where its datagrams go and who forgets it. */
export interface Owner {
  /** Send a datagram to `to` from the socket bound to `from`. */
  send(packet: Uint8Array, to: Host, from: Host): void;
  forget(conn: DriverConnection): void;
  /** The connection IDs under which the connection is found changed (servers route by them). */
  cidsChanged?(conn: DriverConnection, added: readonly string[], removed: readonly string[]): void;
  /** Clients: a socket on a new local port that delivers to `conn` (a path to migrate to). */
  newPath?(conn: DriverConnection): Promise<Host>;
  /** Clients: the socket bound to `local` is not needed any more. */
  dropPath?(local: Host): void;
  ref(): void;
  unref(): void;
}

/** What a driver starts from: a quiche connection, its socket side and its settings. */
export interface DriverInit {
  role: 'client' | 'server';
  conn: QuicheConnection;
  owner: Owner;
  local: Host;
  remote: Host;
  cids: string[];
  internalErrorCode: number;
  settings: Required<QuicSettings>;
  /** The client's original destination connection ID (hex): the qlog's ODCID. */
  odcid?: string;
  /**
   * A new connection ID of ours and its stateless reset token: spare IDs are issued (up to
   * the peer's active_connection_id_limit) so that a path can change (RFC 9000 §5.1.1, §9.5).
   */
  newCid: () => { cid: Uint8Array; token: bigint };
  onEstablished: (conn: DriverConnection) => QuicConnectionHandler;
  /** The connection ended before its handshake completed. */
  onFailed?: (info: QuicCloseInfo) => void;
}

/** The quiche-backed QuicConnection, driven by its socket (quic-server.ts, quic-client.ts). */
export class DriverConnection implements QuicConnection {
  readonly role: 'client' | 'server';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Source connection IDs under which the owner finds this connection. */
  readonly cids: string[];
  readonly #conn: QuicheConnection;
  readonly #owner: Owner;
  readonly #internalErrorCode: number;
  readonly #maxUdpPayload: number;
  readonly #maxIdle: number;
  #handler: QuicConnectionHandler | null = null;
  #onEstablished: ((conn: DriverConnection) => QuicConnectionHandler) | null;
  #onFailed: ((info: QuicCloseInfo) => void) | null;
  #established = false;
  /** The handler exists: the handshake completed, or 0-RTT data flows before it does. */
  #open = false;
  readonly #earlyData: boolean;
  #closeReported = false;
  #gone = false;
  #timer: NodeJS.Timeout | null = null;
  #keepAlive: NodeJS.Timeout | null = null;
  #flushScheduled = false;
  #batchScheduled = false;
  #closeAfterFlush: (() => void) | null = null;
  #processing = false;
  readonly #streams: StreamTable;
  #nextBidi: number;
  #nextUni: number;
  readonly #scratch = Buffer.allocUnsafe(READ_CHUNK);
  #sendBuffer: Buffer | null = null;
  readonly #closeWaiters: (() => void)[] = [];
  readonly #cc: CongestionControl;
  readonly #newCid: () => { cid: Uint8Array; token: bigint };
  readonly #datagrams: boolean;
  /** A migration waiting for its new path's validation. */
  #migration: Migration | null = null;
  /** Sequence number of the server's connection ID we send with (RFC 9000 §5.1.1). */
  #dcidSeq = 0;
  #minRtt = Number.POSITIVE_INFINITY;
  #rttSampledAt = 0;
  /** This connection's qlog (quic.qlogDir), or undefined. */
  readonly qlog: Qlog | undefined;
  #lastMetrics = '';

  constructor(init: DriverInit) {
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
    this.#cc = init.settings.cc;
    this.#earlyData = init.settings.earlyData;
    this.#newCid = init.newCid;
    this.#datagrams = init.settings.datagrams;
    keylogTo(init.conn, init.settings.keylog);
    this.qlog = init.settings.qlogDir === '' ? undefined : this.#startQlog(init);
    const server = init.role === 'server' ? 1 : 0;
    this.#nextBidi = server;
    this.#nextUni = 2 | server;
    this.#streams = new StreamTable(init.conn, init.role, {
      closed: () => this.#closeReported,
      stopped: (id, code) => this.#handler?.onStreamStopped(id, code),
      drained: (id) => this.#handler?.onStreamDrain(id),
    });
  }

  /** RTT, congestion window, path MTU and the packet and byte counters of this connection. */
  stats(): QuicStats {
    const st = readStats(this.#conn, this.#cc);
    if (st.rtt > 0) this.#minRtt = Math.min(this.#minRtt, st.rtt);
    return { ...st, minRtt: Number.isFinite(this.#minRtt) ? this.#minRtt : st.rtt };
  }

  /** The TLS session (a ticket to resume with, RFC 8446 §4.6.1) once the server sent one; clients. */
  session(): Uint8Array | null {
    try {
      return this.#conn.session();
    } catch {
      return null;
    }
  }

  /** Whether the handshake completed (and the handler exists). */
  get established(): boolean {
    return this.#established;
  }

  /**
   * Whether the connection runs on 0-RTT keys: the handler exists but the handshake has
   * not completed, so what the peer sent may be a replay (RFC 8470 §1).
   */
  get earlyData(): boolean {
    return this.#open && !this.#established;
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
      return Math.max(0, left - this.#streams.countUnborn(kind));
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
    this.#streams.createOurs(id, kind);
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
    const s = this.#streams.get(stream) ?? this.#streams.create(stream, false);
    if (s.writeDone || s.finQueued) return;
    if (this.#streams.enqueue(stream, s, data, fin)) this.#scheduleFlush();
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
    this.#streams.reset(stream, s, code);
    this.#scheduleFlush();
  }

  /** STOP_SENDING: ask the peer to stop sending on the stream; what arrives is discarded. */
  stopSending(stream: number, code: number): void {
    const s = this.#streams.get(stream) ?? this.#streams.create(stream, false);
    if (this.#closeReported || s.readDone) return;
    s.readDone = true;
    try {
      shutdownStream(this.#conn, stream, 'read', code);
    } catch {
      // already finished
    }
    this.#streams.retire(stream, s);
    this.#scheduleFlush();
  }

  sendDatagram(data: Uint8Array): boolean {
    if (!this.#datagrams || this.#closeReported || !this.#open) return false;
    try {
      const max = this.#conn.dgramMaxWritableLen();
      if (max === null || data.length > max || this.#conn.isDgramSendQueueFull()) return false;
      this.#conn.dgramSend(data);
    } catch {
      return false;
    }
    this.#scheduleFlush();
    return true;
  }

  maxDatagramSize(): number {
    if (!this.#datagrams || this.#closeReported) return 0;
    try {
      return this.#conn.dgramMaxWritableLen() ?? 0;
    } catch {
      return 0;
    }
  }

  #readDatagrams(): void {
    for (let i = 0; i < 1024 && !this.#closeReported; i++) {
      let d: Uint8Array | null;
      try {
        d = this.#conn.dgramRecvVec();
      } catch {
        return; // none left
      }
      if (d === null) return;
      this.#handler?.onDatagram?.(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    }
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
    if (!this.#streams.hasPending() && this.#streams.allAcked()) {
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

  /**
   * Client: move the connection to a new local UDP port (RFC 9000 §9, active migration):
   * a new socket, a spare connection ID of the server's, the new path validated (PATH_CHALLENGE
   * and PATH_RESPONSE), and every stream carried on over it. Resolves with the new local
   * address once the path is validated; the old socket closes a moment later.
   */
  migrate(timeout = 5000): Promise<Host> {
    if (this.role !== 'client' || !this.#owner.newPath) {
      return Promise.reject(new Error('only a client moves its connection to a new path'));
    }
    if (!this.#established || this.#closeReported) {
      return Promise.reject(new Error('the connection is not established'));
    }
    if (this.#migration) return Promise.reject(new Error('a migration is already under way'));
    const owner = this.#owner;
    return owner.newPath!(this).then(
      (local) =>
        new Promise<Host>((resolve, reject) => {
          const old: Host = { host: this.localAddress, port: this.localPort };
          const timer = setTimeout(() => {
            this.#migration = null;
            owner.dropPath?.(local);
            reject(new Error(`the new path was not validated within ${timeout} ms`));
          }, timeout);
          timer.unref();
          this.#migration = {
            local,
            resolve: (l) => {
              clearTimeout(timer);
              this.localAddress = l.host;
              this.localPort = l.port;
              // packets the server sent to the old path just before the move still land
              setTimeout(() => owner.dropPath?.(old), 1000).unref();
              resolve(l);
            },
            reject: (err) => {
              clearTimeout(timer);
              owner.dropPath?.(local);
              reject(err);
            },
          };
          try {
            // probe first (PATH_CHALLENGE on the new path), move once it is validated
            this.#conn.probePath(local, { host: this.remoteAddress, port: this.remotePort });
          } catch (err) {
            this.#migration.reject(
              new Error(`quiche refused to migrate: ${(err as Error).message}`, { cause: err }),
            );
            this.#migration = null;
            return;
          }
          this.qlog?.event('connectivity:connection_state_updated', { new: 'migrating' });
          this.#scheduleFlush();
        }),
    );
  }

  /**
   * After the handshake: issue spare connection IDs up to the peer's limit, forget those
   * the peer retired, and follow path events (a migration's validation).
   */
  #pathUpkeep(): void {
    const added: string[] = [];
    const removed: string[] = [];
    try {
      for (let i = 0; i < 8 && this.#conn.sourceCidsLeft() > 0; i++) {
        const { cid, token } = this.#newCid();
        this.#conn.newSourceCid(cid, token, false);
        added.push(Buffer.from(cid).toString('hex'));
      }
      for (let i = 0; i < 8; i++) {
        const gone = this.#conn.retiredScidNext();
        if (gone === null) break;
        removed.push(Buffer.from(gone).toString('hex'));
      }
    } catch {
      // closing, or no room for another ID: the connection goes on with what it has
    }
    if (added.length > 0 || removed.length > 0) {
      for (const k of added) this.cids.push(k);
      for (const k of removed) {
        const i = this.cids.indexOf(k);
        if (i >= 0) this.cids.splice(i, 1);
      }
      this.#owner.cidsChanged?.(this, added, removed);
    }
    for (let i = 0; i < 8; i++) {
      let e: ReturnType<QuicheConnection['pathEventNext']> | null;
      try {
        e = this.#conn.pathEventNext();
      } catch {
        break;
      }
      if (!e) break;
      this.#onPathEvent(e);
    }
    const m = this.#migration;
    if (m && this.#isValidated(m.local)) this.#moveTo(m);
  }

  #isValidated(local: Host): boolean {
    try {
      return this.#conn.isPathValidated(local, { host: this.remoteAddress, port: this.remotePort });
    } catch {
      return false; // the path is gone: the migration's timeout reports it
    }
  }

  /** The probed path is validated: make it the active one. */
  #moveTo(m: Migration): void {
    this.#migration = null;
    try {
      const seq = this.#conn.migrate(m.local, { host: this.remoteAddress, port: this.remotePort });
      // the old path's ID is retired, so that the server issues a fresh spare one
      if (seq !== this.#dcidSeq) {
        try {
          this.#conn.retireDestinationCid(this.#dcidSeq);
        } catch {
          // still in use, or retired already: it goes with its path
        }
        this.#dcidSeq = seq;
      }
    } catch (err) {
      m.reject(new Error(`quiche refused to migrate: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.qlog?.event('connectivity:connection_state_updated', { new: 'migrated' });
    m.resolve(m.local);
    this.#scheduleFlush();
  }

  #onPathEvent(e: NonNullable<ReturnType<QuicheConnection['pathEventNext']>>): void {
    const m = this.#migration;
    if (e.type === 'Validated' && m && e.local.port === m.local.port) {
      this.#moveTo(m);
    } else if (e.type === 'Closed' && m && e.local.port === m.local.port) {
      this.#migration = null;
      m.reject(new Error('the new path failed validation'));
    } else if (e.type === 'PeerMigrated') {
      this.remoteAddress = e.new.host;
      this.remotePort = e.new.port;
    }
  }

  // ── driver side ───────────────────────────────────────────────────────────

  /** @internal A datagram for this connection, from `from`, received on the socket bound to `local`. */
  receive(data: Buffer, from: Host, local?: Host): void {
    if (this.#gone) return;
    if (this.qlog) {
      this.qlog.event('transport:datagrams_received', { count: 1, raw: [{ length: data.length }] });
      this.#sampleRtt();
    }
    try {
      this.#conn.recv(data, {
        from,
        to: local ?? { host: this.localAddress, port: this.localPort },
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

  /**
   * @internal Send the first flight (client). A client resuming a session that allows
   * early data gets its handler now, so its first requests ride the 0-RTT packets.
   */
  start(): void {
    this.#flush();
    if (!this.#earlyData) return;
    // quiche derives the 0-RTT keys while it writes the ClientHello: only then can it say
    this.#process();
    this.#flush();
  }

  /**
   * The handler is made when the handshake completes, or as soon as 0-RTT keys exist
   * (quic.earlyData on both sides and a resumed session that allows it): a client then
   * writes before the handshake, a server reads what the client wrote in 0-RTT. When the
   * handshake completes later, the handler's onHandshakeDone says so.
   */
  #openHandler(): void {
    if (this.#closeReported) return;
    if (!this.#established && this.#conn.isEstablished()) {
      this.#established = true;
      if (this.qlog) this.#qlogEstablished(this.qlog);
      if (this.#open) this.#handler?.onHandshakeDone?.();
    }
    if (this.#open || !(this.#established || (this.#earlyData && this.#conn.isInEarlyData()))) {
      return;
    }
    this.#open = true;
    if (!this.#established)
      this.qlog?.event('connectivity:connection_state_updated', { new: 'early_write' });
    const make = this.#onEstablished;
    this.#onEstablished = null;
    if (make) this.#handler = make(this);
  }

  #process(): void {
    if (this.#gone || this.#processing) return;
    this.#processing = true;
    try {
      this.#openHandler();
      if (this.#established && !this.#closeReported) this.#pathUpkeep();
      if (this.#open && !this.#closeReported) {
        for (const id of this.#conn.readable()) {
          if (this.#closeReported) break;
          this.#readStream(id);
        }
        if (!this.#closeReported) this.#streams.checkStopped();
        if (this.#datagrams && !this.#closeReported) this.#readDatagrams();
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
      if (this.#streams.isRetired(id) || (id & 1) === (this.role === 'server' ? 1 : 0)) {
        this.#discard(id);
        return;
      }
      s = this.#streams.create(id, false);
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
        this.#streams.retire(id, s);
        return;
      }
      if (r === null) return;
      const [n, fin] = r;
      const chunk = n === 0 ? EMPTY : Buffer.from(this.#scratch.subarray(0, n));
      if (fin) s.readDone = true;
      if (n > 0 || fin) this.#handler?.onStreamData(id, chunk, fin);
      if (fin) {
        this.#streams.retire(id, s);
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
      if (this.#open && !this.#closeReported) {
        this.#handler?.beforeFlush?.();
        if (this.#streams.hasPending()) this.#streams.push();
      }
      this.#sendPackets();
      // after the packets: stream data quiche has taken but not sent yet would be dropped
      // by the CONNECTION_CLOSE (close() schedules the flush that sends it)
      if (
        this.#closeAfterFlush &&
        !this.#streams.hasPending() &&
        !this.#closeReported &&
        this.#streams.allAcked()
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
      this.qlog?.event('transport:datagrams_sent', { count: 1, raw: [{ length: n }] });
      if (n <= SMALL_PACKET) {
        // small (ACKs, short messages): a copy from Node's pool, the buffer stays ours
        this.#owner.send(Buffer.from(packet.subarray(0, n)), info.to, info.from);
      } else {
        // the socket keeps the buffer until sent: hand it over, take a new one next time
        this.#sendBuffer = null;
        this.#owner.send(packet.subarray(0, n), info.to, info.from);
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
    this.#sampleRtt();
    try {
      this.#conn.onTimeout();
    } catch (err) {
      this.#fail(err as Error);
    }
    this.#process();
    this.#flush();
  }

  /**
   * A minimum-RTT sample, at most every 100 ms (quiche keeps only the smoothed RTT); the
   * qlog's recovery:metrics_updated when the metrics changed.
   */
  #sampleRtt(force = false): void {
    const now = performance.now();
    if (!force && now - this.#rttSampledAt < 100) return;
    this.#rttSampledAt = now;
    try {
      for (const p of this.#conn.pathStats()) {
        if (!p.active) continue;
        if (p.rtt > 0) this.#minRtt = Math.min(this.#minRtt, p.rtt);
        if (this.qlog) {
          const m = {
            smoothed_rtt: p.rtt,
            min_rtt: Number.isFinite(this.#minRtt) ? this.#minRtt : p.rtt,
            congestion_window: p.cwnd,
            // quiche's delivery rate estimate, bytes/s as qlog's pacing_rate is bits/s
            pacing_rate: p.deliveryRate * 8,
          };
          const key = JSON.stringify(m);
          if (key !== this.#lastMetrics) {
            this.#lastMetrics = key;
            this.qlog.event('recovery:metrics_updated', m);
          }
        }
      }
    } catch {
      // closed: nothing to sample
    }
  }

  #startQlog(init: DriverInit): Qlog | undefined {
    let q: Qlog;
    try {
      const odcid = init.odcid ?? init.cids[0] ?? 'unknown';
      q = new Qlog(
        init.settings.qlogDir,
        odcid,
        init.role,
        `omniws ${init.role} ${init.remote.host}:${init.remote.port}`,
      );
    } catch {
      return undefined; // a directory that cannot be made: no qlog, the connection goes on
    }
    const local = { ip: init.local.host, port: init.local.port };
    const remote = { ip: init.remote.host, port: init.remote.port };
    const [src, dst] = init.role === 'client' ? [local, remote] : [remote, local];
    q.event('connectivity:connection_started', {
      ip_version: init.remote.host.includes(':') ? 'ipv6' : 'ipv4',
      src_ip: src.ip,
      src_port: src.port,
      dst_ip: dst.ip,
      dst_port: dst.port,
    });
    const s = init.settings;
    q.event('transport:parameters_set', {
      owner: 'local',
      max_idle_timeout: s.maxIdleTimeout,
      max_udp_payload_size: s.maxUdpPayload,
      initial_max_data: s.initialMaxData,
      initial_max_stream_data_bidi_local: s.initialMaxStreamData,
      initial_max_stream_data_bidi_remote: s.initialMaxStreamData,
      initial_max_stream_data_uni: s.initialMaxStreamDataUni,
      initial_max_streams_bidi: init.role === 'client' && !s.datagrams ? 0 : s.maxStreamsBidi,
      initial_max_streams_uni: s.maxStreamsUni,
      disable_active_migration: init.role === 'client',
    });
    return q;
  }

  #qlogEstablished(q: Qlog): void {
    q.event('connectivity:connection_state_updated', { new: 'handshake_completed' });
    try {
      const st = this.#conn.stats();
      q.event('transport:parameters_set', {
        owner: 'remote',
        resumption_allowed: this.#conn.isResumed(),
        max_idle_timeout: st.peerMaxIdleTimeout,
        max_udp_payload_size: st.peerMaxUdpPayloadSize,
        initial_max_data: st.peerInitialMaxData,
        initial_max_stream_data_bidi_local: st.peerInitialMaxStreamDataBidiLocal,
        initial_max_stream_data_bidi_remote: st.peerInitialMaxStreamDataBidiRemote,
        initial_max_stream_data_uni: st.peerInitialMaxStreamDataUni,
        initial_max_streams_bidi: st.peerInitialMaxStreamsBidi,
        initial_max_streams_uni: st.peerInitialMaxStreamsUni,
        ack_delay_exponent: st.peerAckDelayExponent,
        max_ack_delay: st.peerMaxAckDelay,
        disable_active_migration: st.peerDisableActiveMigration,
        active_connection_id_limit: st.peerActiveConnIdLimit,
      });
    } catch {
      // closed meanwhile
    }
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
    if (!this.#closeReported && (closed || draining)) this.#reportClose(closeInfoOf(this.#conn));
    if (closed) this.#finish();
  }

  #reportClose(info: QuicCloseInfo): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    if (this.qlog) {
      this.#sampleRtt(true);
      this.qlog.event('connectivity:connection_closed', {
        owner: info.by === 'peer' ? 'remote' : 'local',
        ...(info.app ? { application_code: info.code } : { connection_code: info.code }),
        reason: info.reason,
        trigger: info.by === 'idle' ? 'idle_timeout' : info.by === 'error' ? 'error' : 'clean',
      });
      this.qlog.close();
    }
    this.setKeepAlive(false);
    this.#streams.clearPending();
    const m = this.#migration;
    this.#migration = null;
    m?.reject(new Error('the connection closed during the migration'));
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
    this.#owner.forget(this);
    for (const w of this.#closeWaiters.splice(0)) w();
  }
}
