// QUIC clients: a connection on a UDP socket of its own, resolved once the handshake
// completed and the server's identity checked out (quiche checks DNS names; an IP
// address is checked here against the certificate's IP SANs).

import { randomBytes, X509Certificate } from 'node:crypto';
import type dgram from 'node:dgram';
import { isIP } from 'node:net';
import {
  buildClientConfig,
  CID_LENGTH,
  cidKey,
  describeClose,
  type Host,
  openConnection,
  type QuicCloseInfo,
  type QuicConnection,
  type QuicConnectionHandler,
  type QuicheConnection,
  type QuicSettings,
  resumeWith,
  settingsFor,
} from './quic.js';
import { DriverConnection, type DriverInit, type Owner } from './quic-driver.js';
import { tokenAsBigInt } from './quic-reset.js';
import { bindSocket, closeSocket } from './quic-socket.js';

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
  /** A TLS session ticket from an earlier connection to the same server: resume it. */
  session?: Uint8Array | undefined;
  /** The handshake completed: return the handler (called before any stream is read). */
  onEstablished(conn: QuicConnection): QuicConnectionHandler;
}

/**
 * Open a QUIC connection on a socket of its own. Resolves once the handshake completed
 * (the handler exists by then); rejects on a handshake failure or timeout.
 */
export async function connectQuic(opts: QuicClientOptions): Promise<QuicConnection> {
  const settings = settingsFor(opts.settings, opts.host);
  const config = buildClientConfig(opts.verify !== false, opts.ca, opts.alpn, settings);
  const family = isIP(opts.host) === 6 ? '::' : '0.0.0.0';
  const socket = await bindSocket(family, 0);
  const a = socket.address();
  const local: Host = { host: a.address, port: a.port };
  const remote: Host = { host: opts.host, port: opts.port };
  const scid = randomBytes(CID_LENGTH);
  let qc: QuicheConnection;
  try {
    qc = openConnection(opts.servername, scid, local, remote, config);
    resumeWith(qc, opts.session);
  } catch (err) {
    await closeSocket(socket);
    throw err;
  }
  const own = new ClientSocket(socket, family);
  return handshake(opts, own, {
    role: 'client',
    conn: qc,
    owner: own,
    local,
    remote,
    cids: [cidKey(scid)],
    odcid: cidKey(qc.destinationId()),
    internalErrorCode: opts.internalErrorCode,
    settings,
    // the server's ID for us on a new path (RFC 9000 §9.5): random, as the first one
    newCid: () => ({
      cid: randomBytes(CID_LENGTH),
      token: tokenAsBigInt(randomBytes(16)),
    }),
  }).catch((err: Error) => {
    own.forget();
    throw err;
  });
}

/**
 * A client connection's own sockets, closed once, when the connection is gone or failed:
 * the one it started on, and one per path it migrated to (until the old one is dropped).
 */
class ClientSocket implements Owner {
  readonly #sockets = new Map<number, dgram.Socket>();
  readonly #family: string;
  #conn: DriverConnection | null = null;
  #closed = false;
  #refed = true;

  constructor(socket: dgram.Socket, family: string) {
    this.#sockets.set(socket.address().port, socket);
    this.#family = family;
  }

  /** Hand the sockets' datagrams to `conn`. */
  deliverTo(conn: DriverConnection): void {
    this.#conn = conn;
    for (const socket of this.#sockets.values()) this.#listen(socket, conn);
  }

  #listen(socket: dgram.Socket, conn: DriverConnection): void {
    const a = socket.address();
    const local: Host = { host: a.address, port: a.port };
    socket.on('message', (msg, rinfo) =>
      conn.receive(msg, { host: rinfo.address, port: rinfo.port }, local),
    );
    socket.on('error', noop);
  }

  send(packet: Uint8Array, to: Host, from: Host): void {
    if (this.#closed) return;
    const socket = this.#sockets.get(from.port) ?? this.#sockets.values().next().value;
    socket?.send(packet, to.port, to.host, noop);
  }

  async newPath(conn: DriverConnection): Promise<Host> {
    const socket = await bindSocket(this.#family, 0);
    if (this.#closed) {
      await closeSocket(socket);
      throw new Error('the connection is gone');
    }
    if (!this.#refed) socket.unref();
    this.#sockets.set(socket.address().port, socket);
    this.#listen(socket, this.#conn ?? conn);
    const a = socket.address();
    return { host: a.address, port: a.port };
  }

  dropPath(local: Host): void {
    const socket = this.#sockets.get(local.port);
    if (!socket || this.#sockets.size === 1) return;
    this.#sockets.delete(local.port);
    void closeSocket(socket);
  }

  forget(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const socket of this.#sockets.values()) void closeSocket(socket);
    this.#sockets.clear();
  }

  ref(): void {
    this.#refed = true;
    for (const socket of this.#sockets.values()) socket.ref();
  }

  unref(): void {
    this.#refed = false;
    for (const socket of this.#sockets.values()) socket.unref();
  }
}

/** Start the handshake; settles when it completed, failed or timed out. */
function handshake(
  opts: QuicClientOptions,
  socket: ClientSocket,
  init: Omit<DriverInit, 'onEstablished' | 'onFailed'>,
): Promise<QuicConnection> {
  return new Promise<QuicConnection>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      conn.destroy();
      reject(
        Object.assign(new Error(`QUIC handshake timed out after ${opts.timeout} ms`), {
          timeout: true,
        }),
      );
    }, opts.timeout);
    const conn: DriverConnection = new DriverConnection({
      ...init,
      onEstablished: (c) => {
        clearTimeout(timer);
        const problem = checkPeer(c, opts);
        if (problem !== undefined) {
          settled = true;
          queueMicrotask(() => c.close(opts.internalErrorCode, 'bad certificate'));
          reject(Object.assign(new Error(problem), { certificate: true }));
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
        const err = new Error(`QUIC handshake failed: ${describeClose(info)}`, {
          cause: info.error,
        });
        reject(isCertificateAlert(info) ? Object.assign(err, { certificate: true }) : err);
      },
    });
    socket.deliverTo(conn);
    conn.start();
  });
}

// RFC 8446 §6.2 alerts about a certificate: bad_certificate (42) through
// certificate_unknown (46), unknown_ca (48), certificate_required (116)
const CERTIFICATE_ALERTS = new Set([42, 43, 44, 45, 46, 48, 116]);

/** RFC 9001 §4.8: a TLS alert closes the connection with transport error 0x0100 + alert. */
function isCertificateAlert(info: QuicCloseInfo): boolean {
  return !info.app && info.code >= 0x100 && CERTIFICATE_ALERTS.has(info.code - 0x100);
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

const inertHandler: QuicConnectionHandler = {
  onStreamData: noop,
  onStreamReset: noop,
  onStreamStopped: noop,
  onStreamDrain: noop,
  onClose: noop,
};

function noop(): void {}
