// QUIC for HTTP/3 over Cloudflare quiche's native binding (shipped in @matrixai/quic):
// the only file that imports the QUIC library. It owns what src/h3 sees of a QUIC engine
// (QuicConnection, QuicConnectionHandler, QuicCloseInfo, QuicSettings), the quiche
// configuration and TLS material, and the few calls into the binding the driver and the
// sockets need; so another engine (node:quic) can replace this one.
//
// Around it: quic-driver.ts drives one connection (quic-streams.ts keeps its streams),
// quic-server.ts and quic-client.ts bind the sockets, quic-retry.ts mints Retry tokens.
//
// Why not @matrixai/quic's own QUICServer/QUICConnection: they drop (and for uni
// streams, crash on) peer streams that arrive before the connection's start resolves,
// which is exactly when every HTTP/3 client opens its control stream (toolchain.md).

import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import {
  type Config,
  type Header,
  type Host,
  type Connection as QuicheConnection,
  quiche,
} from '@matrixai/quic/native/index.js';

export type { Config, Header, Host, QuicheConnection };

import type { PathStats } from '../ws/transport.js';
import { CONGESTION_CONTROLLERS, type CongestionControl } from './congestion.js';
import type { QlogSink } from './qlog.js';

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
  /** Congestion controller: what the binding offers, 'reno', 'cubic' (default) or 'bbr'. */
  cc?: CongestionControl;
  /** HyStart++ in slow start (default true; cubic and reno). */
  hystart?: boolean;
  /** Pacing of sent packets (default true). */
  pacing?: boolean;
  /**
   * Append the TLS secrets of each connection to this file in NSS key log format, so
   * that Wireshark/tshark can decrypt a capture (default: the SSLKEYLOGFILE environment
   * variable, else none). For debugging only: anyone with the file reads the traffic.
   */
  keylog?: string;
  /**
   * Write one qlog per connection (JSON-SEQ, `<odcid>_<client|server>.sqlog`) into this
   * directory (default: the QLOGDIR environment variable, else none): docs/http3.md.
   */
  qlogDir?: string;
  /**
   * 0-RTT (RFC 9001 §4.6, default false). A server accepts early data from clients that
   * resume a session it issued; what it reads before the handshake completes may be a
   * replay, so only requests safe to replay are acted on at once and the rest wait for
   * the handshake or get 425 (RFC 8470; docs/http3.md). A client resuming such a session
   * sends its first requests in 0-RTT packets: those safe to replay, never a WebSocket.
   */
  earlyData?: boolean;
  /**
   * QUIC DATAGRAM frames (RFC 9221, default false): HTTP Datagrams (RFC 9297) for
   * WebTransport. Up to 1024 datagrams queue each way; more are dropped (they are unreliable).
   */
  datagrams?: boolean;
}

export { CONGESTION_CONTROLLERS, type CongestionControl } from './congestion.js';

/** What a connection's path looks like now (quiche's recovery state and counters). */
export interface QuicStats extends PathStats {
  cc: CongestionControl;
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
  /** The handshake completed on a connection whose handler was made in 0-RTT (`earlyData`). */
  onHandshakeDone?(): void;
  /** A QUIC DATAGRAM frame's payload (with `datagrams` on both sides). */
  onDatagram?(data: Uint8Array): void;
  /**
   * Packets are about to be made: hand QUIC what was corked (written but held for the
   * end of the tick), so that the answers to a batch of packets leave with its ACK.
   */
  beforeFlush?(): void;
}

