// HTTP/1.1 servers: `attach` to a user's node:http / node:https server, or `listen` on
// a port of our own. Every request and upgrade goes the one way of src/server/exchange.ts
// through the HTTP/1.1 adapter (src/server/h1.ts).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { logKeys } from '../h1/keylog.js';
import { bind, headTimeouts } from './bind.js';
import {
  type AttachedServer,
  createHandleContext,
  type HandleContext,
  type Server,
  shutdownLoops,
  topicsFace,
} from './context.js';
import { type EmitHook, wrapEmit } from './emit.js';
import { headFieldLimit, serveH1Request, serveH1Upgrade } from './h1.js';
import type { ServerOptions } from './options.js';
import type { PlainRequests } from './routes.js';

export type { AttachedServer } from './context.js';

function noop(): void {}

const OUR_EMIT = Symbol('omniws.h1.emit');

/**
 * Serve WebSockets (and, with `handle`, every request) on an existing HTTP/1.1 server:
 * node:http, node:https, or node:http2 with allowHTTP1. Every request and upgrade reaches
 * the handler first (src/server/emit.ts: listener order does not matter); what it
 * declines (undefined) goes on to the server's other listeners, or gets 404. With
 * `routes`/`route` only upgrades are decided; plain requests stay the server's.
 */
export function attachH1(
  server: http.Server | https.Server,
  opts: ServerOptions,
  plain: PlainRequests = 'decline',
  shared?: HandleContext,
): AttachedServer {
  const ctx = shared ?? createHandleContext(opts, plain);
  // node:http emits 'upgrade' only when someone listens; ours is a placeholder, the
  // emit hook does the work
  const upgradeMarker = noop;
  server.on('upgrade', upgradeMarker);
  const hook: EmitHook = wrapEmit(server, OUR_EMIT, (event, args) => {
    if (event === 'request') return takeRequest(server, ctx, hook, args);
    if (event === 'upgrade') return takeUpgrade(server, ctx, hook, args);
    return false;
  });
  let closed = false;
  return {
    registry: ctx.registry,
    ...topicsFace(ctx.registry),
    async close() {
      if (closed) return;
      closed = true;
      shutdownLoops(ctx);
      await ctx.registry.shutdown(opts.shutdownTimeout ?? 5000);
      hook.release();
      server.removeListener('upgrade', upgradeMarker);
    },
  };
}

/** A 'request' event: the handler first, then the server's own listeners, else 404. */
function takeRequest(
  server: http.Server | https.Server,
  ctx: HandleContext,
  hook: EmitHook,
  args: unknown[],
): boolean {
  const req = args[0] as IncomingMessage;
  const res = args[1] as ServerResponse;
  const decline = () => {
    if (!hook.innerIsOurs && server.listenerCount('request') === 0) return false;
    hook.pass('request', req, res);
    return true;
  };
  serveH1Request(req, res, ctx, decline, headFieldLimit(server)).catch((err: unknown) => {
    ctx.opts.onError?.(err as Error);
    res.destroy();
  });
  return true;
}

/** An 'upgrade' event: the handler first, then the server's other upgrade listeners, else 404. */
function takeUpgrade(
  server: http.Server | https.Server,
  ctx: HandleContext,
  hook: EmitHook,
  args: unknown[],
): boolean {
  const [req, socket, head] = args as [IncomingMessage, Socket, Buffer];
  const decline = () => {
    if (!hook.innerIsOurs && server.listenerCount('upgrade') <= 1) return false;
    hook.pass('upgrade', req, socket, head);
    return true;
  };
  serveH1Upgrade(req, socket, head, ctx, decline, headFieldLimit(server)).catch((err: unknown) => {
    ctx.opts.onError?.(err as Error);
    socket.destroy();
  });
  return true;
}

/**
 * Options of `listen()`: a standalone HTTP/1.1 server's port, host, TLS and request-head limits.
 */
export interface ListenOptions extends ServerOptions {
  port?: number;
  host?: string;
  /**
   * A connection must complete its request head (and, for wss://, its TLS handshake)
   * within this many ms, or it is answered 408 and closed: slow-loris peers that send
   * the head a byte at a time are dropped (default 10 000).
   */
  handshakeTimeout?: number;
  /**
   * Write the TLS secrets to this file in NSS key log format (Wireshark, tshark); default
   * the SSLKEYLOGFILE environment variable, else none. HTTP/3 writes its own there too.
   */
  keylog?: string;
  /** Largest request head in bytes; above it node:http answers 431 (default 16 KiB). */
  maxHeaderSize?: number;
  /**
   * Most header fields a request head may have; beyond it the answer is 431 (node:http's
   * default: 1000).
   */
  maxHeadersCount?: number;
  /**
   * Pending connections the kernel may queue for accept (default 4096, capped by the
   * system's somaxconn). node's own default, 511, reset connections in bursts of ~1000.
   */
  backlog?: number;
  /**
   * Plain requests the handler declines; without `handle`, every plain request
   * (default: 426 on WebSocket routes, else 404).
   */
  onRequest?: (req: IncomingMessage, res: http.ServerResponse) => void;
  /** Serve wss:// with these certificate options. */
  tls?: SecureContextOptions & { cert: string | Buffer; key: string | Buffer };
}

/** A running server from `listen()`, with its node:http or node:https server. */
export interface Listener extends Server {
  readonly server: http.Server | https.Server;
}

/**
 * A standalone HTTP/1.1 server (wss:// with `tls`). Plain requests: `handle`, else
 * `onRequest`, else 426 on a WebSocket route and 404 elsewhere.
 */
export async function listen(opts: ListenOptions, shared?: HandleContext): Promise<Listener> {
  const handshakeTimeout = opts.handshakeTimeout ?? 10_000;
  const httpOpts: http.ServerOptions = {
    ...headTimeouts(handshakeTimeout),
    ...(opts.maxHeaderSize !== undefined && { maxHeaderSize: opts.maxHeaderSize }),
  };
  // requests reach the handler through attach(); onRequest gets what it declines
  const server = opts.tls
    ? https.createServer({ ...opts.tls, ...httpOpts, handshakeTimeout }, opts.onRequest)
    : http.createServer(httpOpts, opts.onRequest);
  if (opts.maxHeadersCount !== undefined) server.maxHeadersCount = opts.maxHeadersCount;
  if (opts.tls) logKeys(server, opts.keylog);
  const attached = attachH1(server, opts, opts.onRequest ? 'decline' : 'answer', shared);
  const bound = await bind(server, opts, opts.backlog ?? 4096);
  return {
    registry: attached.registry,
    ...topicsFace(attached.registry),
    server,
    ...bound,
    versions: ['1.1'],
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await attached.close();
      server.closeAllConnections?.();
      await closed;
    },
  };
}
