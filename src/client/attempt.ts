// One connection attempt of a client connection: its connection info (defaults from
// the URL and the options, changed by the handler's connectionInfo) as a URL and
// connect() options, and what its failure or its session's end tells handleDisconnect
// before the reconnect policy has decided.

import type { ParsedUrl } from '../h1/client.js';
import { WebSocketError } from '../ws/errors.js';
import type { CloseReason, Handler } from '../ws/handler.js';
import type { HttpVersion } from '../ws/transport.js';
import type { ConnectOptions } from './connect.js';
import type { ConnectionInfo, DisconnectReason } from './types.js';

/** A disconnect before the policy's decision. */
export type DisconnectBase = Omit<DisconnectReason, 'retry' | 'why'>;

/** The options every attempt shares, without what the connection itself handles. */
type SharedOptions = Omit<ConnectOptions<null>, 'handler' | 'state' | 'http'>;

export function defaultConnectionInfo(
  u: ParsedUrl,
  opts: SharedOptions & Pick<ConnectOptions<null>, 'http'>,
): ConnectionInfo {
  return {
    host: u.host,
    port: u.port,
    path: u.path,
    transport: u.secure ? 'tls' : 'tcp',
    tls: opts.tls,
    handshakeTimeout: opts.handshakeTimeout ?? opts.timeout,
    subprotocols: opts.subprotocols,
    headers: opts.headers,
    http: opts.http ?? 1,
  };
}

export function attemptUrl(ci: ConnectionInfo): string {
  const host = ci.host.includes(':') ? `[${ci.host}]` : ci.host;
  const path = ci.path.startsWith('/') ? ci.path : `/${ci.path}`;
  return `${ci.transport === 'tls' ? 'wss' : 'ws'}://${host}:${ci.port}${path}`;
}

export function attemptOptions(
  shared: SharedOptions,
  ci: ConnectionInfo,
  handler: Handler<null>,
): ConnectOptions<null> {
  return {
    ...shared,
    handler,
    state: null,
    http: ci.http ?? 1,
    tls: ci.tls,
    handshakeTimeout: ci.handshakeTimeout ?? ci.timeout,
    subprotocols: ci.subprotocols ?? ci.protocols,
    headers: ci.headers,
  };
}

/** A failed handshake (or connectionInfo): 1006, never clean. */
export function handshakeFailure(
  attempt: number,
  err: unknown,
): { base: DisconnectBase; final: CloseReason; error: Error } {
  const error = err instanceof Error ? err : new WebSocketError('WS_ERR_HANDSHAKE', String(err));
  const status = error instanceof WebSocketError ? error.status : undefined;
  const base: DisconnectBase = {
    phase: 'handshake',
    code: 1006,
    kind: 'error',
    status,
    error,
    reason: '',
    wasClean: false,
    attempt,
    http: undefined,
  };
  const final: CloseReason = { kind: 'error', code: 1006, reason: '', wasClean: false, error };
  return { base, final, error };
}

/** An open session ended; a heartbeat that went unanswered makes it a 1006 timeout. */
export function sessionEnd(
  attempt: number,
  reason: CloseReason,
  heartbeatLost: boolean,
  http: HttpVersion | undefined,
): { base: DisconnectBase; final: CloseReason } {
  let final = reason;
  if (heartbeatLost) {
    const error = new WebSocketError(
      'WS_ERR_HEARTBEAT_TIMEOUT',
      'no answer to the heartbeat ping in time',
      { closeCode: 1006 },
    );
    final = { kind: 'timeout', code: 1006, reason: '', wasClean: false, error };
  }
  const base: DisconnectBase = {
    phase: 'open',
    code: final.code,
    kind: final.kind,
    status: undefined,
    error: final.error,
    reason: final.reason,
    wasClean: final.wasClean,
    attempt,
    http,
  };
  return { base, final };
}

/** A client callback (connectionInfo) threw or rejected. */
export function callbackError(name: string, err: unknown): WebSocketError {
  return new WebSocketError(
    'WS_ERR_HANDLER',
    `${name} failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}