export type StreamKind = 'bidi' | 'uni';

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
  /**
   * Whether the connection runs on 0-RTT keys (the handshake has not completed): what a
   * server reads now may be a replay (RFC 8470).
   */
  readonly earlyData: boolean;
  /** Whether the connection ended for the application (closing, draining or gone). */
  readonly closed: boolean;
  /** The negotiated ALPN protocol. */
  readonly alpn: string;
  /** The peer's certificate chain (DER, leaf first), when it sent one (or resumed a session that had). */
  peerCertificates?(): Uint8Array[];
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
  /** RTT, congestion window, path MTU and the packet and byte counters (quiche's). */
  stats(): QuicStats;
  /** Where this connection's qlog events go (quic.qlogDir), or undefined. */
  readonly qlog?: QlogSink | undefined;
  /** The TLS session to resume with later (client side, once the server sent a ticket), or null. */
  session(): Uint8Array | null;
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
  /**
   * Client: move the connection to a new local UDP port (RFC 9000 §9); resolves with the
   * new local address once the server validated the path. Every stream goes on.
   */
  migrate?(timeout?: number): Promise<Host>;
  /**
   * Queue a QUIC DATAGRAM (RFC 9221). False when it cannot go: datagrams not negotiated,
   * larger than `maxDatagramSize()`, the queue full, or the connection closed.
   */
  sendDatagram?(data: Uint8Array): boolean;
  /** The largest datagram payload that fits a packet now (0 when datagrams are off). */
  maxDatagramSize?(): number;
}

/** Datagrams quiche keeps each way before it drops (unreliable: the newest may be lost). */
const DATAGRAM_QUEUE = 1024;
/** Connection IDs of ours the peer may hold at once (quiche's default is 2). */
const ACTIVE_CID_LIMIT = 4;
export const CID_LENGTH = 20; // quiche.MAX_CONN_ID_LEN: short headers are parsed with this length
/** Datagram size to a loopback peer: a twelfth of the per-packet work of 1350 bytes. */
const LOOPBACK_UDP_PAYLOAD = 16 * 1024;

export const DEFAULT_SETTINGS: Required<QuicSettings> = {
  maxIdleTimeout: 30_000,
  initialMaxData: 16 * 1024 * 1024,
  initialMaxStreamData: 1024 * 1024,
  initialMaxStreamDataUni: 256 * 1024,
  maxStreamsBidi: 256,
  maxStreamsUni: 16,
  maxStreamWindow: 4 * 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxUdpPayload: 1350,
  cc: 'cubic',
  hystart: true,
  pacing: true,
  keylog: '',
  qlogDir: '',
  earlyData: false,
  datagrams: false,
};

/** A connection ID as the key the sockets find its connection by. */
export function cidKey(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('hex');
}

function pemBytes(v: string | Uint8Array | readonly (string | Uint8Array)[]): Uint8Array {
  const list = Array.isArray(v) ? v : [v];
  return Buffer.from(
    list.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8'))).join('\n'),
    'utf8',
  );
}

let defaultRoots: readonly string[] | undefined;

/**
 * What node:tls trusts when a client gives no `ca`, so that HTTP/3 trusts what HTTP/1.1
 * and HTTP/2 do: node's root store (or the system's, with --use-system-ca) and the
 * certificates in NODE_EXTRA_CA_CERTS. Node 20 lacks tls.getCACertificates: there we
 * read NODE_EXTRA_CA_CERTS ourselves, as node does at startup (an unreadable file is
 * skipped; node warns about it).
 */
function nodeDefaultRoots(): readonly string[] {
  if (defaultRoots) return defaultRoots;
  const get = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (get) {
    defaultRoots = get('default');
    return defaultRoots;
  }
  const roots = [...tls.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      roots.push(readFileSync(extra, 'utf8'));
    } catch {
      // node skips it too, with a warning of its own
    }
  }
  defaultRoots = roots;
  return roots;
}

function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

