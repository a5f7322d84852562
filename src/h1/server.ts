// HTTP/1.1 WebSocket server: attach to an existing node:http / node:https server's
// `upgrade` event (other listeners and unmatched paths are left alone), or run a
// standalone listener. Validation is the pure `validateH1Request`; this file only
// turns its answer into bytes on the socket.

import http, { type IncomingMessage, STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { attachH1Handle } from '../http/h1.js';
import {
  decisionFailed,
  type HttpResponse,
  isHttpResponse,
  negotiationFor,
  pathnameOf,
  type RequestInfo,
  resolveRoute,
  type ServerOptions,
  SessionRegistry,
} from '../route.js';
import { H1Transport } from './transport.js';
import { validateH1Request } from './upgrade.js';

export interface AttachedServer {
  readonly registry: SessionRegistry;
  /** Stop handling upgrades, close live sessions with 1001 (grace, then abort). */
  close(): Promise<void>;
}

/** Write a complete HTTP/1.1 response on a raw socket and end it. */
export function writeHttpResponse(socket: Socket, res: HttpResponse): void {
  if (socket.destroyed) return;
  const body =
    res.body === undefined
      ? Buffer.from(STATUS_CODES[res.status] ?? '')
      : typeof res.body === 'string'
        ? Buffer.from(res.body)
        : res.body;
  let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n`;
  const headers: Record<string, string> = {
    connection: 'close',
    'content-type': 'text/plain; charset=utf-8',
    ...res.headers,
    'content-length': String(body.length),
  };
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]));
  socket.destroySoon?.();
}

export function h1RequestInfo(req: IncomingMessage, secure: boolean): RequestInfo {
  const path = req.url ?? '/';
  return {
    http: '1.1',
    method: req.method ?? 'GET',
    path,
    pathname: pathnameOf(path),
    authority: req.headers.host,
    headers: req.headers,
    secure,
    remoteAddress: req.socket.remoteAddress,
    remotePort: req.socket.remotePort,
  };
}

/** Handle one `upgrade` event. Returns false when no route matched (the caller decides). */
export async function handleUpgrade(
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  opts: ServerOptions,
  registry: SessionRegistry,
): Promise<boolean> {
  const secure = (socket as TLSSocket).encrypted === true;
  const info = h1RequestInfo(req, secure);
  socket.pause();
  socket.on('error', noop); // until the transport owns it: a reset must not crash the process
  let decision: Awaited<ReturnType<typeof resolveRoute>>;
  try {
    decision = await resolveRoute(opts, info);
  } catch (err) {
    writeHttpResponse(socket, decisionFailed(opts, err));
    return true;
  }
  if (decision === undefined) return false;
  if (isHttpResponse(decision)) {
    writeHttpResponse(socket, decision);
    return true;
  }
  const result = validateH1Request(
    { method: info.method, httpVersion: req.httpVersion, url: info.path, headers: req.headers },
    negotiationFor(opts, decision),
  );
  if (!result.ok) {
    writeHttpResponse(socket, {
      status: result.status,
      headers: result.headers ?? {},
      body: result.error,
    });
    return true;
  }
  if (socket.destroyed) return true;
  let response = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [k, v] of Object.entries(result.responseHeaders)) response += `${k}: ${v}\r\n`;
  socket.write(`${response}\r\n`, 'latin1');
  socket.removeListener('error', noop);
  registry.start(new H1Transport(socket, head, secure), opts, decision, info, result.info);
  return true;
}

function noop(): void {}

/**
 * Serve WebSocket routes on an existing HTTP/1.1 server (node:http, node:https, or
 * node:http2 with allowHTTP1). Paths without a route are left to the server's other
 * `upgrade` listeners, or answered 404 when there are none.
 */
export function attach(server: http.Server | https.Server, opts: ServerOptions): AttachedServer {
  // one handler for requests and upgrades alike (src/http/h1.ts)
  if (opts.handle) return attachH1Handle(server, opts);
  const registry = new SessionRegistry();
  let closing = false;
  // upgrades being decided (route, validation): they count against maxConnections too
  let pending = 0;
  const maxConnections = opts.maxConnections ?? Number.POSITIVE_INFINITY;
  const onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (closing) {
      writeHttpResponse(socket, { status: 503 });
      return;
    }
    if (registry.sessions.size + pending >= maxConnections) {
      writeHttpResponse(socket, {
        status: 503,
        headers: { 'retry-after': '1' },
        body: 'too many WebSocket connections',
      });
      return;
    }
    pending++;
    handleUpgrade(req, socket, head, opts, registry).then(
      (handled) => {
        pending--;
        if (!handled && server.listenerCount('upgrade') <= 1) {
          writeHttpResponse(socket, { status: 404 });
        }
      },
      (err) => {
        pending--;
        opts.onError?.(err as Error);
        socket.destroy();
      },
    );
  };
  server.on('upgrade', onUpgrade);
  return {
    registry,
    async close() {
      closing = true;
      server.removeListener('upgrade', onUpgrade);
      await registry.shutdown(opts.shutdownTimeout ?? 5000);
    },
  };
}

export interface ListenOptions extends ServerOptions {
  port?: number;
  host?: string;
  /**
   * A connection must complete its request head (and, for wss://, its TLS handshake)
   * within this many ms, or it is answered 408 and closed: slow-loris peers that send
   * the head a byte at a time are dropped (default 10 000).
   */
  handshakeTimeout?: number;
  /** Largest request head in bytes; above it node:http answers 431 (default 16 KiB). */
  maxHeaderSize?: number;
  /** Header fields of a request beyond this count are ignored by node:http (default 2000). */
  maxHeadersCount?: number;
  /**
   * Pending connections the kernel may queue for accept (default 4096, capped by the
   * system's somaxconn). node's own default, 511, reset connections in bursts of ~1000.
   */
  backlog?: number;
  /**
   * Plain (non-upgrade) requests; default: 426 on WebSocket routes, else 404. With
   * `handle`: the requests it declines (returns undefined for).
   */
  onRequest?: (req: IncomingMessage, res: http.ServerResponse) => void;
  /** Serve wss:// with these certificate options. */
  tls?: SecureContextOptions & { cert: string | Buffer; key: string | Buffer };
}

export interface Listener extends AttachedServer {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  readonly server: http.Server | https.Server;
}

/** A standalone HTTP/1.1 WebSocket server. Plain requests get 426 on routes, else 404. */
export async function listen(opts: ListenOptions): Promise<Listener> {
  const onRequest = (req: IncomingMessage, res: http.ServerResponse) => {
    if (opts.onRequest) {
      opts.onRequest(req, res);
      return;
    }
    const known = opts.routes?.[pathnameOf(req.url ?? '/')] !== undefined;
    const status = known ? 426 : 404;
    const body = STATUS_CODES[status] ?? '';
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(known && { upgrade: 'websocket', connection: 'Upgrade' }),
    });
    res.end(body);
  };
  const handshakeTimeout = opts.handshakeTimeout ?? 10_000;
  const httpOpts: http.ServerOptions = {
    ...headTimeouts(handshakeTimeout),
    ...(opts.maxHeaderSize !== undefined && { maxHeaderSize: opts.maxHeaderSize }),
  };
  // with `handle`, requests reach it through attach(); onRequest gets what it declines
  const listener = opts.handle ? opts.onRequest : onRequest;
  const server = opts.tls
    ? https.createServer({ ...opts.tls, ...httpOpts, handshakeTimeout }, listener)
    : http.createServer(httpOpts, listener);
  if (opts.maxHeadersCount !== undefined) server.maxHeadersCount = opts.maxHeadersCount;
  const attached = attach(server, opts);
  const bound = await bind(server, opts, opts.backlog ?? 4096);
  return {
    registry: attached.registry,
    server,
    ...bound,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await attached.close();
      server.closeAllConnections?.();
      await closed;
    },
  };
}

/**
 * node:http's request-head bounds for `handshakeTimeout`: it answers 408 to a head not
 * complete in time, checking its connections every connectionsCheckingInterval ms (30 s
 * by default: too coarse for short timeouts).
 */
export function headTimeouts(handshakeTimeout: number): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    headersTimeout: handshakeTimeout,
    requestTimeout: Math.max(handshakeTimeout, 300_000),
    connectionsCheckingInterval: Math.max(25, Math.min(5000, Math.floor(handshakeTimeout / 4))),
  };
}

/** Listen on `opts.port` (default any) and `opts.host` (default 127.0.0.1); the address and ws(s):// URL. */
export async function bind(
  server: NetServer,
  opts: { port?: number | undefined; host?: string | undefined; tls?: unknown },
  backlog?: number,
): Promise<{ port: number; host: string; url: string }> {
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, backlog, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return { port, host, url: `${opts.tls ? 'wss' : 'ws'}://${hostInUrl}:${port}` };
}
