// The options of ws's WebSocketServer and WebSocket as omniws/ws takes them, and how they
// map onto the engine's: maxPayload → maxMessage and maxFrame, perMessageDeflate's
// ws names → DeflateOptions, closeTimeout. Options the engine has no counterpart for are
// accepted and ignored (docs/ws-compat.md lists them).

import type http from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import type { Agent } from '../../client/agent.js';
import type { HttpChoice } from '../../client/connect.js';
import type { ServerTls } from '../../server/serve-options.js';
import type { DeflateOptions } from '../../ws/deflate.js';
import type { SessionOptions } from '../../ws/session.js';
import { CLOSE_TIMEOUT, MAX_PAYLOAD } from './constants.js';

/** ws's permessage-deflate options (both sides). */
export interface PerMessageDeflateOptions {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number | boolean;
  clientMaxWindowBits?: number | boolean;
  /** zlib options of the compressor: `level` and `memLevel` are used. */
  zlibDeflateOptions?: { level?: number; memLevel?: number; [option: string]: unknown };
  /** Accepted and ignored: the engine inflates with its own bounded settings. */
  zlibInflateOptions?: Record<string, unknown>;
  /** Messages shorter than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** Concurrent zlib jobs per process (default 10). */
  concurrencyLimit?: number;
}

/** The request, as `verifyClient` sees it. */
export interface VerifyClientInfo {
  origin: string | undefined;
  secure: boolean;
  req: http.IncomingMessage;
}

/** verifyClient with one argument: true accepts, false refuses with 401. */
export type VerifyClientCallbackSync = (info: VerifyClientInfo) => boolean;
/** verifyClient with two: the callback accepts, or refuses with a status, message and headers. */
export type VerifyClientCallbackAsync = (
  info: VerifyClientInfo,
  callback: (
    res: boolean,
    code?: number,
    message?: string,
    headers?: http.OutgoingHttpHeaders,
  ) => void,
) => void;

/** What ws's options share on both sides. */
interface CommonOptions {
  /** Largest message (and frame) accepted, in bytes (default 100 MiB; 0: no limit). */
  maxPayload?: number;
  /** Wait this long for the close handshake to finish before the connection is cut (default 30 s). */
  closeTimeout?: number;
  /** Accepted and ignored: the engine always answers a ping with a pong. */
  autoPong?: boolean;
  /** Accepted and ignored: events are emitted as messages complete. */
  allowSynchronousEvents?: boolean;
  /** Accepted and ignored: text is always checked for UTF-8 (RFC 6455 §8.1). */
  skipUTF8Validation?: boolean;
  /** Accepted and ignored: the engine bounds a message by `maxPayload`, whatever its framing. */
  maxBufferedChunks?: number;
  /** Accepted and ignored, as `maxBufferedChunks`. */
  maxFragments?: number;
  /** Accepted and ignored. */
  maxPendingAutoPongs?: number;
  /**
   * omniws: bytes a socket may hold unsent before a send closes it with 1008 (default
   * Infinity, as ws, which buffers without bound; watch `bufferedAmount`).
   */
  maxBuffered?: number;
}

/** Options of `new WebSocketServer(options, callback)`. */
export interface ServerOptions extends CommonOptions {
  /** Listen on this port with an HTTP server of our own (ws's port mode). */
  port?: number;
  host?: string;
  backlog?: number;
  /** A node:http, node:https or node:http2 server (secure or not) to serve WebSockets on. */
  server?: http.Server | https.Server | Http2Server | Http2SecureServer;
  noServer?: boolean;
  path?: string;
  verifyClient?: VerifyClientCallbackSync | VerifyClientCallbackAsync;
  handleProtocols?: (protocols: Set<string>, request: http.IncomingMessage) => string | false;
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  clientTracking?: boolean;
  /** The class of the server's sockets: WebSocket or a class that extends it. */
  WebSocket?: new (
    address: null,
    protocols: undefined,
    options: any,
  ) => any;
  /**
   * omniws, with `port`: serve TLS on that port, and with it HTTP/2 (by ALPN) and HTTP/3
   * (UDP, the same port number), through omniws's `serve()`.
   */
  tls?: ServerTls;
  /** omniws, with `port`: the HTTP versions to serve (default with `tls` [1, 2, 3], else [1]). */
  http?: readonly (1 | 2 | 3)[];
  /** omniws: how long an asynchronous `verifyClient` may take over HTTP/2 and HTTP/3 (default 10 s). */
  decisionTimeout?: number;
}

