// ws's WebSocketServer (doc/ws.md "Class: WebSocketServer") on omniws. Its modes:
//   port       an HTTP/1.1 server of its own that answers 426 to plain requests, as ws;
//              with `tls` (or `http`), omniws's serve() instead: HTTP/1.1, HTTP/2 and
//              HTTP/3 on that one port number
//   server     a node:http(s) server: its 'upgrade' events go to handleUpgrade, as ws;
//              a node:http2 server, secure or not: extended CONNECT (RFC 8441) through
//              omniws's attach(), and with allowHTTP1 its HTTP/1.1 upgrades as above
//   noServer   the application calls handleUpgrade, or gives `wss.handle` to omniws's
//              serve() / attach() (HTTP/3 among them)
// close() stops taking upgrades and leaves open sockets alone; 'close' follows once the
// last tracked socket has closed, as in ws.

import { EventEmitter } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { attach } from '../../server/attach.js';
import type { AttachedServer, Server } from '../../server/context.js';
import { buffered, type RequestHandler } from '../../server/handler.js';
import { SessionRegistry } from '../../server/registry.js';
import { serve } from '../../server/serve.js';
import type { DeflateOptions } from '../../ws/deflate.js';
import type { SessionOptions } from '../../ws/session.js';
import { deflateOptionsOf, type ServerOptions, sessionOptionsOf } from './options.js';
import type { ServerCore } from './server-core.js';
import { handleUpgrade } from './server-h1.js';
import { handleRequest } from './server-handle.js';
import { WebSocket } from './websocket.js';

const RUNNING = 0;
const CLOSING = 1;
const CLOSED = 2;

type Resolved = ServerOptions & { WebSocket: new (...args: any[]) => WebSocket };
type AnyServer = NonNullable<ServerOptions['server']>;

function isHttp2(server: AnyServer): server is Http2Server | Http2SecureServer {
  return typeof (server as Http2Server).updateSettings === 'function';
}

/** ws's WebSocketServer: `port`, `server` (node:http, https or http2) or `noServer`. */
export class WebSocketServer extends EventEmitter implements ServerCore {
  readonly options: Resolved;
  readonly clients?: Set<WebSocket>;
  readonly sessionOptions: SessionOptions;
  readonly deflate: DeflateOptions | undefined;
  /**
   * omniws: this server as a request handler for omniws's serve() or attach(): WebSocket
   * upgrades on any HTTP version get ws's decisions and 'connection'; other requests are
   * declined (undefined).
   */
  readonly handle: RequestHandler;
  #state = RUNNING;
  #server: AnyServer | null = null;
  #removeListeners: (() => void) | null = null;
  /** A node:http2 server's attachment (extended CONNECT), released once its sockets closed. */
  #attached: AttachedServer | null = null;
  /** serve()'s server (port with tls or http): null until it listens. */
  #served: Server | null = null;
  #serving = false;
  #shouldEmitClose = false;
  readonly #registry = new SessionRegistry();

