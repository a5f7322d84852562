// QUIC servers: one UDP socket per host, all on one port, and the dispatch of their
// datagrams. A datagram for a known connection goes to its driver (quic-driver.ts),
// found by Destination Connection ID; a client's Initial is answered with Version
// Negotiation, with a Retry (address validation, quic-retry.ts) or by a new connection,
// whose handler `onConnection` makes once the handshake completes.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import type dgram from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import {
  acceptConnection,
  buildServerConfig,
  CID_LENGTH,
  type Config,
  cidKey,
  type Header,
  type Host,
  isVersionSupported,
  MIN_CLIENT_INITIAL_LEN,
  parseInitialHeader,
  type QuicConnection,
  type QuicConnectionHandler,
  type QuicheConnection,
  type QuicSettings,
  settingsFor,
  writeRetry,
  writeVersionNegotiation,
} from './quic.js';
import { DriverConnection, type Owner } from './quic-driver.js';
import { StatelessResets, tokenAsBigInt } from './quic-reset.js';
import { RetryTokens } from './quic-retry.js';
import { bindAll, closeSocket } from './quic-socket.js';

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
  /**
   * The static key of stateless reset tokens (RFC 9000 §10.3.2); default: derived from
   * `key`, so a restarted server with the same certificate resets the connections of the
   * one before it. Servers that share it must not share connection IDs (ours are random).
   */
  statelessResetKey?: Uint8Array;
  /**
   * Several processes on one UDP port (workers sharing the socket): which of them owns
   * a connection, and how a datagram reaches its owner. Without it, one process.
   */
  router?: QuicRouter;
}

/**
 * Workers that share one UDP socket: the kernel hands each datagram to any of them. Our
 * connection IDs name the worker that issued them (byte 0, under a MAC so a client's own
 * ID is not mistaken for ours); a client's Initial goes to the worker its DCID hashes to.
 * A worker that reads a datagram it does not own forwards it to the owner, which answers
 * on the same socket: NAT rebinding and migration keep working.
 */
export interface QuicRouter {
  /** This worker: 0 … count - 1. */
  readonly slot: number;
  readonly count: number;
  /** Shared by every worker: the key of the connection-ID MAC and of Retry tokens. */
  readonly secret: Uint8Array;
  /** Hand `msg` (received on the socket bound to `local`, from `from`) to worker `slot`. */
  forward(slot: number, msg: Buffer, from: Host, local: Host): void;
  /** Where datagrams other workers forward to this one go. */
  onForwarded(deliver: (msg: Buffer, from: Host, local: Host) => void): void;
}

/** Connection IDs that name their worker: byte 0 the worker, bytes 1-3 a MAC of the rest. */
class WorkerIds {
  readonly #router: QuicRouter;
  readonly #key: Buffer;

  constructor(router: QuicRouter) {
    this.#router = router;
    this.#key = createHmac('sha256', 'omniws QUIC worker CID key').update(router.secret).digest();
  }

  #mac(cid: Uint8Array): Buffer {
    return createHmac('sha256', this.#key)
      .update(cid.subarray(4))
      .update(cid.subarray(0, 1))
      .digest();
  }

  /** A new connection ID of this worker. */
  next(): Uint8Array {
    const cid = randomBytes(CID_LENGTH);
    cid[0] = this.#router.slot;
    this.#mac(cid).copy(cid, 1, 0, 3);
    return cid;
  }