/** Options of `new WebSocket(address, protocols, options)`. */
export interface ClientOptions extends CommonOptions, Omit<ConnectionOptions, 'timeout'> {
  protocols?: string | readonly string[];
  headers?: http.OutgoingHttpHeaders;
  handshakeTimeout?: number;
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  followRedirects?: boolean;
  maxRedirects?: number;
  origin?: string;
  protocolVersion?: number;
  /** Customize each HTTP/1.1 request before it is sent; it must call `request.end()`. */
  finishRequest?: (request: http.ClientRequest, websocket: any) => void;
  /** Accepted and ignored: masks come from node:crypto. */
  generateMask?: (mask: Buffer) => void;
  /** HTTP/1.1: how the connection is made (as in http.request). */
  createConnection?: (
    options: any,
    callback?: (err: Error | null, socket: Duplex) => void,
  ) => Duplex;
  /** HTTP/1.1: an http.Agent; HTTP/2 and HTTP/3: an omniws Agent (its pools). */
  agent?: http.Agent | Agent | false;
  auth?: string;
  family?: number;
  localAddress?: string;
  lookup?: (...args: any[]) => void;
  socketPath?: string;
  /** omniws: the HTTP version that carries the WebSocket (connect()'s `http`; default 1). */
  http?: HttpChoice;
  /** Any other option of http.request / https.request (HTTP/1.1). */
  [option: string]: unknown;
}

/** The engine's permessage-deflate options for ws's, or undefined when it is off. */
export function deflateOptionsOf(
  pmd: boolean | PerMessageDeflateOptions | undefined,
): DeflateOptions | undefined {
  if (!pmd) return undefined;
  if (pmd === true) return {};
  const d: DeflateOptions = {};
  if (pmd.serverNoContextTakeover) d.serverNoContextTakeover = true;
  if (pmd.clientNoContextTakeover) d.clientNoContextTakeover = true;
  if (typeof pmd.serverMaxWindowBits === 'number') d.serverMaxWindowBits = pmd.serverMaxWindowBits;
  if (pmd.clientMaxWindowBits !== undefined) d.clientMaxWindowBits = pmd.clientMaxWindowBits;
  if (pmd.threshold !== undefined) d.threshold = pmd.threshold;
  if (pmd.zlibDeflateOptions?.level !== undefined) d.level = pmd.zlibDeflateOptions.level;
  if (pmd.zlibDeflateOptions?.memLevel !== undefined) d.memLevel = pmd.zlibDeflateOptions.memLevel;
  if (pmd.concurrencyLimit !== undefined) d.concurrency = pmd.concurrencyLimit;
  return d;
}

/** The engine's session options for ws's: limits, close timeout, send buffer bound. */
export function sessionOptionsOf(o: CommonOptions): SessionOptions {
  // ws coerces maxPayload to a 32-bit signed integer; 0 (or less) means no limit
  const raw = o.maxPayload === undefined ? MAX_PAYLOAD : o.maxPayload | 0;
  const max = raw > 0 ? raw : Number.MAX_SAFE_INTEGER;
  return {
    maxMessage: max,
    maxFrame: max,
    closeTimeout: o.closeTimeout ?? CLOSE_TIMEOUT,
    maxBuffered: o.maxBuffered ?? Number.POSITIVE_INFINITY,
  };
}