  constructor(options: ServerOptions, callback?: () => void) {
    super();
    const o: Resolved = {
      maxPayload: 100 * 1024 * 1024,
      perMessageDeflate: false,
      handleProtocols: undefined,
      clientTracking: true,
      verifyClient: undefined,
      noServer: false,
      backlog: undefined,
      server: undefined,
      host: undefined,
      path: undefined,
      port: undefined,
      WebSocket,
      ...options,
    } as Resolved;
    if (
      (o.port == null && !o.server && !o.noServer) ||
      (o.port != null && (o.server || o.noServer)) ||
      (o.server && o.noServer)
    ) {
      throw new TypeError(
        'One and only one of the "port", "server", or "noServer" options must be specified',
      );
    }
    if (o.perMessageDeflate === true) o.perMessageDeflate = {};
    this.options = o;
    this.sessionOptions = sessionOptionsOf(o);
    this.deflate = deflateOptionsOf(o.perMessageDeflate);
    if (o.clientTracking) this.clients = new Set();
    const emitConnection = (ws: WebSocket, req: IncomingMessage) =>
      this.emit('connection', ws, req);
    this.handle = (req) => handleRequest(this, req, emitConnection);

    if (o.port != null && (o.tls !== undefined || o.http !== undefined)) {
      this.#serve(o, callback);
      return;
    }
    if (o.port != null) {
      const server = http.createServer((_req, res) => {
        const body = http.STATUS_CODES[426]!;
        res.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
        res.end(body);
      });
      server.listen(o.port, o.host, o.backlog, callback);
      this.#server = server;
    } else if (o.server) {
      this.#server = o.server;
    }
    if (this.#server) this.#listen(this.#server, emitConnection);
  }

  /** Whether upgrades are still taken. */
  get running(): boolean {
    return this.#state === RUNNING;
  }

  address(): AddressInfo | string | null {
    if (this.options.noServer) throw new Error('The server is operating in "noServer" mode');
    if (this.#served) {
      const host = this.#served.host;
      return {
        address: host,
        family: host.includes(':') ? 'IPv6' : 'IPv4',
        port: this.#served.port,
      };
    }
    if (!this.#server) return null;
    return this.#server.address();
  }

  close(cb?: (err?: Error) => void): void {
    if (this.#state === CLOSED) {
      if (cb) this.once('close', () => cb(new Error('The server is not running')));
      process.nextTick(() => this.#emitClose());
      return;
    }
    if (cb) this.once('close', cb);
    if (this.#state === CLOSING) return;
    this.#state = CLOSING;
    if (this.#serving) {
      // serve(): its listeners stop once the sockets are gone (new upgrades get 503 meanwhile);
      // when it is not listening yet, it stops as soon as it is
      const served = this.#served;
      if (served) void this.#stopServing(served);
      return;
    }
    if (this.options.noServer || this.options.server) {
      if (this.#server) {
        this.#removeListeners!();
        this.#removeListeners = null;
        this.#server = null;
      }
      if (this.clients) {
        if (this.clients.size === 0) process.nextTick(() => this.#emitClose());
        else this.#shouldEmitClose = true;
      } else {
        process.nextTick(() => this.#emitClose());
      }
      return;
    }
    const server = this.#server as http.Server;
    this.#removeListeners?.();
    this.#removeListeners = null;
    this.#server = null;
    server.close(() => this.#emitClose());
  }

  shouldHandle(req: IncomingMessage): boolean {
    if (this.options.path) {
      const url = req.url ?? '';
      const i = url.indexOf('?');
      if ((i !== -1 ? url.slice(0, i) : url) !== this.options.path) return false;
    }
    return true;
  }

  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    cb: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    handleUpgrade(this, this.#registry, req, socket, head, cb);
  }

  clientGone(): void {
    if (this.#shouldEmitClose && this.clients?.size === 0) {
      process.nextTick(() => this.#emitClose());
    }
  }

  #emitClose(): void {
    this.#state = CLOSED;
    this.emit('close');
  }

  /** ws's listeners on a server it was given or made: listening, error, upgrade. */
  #listen(server: AnyServer, emitConnection: (ws: WebSocket, req: IncomingMessage) => void): void {
    const map: Record<string, (...args: any[]) => void> = {
      listening: () => this.emit('listening'),
      error: (err: Error) => this.emit('error', err),
      upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) =>
        this.handleUpgrade(req, socket, head, emitConnection),
    };
    if (isHttp2(server)) this.#attachHttp2(server);
    for (const [event, fn] of Object.entries(map)) server.on(event, fn);
    this.#removeListeners = () => {
      for (const [event, fn] of Object.entries(map)) server.removeListener(event, fn);
      const attached = this.#attached;
      this.#attached = null;
      if (attached) void this.#whenSocketsGone(attached.registry).then(() => attached.close());
    };
  }

  /**
   * Extended CONNECT on a node:http2 server, through attach(). Its HTTP/1.1 upgrades
   * (allowHTTP1) stay ws's: the listener attach() adds for them is taken off again.
   */
  #attachHttp2(server: Http2Server | Http2SecureServer): void {
    const before = new Set(server.listeners('upgrade'));
    this.#attached = attach(server, {
      handle: (req) => (req.http === '1.1' ? undefined : this.handle(req)),
      ...(this.options.decisionTimeout !== undefined && {
        decisionTimeout: this.options.decisionTimeout,
      }),
    });
    for (const l of server.listeners('upgrade')) {
      if (!before.has(l)) server.removeListener('upgrade', l as (...args: any[]) => void);
    }
  }

  async #stopServing(served: Server): Promise<void> {
    await this.#whenSocketsGone(served.registry);
    await served.close();
    this.#emitClose();
  }

  #serve(o: Resolved, callback: (() => void) | undefined): void {
    this.#serving = true;
    if (callback) this.once('listening', callback);
    const handle: RequestHandler = (req) =>
      req.upgrade
        ? this.handle(req)
        : buffered(426, { 'content-type': 'text/plain' }, http.STATUS_CODES[426]);
    serve({
      port: o.port!,
      ...(o.host !== undefined && { host: o.host }),
      ...(o.tls !== undefined && { tls: o.tls }),
      ...(o.http !== undefined && { http: o.http }),
      ...(o.backlog !== undefined && { backlog: o.backlog }),
      ...(o.decisionTimeout !== undefined && { decisionTimeout: o.decisionTimeout }),
      handle,
    }).then(
      (served) => {
        this.#served = served;
        if (this.#state !== RUNNING) void this.#stopServing(served);
        else this.emit('listening');
      },
      (err: Error) => this.emit('error', err),
    );
  }

  /** Resolves once every session in `registry` has ended. */
  async #whenSocketsGone(registry: SessionRegistry): Promise<void> {
    await Promise.all([...registry.sessions].map((s) => s.closed));
  }
}