  /** The worker that owns a datagram's connection. */
  ownerOf(msg: Buffer): number {
    const count = this.#router.count;
    const long = (msg[0]! & 0x80) !== 0;
    const len = long ? (msg[5] ?? 0) : CID_LENGTH;
    const start = long ? 6 : 1;
    if (msg.length < start + len) return this.#router.slot;
    const dcid = msg.subarray(start, start + len);
    if (len === CID_LENGTH && dcid[0]! < count && this.#mac(dcid).compare(dcid, 1, 4, 0, 3) === 0) {
      return dcid[0]!;
    }
    // a client's own DCID (its first Initials): the same worker for each retransmission
    return createHash('sha256').update(dcid).digest().readUInt32BE(0) % count;
  }
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

/** Where a server listens unless told: both loopbacks (Chromium tries ::1 first for localhost). */
const DEFAULT_HOSTS = ['127.0.0.1', '::1'];

/** Listen for QUIC on every host on one UDP port. */
export async function listenQuic(opts: QuicServerOptions): Promise<QuicServer> {
  const settings = settingsFor(opts.settings, '');
  const configFor = cacheConfigs(opts);
  configFor(settings); // a bad certificate or key fails here, not at the first packet
  const sockets = await bindHosts(opts);
  const listener = new Listener(opts, settings, configFor);
  for (const socket of sockets) listener.attach(socket);
  if (opts.router) listener.acceptForwarded(opts.router, sockets);
  return {
    port: sockets[0]!.address().port,
    hosts: sockets.map((s) => s.address().address),
    connections: listener.connections,
    stopAccepting() {
      listener.accepting = false;
    },
    close: (code: number, grace = 1000) => listener.close(code, grace, sockets),
  };
}

/** One quiche config per datagram size: loopback peers get larger datagrams. */
function cacheConfigs(opts: QuicServerOptions): (s: Required<QuicSettings>) => Config {
  const configs = new Map<number, Config>();
  return (s) => {
    let c = configs.get(s.maxUdpPayload);
    if (c === undefined) {
      c = buildServerConfig(opts, s);
      configs.set(s.maxUdpPayload, c);
    }
    return c;
  };
}

/** The sockets for `opts.hosts`, or for those of DEFAULT_HOSTS the machine has. */
function bindHosts(opts: QuicServerOptions): Promise<dgram.Socket[]> {
  const explicit = opts.hosts !== undefined && opts.hosts.length > 0;
  return bindAll(explicit ? opts.hosts! : DEFAULT_HOSTS, opts.port ?? 0, !explicit);
}

/**
 * Whether a new connection must first prove its address with a Retry (RFC 9000 §8.1.2),
 * given the handshakes in progress.
 */
function retryPolicy(opts: QuicServerOptions): (handshakes: number) => boolean {
  const retry = opts.retry ?? 'auto';
  const retryAbove = opts.retryAbove ?? 64;
  return (handshakes) => retry === true || (retry === 'auto' && handshakes >= retryAbove);
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

/** The connection IDs a new server connection starts with. */
interface NewIds {
  scid: Uint8Array;
  /** The client's original DCID, when it comes back after our Retry. */
  odcid: Uint8Array | null;
}

/** One server's connections and the dispatch of its sockets' datagrams. */
class Listener {
  readonly connections = new Set<QuicConnection>();
  accepting = true;
  readonly #opts: QuicServerOptions;
  readonly #settings: Required<QuicSettings>;
  readonly #configFor: (s: Required<QuicSettings>) => Config;
  readonly #mustRetry: (handshakes: number) => boolean;
  readonly #byCid = new Map<string, DriverConnection>();
  /** Connections whose handshake has not completed (for retry 'auto'). */
  readonly #handshaking = new Set<DriverConnection>();
  readonly #tokens: RetryTokens;
  readonly #resets: StatelessResets;
  readonly #ids: WorkerIds | null;

  constructor(
    opts: QuicServerOptions,
    settings: Required<QuicSettings>,
    configFor: (s: Required<QuicSettings>) => Config,
  ) {
    this.#opts = opts;
    this.#settings = settings;
    this.#configFor = configFor;
    this.#mustRetry = retryPolicy(opts);
    const key = opts.statelessResetKey ?? Buffer.from(opts.key);
    this.#resets = new StatelessResets(key, CID_LENGTH);
    this.#tokens = new RetryTokens(opts.router?.secret);
    this.#ids = opts.router ? new WorkerIds(opts.router) : null;
  }

  #newCid(): Uint8Array {
    return this.#ids === null ? randomBytes(CID_LENGTH) : this.#ids.next();
  }

  /** Take the datagrams other workers forward (the socket bound to `local`'s family answers). */
  acceptForwarded(router: QuicRouter, sockets: readonly dgram.Socket[]): void {
    router.onForwarded((msg, from, local) => {
      const socket =
        sockets.find((s) => s.address().address === local.host) ??
        sockets.find((s) => s.address().family === (local.host.includes(':') ? 'IPv6' : 'IPv4'));
      if (socket) this.#dispatch(socket, local, msg, from, true);
    });
  }

  /** Take the datagrams of `socket`. */
  attach(socket: dgram.Socket): void {
    const a = socket.address();
    const local: Host = { host: a.address, port: a.port };
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) =>
      this.#dispatch(socket, local, msg, { host: rinfo.address, port: rinfo.port }),
    );
    socket.on('error', noop); // ICMP errors and the like: QUIC's own timers recover
  }

  #dispatch(socket: dgram.Socket, local: Host, msg: Buffer, from: Host, forwarded = false): void {
    const dcid = peekDcid(msg);
    const known = dcid === null ? undefined : this.#byCid.get(dcid);
    if (known) {
      known.receive(msg, from);
      return;
    }
    // not ours to answer: another worker's connection, or a new one that hashes to it
    if (this.#ids !== null && !forwarded && msg.length > 0) {
      const owner = this.#ids.ownerOf(msg);
      if (owner !== this.#opts.router!.slot) {
        this.#opts.router!.forward(owner, msg, from, local);
        return;
      }
    }
    const header = parseInitialHeader(msg);
    if (header === null) {
      // a packet of a connection we do not know (we restarted, or forgot it): RFC 9000
      // §10.3 "An endpoint MAY send a Stateless Reset in response to receiving a packet
      // that it cannot associate with an active connection"
      const reset = this.#resets.answer(msg);
      if (reset !== null) socket.send(reset, from.port, from.host, noop);
      return;
    }
    if (!this.accepting) return;
    if (!isVersionSupported(header)) {
      this.#negotiateVersion(socket, header, from);
      return;
    }
    // RFC 9000 §14.1: a client Initial is padded to at least 1200 bytes
    if (msg.length < MIN_CLIENT_INITIAL_LEN) return;
    const ids = this.#validateAddress(socket, header, from);
    if (ids !== null) this.#accept(socket, local, msg, from, header, ids);
  }

  #negotiateVersion(socket: dgram.Socket, header: Header, from: Host): void {
    const out = Buffer.allocUnsafe(this.#settings.maxUdpPayload);
    try {
      const n = writeVersionNegotiation(header, out);
      socket.send(out.subarray(0, n), from.port, from.host, noop);
    } catch {
      // malformed
    }
  }

  /**
   * The connection IDs to accept the Initial with, or null when it is dropped (a bad
   * token) or answered with a Retry.
   */
  #validateAddress(socket: dgram.Socket, header: Header, from: Host): NewIds | null {
    const token = header.token;
    if (token !== undefined && this.#tokens.ours(token)) {
      // RFC 9000 §8.1.3: an invalid Retry token means the client will take no other;
      // discarding the packet is allowed (and costs us nothing)
      const odcid = this.#tokens.check(token, from);
      if (odcid === null) return null;
      return { scid: header.dcid, odcid }; // the connection ID our Retry gave the client
    }
    if (this.#mustRetry(this.#handshaking.size)) {
      this.#sendRetry(socket, header, from);
      return null;
    }
    return { scid: this.#newCid(), odcid: null };
  }

  #sendRetry(socket: dgram.Socket, header: Header, from: Host): void {
    const newScid = this.#newCid();
    const out = Buffer.allocUnsafe(MIN_CLIENT_INITIAL_LEN);
    try {
      const token = this.#tokens.mint(from, header.dcid);
      const n = writeRetry(header, newScid, token, out);
      socket.send(out.subarray(0, n), from.port, from.host, noop);
    } catch {
      // malformed
    }
  }

  #accept(
    socket: dgram.Socket,
    local: Host,
    msg: Buffer,
    from: Host,
    header: Header,
    { scid, odcid }: NewIds,
  ): void {
    const connSettings = settingsFor(this.#opts.settings, from.host);
    let qc: QuicheConnection;
    try {
      // After a Retry the transport parameters carry three connection IDs, and with a
      // token they no longer fit the 128 bytes quiche encodes them into (BufferTooShort):
      // such connections go without (a restarted server cannot reset them; their idle
      // timeout still ends them)
      const token = odcid === null ? tokenAsBigInt(this.#resets.token(scid)) : null;
      qc = acceptConnection(scid, odcid, local, from, this.#configFor(connSettings), token);
    } catch {
      return;
    }
    // the client's retransmitted Initials still carry its original DCID: map both (after
    // a Retry they carry the one the Retry gave)
    const cids = odcid === null ? [cidKey(scid), cidKey(header.dcid)] : [cidKey(scid)];
    const conn = new DriverConnection({
      role: 'server',
      conn: qc,
      owner: this.#ownerFor(socket),
      local,
      remote: from,
      cids,
      odcid: cidKey(odcid ?? header.dcid),
      internalErrorCode: this.#opts.internalErrorCode,
      settings: connSettings,
      newCid: () => {
        const cid = this.#newCid();
        return { cid, token: tokenAsBigInt(this.#resets.token(cid)) };
      },
      onEstablished: (c) => {
        this.#handshaking.delete(c);
        this.connections.add(c);
        return this.#opts.onConnection(c);
      },
    });
    this.#handshaking.add(conn);
    for (const k of cids) this.#byCid.set(k, conn);
    conn.receive(msg, from);
  }

  #ownerFor(socket: dgram.Socket): Owner {
    return {
      send: (packet, to) => socket.send(packet, to.port, to.host, noop),
      cidsChanged: (c, added, removed) => {
        for (const k of added) this.#byCid.set(k, c);
        for (const k of removed) if (this.#byCid.get(k) === c) this.#byCid.delete(k);
      },
      forget: (c) => {
        for (const k of c.cids) if (this.#byCid.get(k) === c) this.#byCid.delete(k);
        this.connections.delete(c);
        this.#handshaking.delete(c);
      },
      ref: noop,
      unref: noop,
    };
  }

  /** Close every connection, wait for their draining (at most `grace` ms), close the sockets. */
  async close(code: number, grace: number, sockets: readonly dgram.Socket[]): Promise<void> {
    this.accepting = false;
    const all = new Set<DriverConnection>();
    for (const c of new Set(this.#byCid.values())) {
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
    for (const c of new Set(this.#byCid.values())) c.destroy();
    await Promise.all(sockets.map(closeSocket));
  }
}

function noop(): void {}