/** Our settings for a peer: the loopback datagram size unless the caller chose one. */
export function settingsFor(given: QuicSettings | undefined, peer: string): Required<QuicSettings> {
  const s = { ...DEFAULT_SETTINGS, ...given };
  if (given?.keylog === undefined) s.keylog = process.env.SSLKEYLOGFILE ?? '';
  if (given?.qlogDir === undefined) s.qlogDir = process.env.QLOGDIR ?? '';
  if (!(CONGESTION_CONTROLLERS as readonly string[]).includes(s.cc)) {
    throw new TypeError(
      `quic.cc must be one of ${CONGESTION_CONTROLLERS.join(', ')}, not ${String(s.cc)}`,
    );
  }
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
  // RFC 9114 §6.1: a server opens no bidirectional stream, except WebTransport's
  // (draft-ietf-webtrans-http3 §4.3), which comes with datagrams
  base.setInitialMaxStreamsBidi(client && !s.datagrams ? 0 : s.maxStreamsBidi);
  base.setInitialMaxStreamsUni(s.maxStreamsUni);
  base.setMaxStreamWindow(s.maxStreamWindow);
  base.setMaxConnectionWindow(s.maxConnectionWindow);
  // a server follows a client onto a new path (RFC 9000 §9); a client never sees its
  // server move (servers do not migrate: §9, "only the client can initiate")
  base.setDisableActiveMigration(client);
  // spare connection IDs each side may hand the other: a migration uses one, and the old
  // path's is retired once the move is done (RFC 9000 §5.1.1)
  base.setActiveConnectionIdLimit(ACTIVE_CID_LIMIT);
  base.setCcAlgorithmName(s.cc);
  base.enableHystart(s.hystart);
  base.enablePacing(s.pacing);
  if (s.keylog !== '') base.logKeys();
  if (s.earlyData) base.enableEarlyData();
  if (s.datagrams) base.enableDgram(true, DATAGRAM_QUEUE, DATAGRAM_QUEUE);
  base.grease(true);
  return base;
}

/** A server's quiche config: our certificate chain and key, no client certificates. */
export function buildServerConfig(
  opts: { cert: string | Uint8Array; key: string | Uint8Array; alpn: readonly string[] },
  s: Required<QuicSettings>,
): Config {
  return buildConfig(
    quiche.Config.withBoringSslCtx(false, false, null, [pemBytes(opts.key)], [pemBytes(opts.cert)]),
    opts.alpn,
    s,
    false,
  );
}

/**
 * A client's quiche config: with `verify`, the server's certificate must chain to `ca`
 * (PEM; default Node's bundled root certificates).
 */
export function buildClientConfig(
  verify: boolean,
  ca: string | Uint8Array | readonly (string | Uint8Array)[] | undefined,
  alpn: readonly string[],
  s: Required<QuicSettings>,
): Config {
  const trusted = verify ? pemBytes(ca ?? nodeDefaultRoots()) : null;
  return buildConfig(
    quiche.Config.withBoringSslCtx(verify, false, trusted, null, null),
    alpn,
    s,
    true,
  );
}

// ── calls into the binding ──────────────────────────────────────────────────

/** The smallest datagram that carries a client Initial (RFC 9000 §14.1: 1200 bytes). */
export const MIN_CLIENT_INITIAL_LEN: number = quiche.MIN_CLIENT_INITIAL_LEN;

/** A datagram's first packet header when it is a QUIC Initial, else null. */
export function parseInitialHeader(msg: Uint8Array): Header | null {
  let header: Header;
  try {
    header = quiche.Header.fromSlice(msg, CID_LENGTH);
  } catch {
    return null; // not QUIC
  }
  return header.ty === quiche.Type.Initial ? header : null;
}

export function isVersionSupported(header: Header): boolean {
  return quiche.versionIsSupported(header.version);
}

/** Write a Version Negotiation packet answering `header` into `out`; its length. */
export function writeVersionNegotiation(header: Header, out: Uint8Array): number {
  return quiche.negotiateVersion(header.scid, header.dcid, out);
}

/** Write a Retry packet answering `header` into `out`; its length. */
export function writeRetry(
  header: Header,
  newScid: Uint8Array,
  token: Uint8Array,
  out: Uint8Array,
): number {
  return quiche.retry(header.scid, header.dcid, newScid, token, header.version, out);
}

