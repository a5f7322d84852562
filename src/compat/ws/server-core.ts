// What a WebSocketServer decides the same way on every HTTP version, in ws's order and
// with ws's answers: the path (shouldHandle), the subprotocol list, permessage-deflate,
// verifyClient (one or two arguments), the subprotocol choice (handleProtocols), the
// 'headers' event, and tracking the socket once it is open ('connection', `clients`,
// the server's 'close' once the last one went after close()).

import type { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { DeflateOptions, DeflateParams } from '../../ws/deflate.js';
import { negotiateCommon } from '../../ws/negotiate.js';
import type { SessionOptions } from '../../ws/session.js';
import { parseProtocols } from './data.js';
import type { ServerOptions } from './options.js';
import type { WebSocket } from './websocket.js';

/** A refusal: the status, the body (default: the status text) and extra headers. */
export interface Refusal {
  status: number;
  message?: string | undefined;
  headers?: OutgoingHttpHeaders | undefined;
  /** ws emits 'wsClientError' for this refusal when someone listens (HTTP/1.1). */
  clientError?: boolean;
}

/** What the upgrade agreed before verifyClient: the offered subprotocols, permessage-deflate. */
export interface Offer {
  protocols: Set<string>;
  /** The Sec-WebSocket-Extensions value of the answer and its parameters, when agreed. */
  deflate?: { value: string; params: DeflateParams };
}

/** The WebSocketServer, as the code that serves its upgrades sees it. */
export interface ServerCore extends EventEmitter {
  readonly options: ServerOptions & { WebSocket: new (...args: any[]) => WebSocket };
  readonly clients?: Set<WebSocket>;
  /** Whether new upgrades are still taken (close() not called). */
  readonly running: boolean;
  /** The engine's session options of every socket. */
  readonly sessionOptions: SessionOptions;
  /** The engine's permessage-deflate options (undefined: off). */
  readonly deflate: DeflateOptions | undefined;
  shouldHandle(req: IncomingMessage): boolean;
  /** A tracked client closed: the server may now emit 'close'. */
  clientGone(): void;
}

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

function single(v: string | readonly string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(', ');
}

/**
 * The path, the subprotocols and permessage-deflate, as ws checks them after the
 * version-specific checks; a Refusal with ws's message for the first that fails.
 */
export function offerOf(core: ServerCore, req: IncomingMessage, headers: Headers): Offer | Refusal {
  if (!core.shouldHandle(req)) return { status: 400 };
  let protocols = new Set<string>();
  const offered = single(headers['sec-websocket-protocol']);
  if (offered !== undefined) {
    try {
      protocols = parseProtocols(offered);
    } catch {
      return { status: 400, message: 'Invalid Sec-WebSocket-Protocol header', clientError: true };
    }
  }
  const ext = single(headers['sec-websocket-extensions']);
  if (core.deflate === undefined || ext === undefined) return { protocols };
  const n = negotiateCommon(
    { 'sec-websocket-extensions': ext },
    { perMessageDeflate: core.deflate },
  );
  if (!n.ok) {
    const message = 'Invalid or unacceptable Sec-WebSocket-Extensions header';
    return { status: 400, message, clientError: true };
  }
  const value = n.responseHeaders['sec-websocket-extensions'];
  return value !== undefined && n.info.deflate !== undefined
    ? { protocols, deflate: { value, params: n.info.deflate } }
    : { protocols };
}

/**
 * Run verifyClient, if any, and call `done` with undefined (accepted) or a Refusal: 401
 * when a one-argument verifyClient says no, `code || 401` with the message and headers of
 * a two-argument one.
 */
export function verify(
  core: ServerCore,
  req: IncomingMessage,
  secure: boolean,
  version: number,
  done: (refusal: Refusal | undefined) => void,
): void {
  const verifyClient = core.options.verifyClient;
  if (!verifyClient) {
    done(undefined);
    return;
  }
  const origin = single(req.headers[version === 8 ? 'sec-websocket-origin' : 'origin']);
  const info = { origin, secure, req };
  if (verifyClient.length === 2) {
    verifyClient(info, (verified, code, message, headers) => {
      done(verified ? undefined : { status: code || 401, message, headers });
    });
    return;
  }
  done((verifyClient as (i: typeof info) => boolean)(info) ? undefined : { status: 401 });
}

/** handleProtocols' choice, or the first offered; undefined for none. */
export function chooseProtocol(
  core: ServerCore,
  protocols: Set<string>,
  req: IncomingMessage,
): string | undefined {
  if (protocols.size === 0) return undefined;
  const chosen = core.options.handleProtocols
    ? core.options.handleProtocols(protocols, req)
    : protocols.values().next().value;
  return chosen ? String(chosen) : undefined;
}

/** The body and headers of a refusal as ws's abortHandshake writes them. */
export function refusalBody(r: Refusal): { message: string; headers: OutgoingHttpHeaders } {
  const message = r.message || http.STATUS_CODES[r.status] || '';
  return {
    message,
    headers: {
      Connection: 'close',
      'Content-Type': 'text/html',
      'Content-Length': Buffer.byteLength(message),
      ...r.headers,
    },
  };
}

/** The socket is open: track it, then tell the application ('connection' or handleUpgrade's callback). */
export function opened(
  core: ServerCore,
  ws: WebSocket,
  req: IncomingMessage,
  cb: (ws: WebSocket, req: IncomingMessage) => void,
): void {
  const clients = core.clients;
  if (clients) {
    clients.add(ws);
    ws.on('close', () => {
      clients.delete(ws);
      core.clientGone();
    });
  }
  cb(ws, req);
}