/**
 * A server connection for a client's first Initial (`odcid`: the DCID before our Retry),
 * its stateless reset token (RFC 9000 §18.2 stateless_reset_token) being `resetToken`
 * (null: none). quiche takes the token from the config, whose transport parameters each
 * connection copies when it is made: setting it just before accepting makes it this
 * connection's, and null clears the one the previous connection had.
 */
export function acceptConnection(
  scid: Uint8Array,
  odcid: Uint8Array | null,
  local: Host,
  from: Host,
  config: Config,
  resetToken: bigint | null,
): QuicheConnection {
  config.setStatelessResetToken(resetToken);
  return quiche.Connection.accept(scid, odcid, local, from, config);
}

/** Resume the TLS session of an earlier connection (its ticket); a stale one is ignored. */
export function resumeWith(conn: QuicheConnection, ticket: Uint8Array | undefined): void {
  if (ticket === undefined) return;
  try {
    conn.setSession(ticket);
  } catch {
    // a ticket quiche cannot read: a full handshake
  }
}

/** Start writing the connection's TLS secrets to `path` (NSS key log format), if set. */
export function keylogTo(conn: QuicheConnection, path: string): void {
  if (path !== '') conn.setKeylog(path);
}

/** quiche's counters and the active path's recovery state as QuicStats (minRtt: the caller's). */
export function readStats(
  conn: QuicheConnection,
  cc: CongestionControl,
): Omit<QuicStats, 'minRtt'> {
  const st = conn.stats();
  const paths = conn.pathStats();
  const p = paths.find((x) => x.active) ?? paths[0];
  return {
    rtt: p ? p.rtt : 0,
    cwnd: p ? p.cwnd : 0,
    pmtu: p ? p.pmtu : 0,
    deliveryRate: p ? p.deliveryRate : 0,
    packetsSent: st.sent,
    packetsReceived: st.recv,
    packetsLost: st.lost,
    packetsRetransmitted: st.retrans,
    bytesSent: st.sentBytes,
    bytesReceived: st.recvBytes,
    bytesLost: st.lostBytes,
    bytesRetransmitted: st.streamRetransBytes,
    cc,
    resumed: conn.isResumed(),
  };
}

/** A client connection; `servername` null for an IP address. */
export function openConnection(
  servername: string | null,
  scid: Uint8Array,
  local: Host,
  remote: Host,
  config: Config,
): QuicheConnection {
  return quiche.Connection.connect(servername, scid, local, remote, config);
}

/** RESET_STREAM (`write`) or STOP_SENDING (`read`) on a stream; throws when quiche is done with that side. */
export function shutdownStream(
  conn: QuicheConnection,
  stream: number,
  side: 'read' | 'write',
  code: number,
): void {
  conn.streamShutdown(stream, side === 'read' ? quiche.Shutdown.Read : quiche.Shutdown.Write, code);
}

// ── how a connection ended ──────────────────────────────────────────────────

/**
 * How quiche says a closing or draining connection ended: the peer's CONNECTION_CLOSE,
 * the idle timeout, or ours (`error` when quiche closed it for a failure).
 */
export function closeInfoOf(conn: QuicheConnection): QuicCloseInfo {
  const peer = conn.peerError();
  const local = conn.localError();
  if (peer) {
    return {
      by: 'peer',
      app: peer.isApp,
      code: peer.errorCode,
      reason: Buffer.from(peer.reason).toString('utf8'),
    };
  }
  if (conn.isTimedOut()) return { by: 'idle', app: false, code: 0, reason: 'idle timeout' };
  return {
    by: local ? 'error' : 'local',
    app: local?.isApp ?? false,
    code: local?.errorCode ?? 0,
    reason: local ? Buffer.from(local.reason).toString('utf8') : '',
  };
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
