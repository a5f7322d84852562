// Hono on @hono/node-server: `createNodeWebSocket({ app })` gives `upgradeWebSocket` and
// `injectWebSocket(server)`, the contract of @hono/node-ws, on the omniws engine. An
// upgrade request goes through `app.fetch` as a GET before anything is accepted: the
// middleware in front of `upgradeWebSocket((c) => events)` runs first, and one that
// answers (401) refuses the WebSocket with that answer; the events get a WSContext
// (send / close / readyState / protocol / url / raw: the omniws session). Over HTTP/1.1
// and, on an http2 server (`createServer: http2.createSecureServer`), HTTP/2 extended
// CONNECT. Hono is not imported at run time: its types only.

import type { Context, MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket, WSEvents, WSReadyState } from 'hono/ws';
import { CloseEvent, ErrorEvent } from '../client/whatwg.js';
import { type AnyNodeServer, attach } from '../server/attach.js';
import type { AttachedServer } from '../server/context.js';
import {
  type Request as OmniRequest,
  type Response as OmniResponse,
  type WebSocketResponse,
  websocket,
} from '../server/handler.js';
import { type Handler, ok, type SessionApi } from '../ws/handler.js';
import { refusal, standInRequest } from './bridge.js';
import type { AdapterOptions, WebSocketOptions } from './options.js';

/** Hono's WSContext, over an omniws session (its `raw`). */
export class WSContext {
  readonly raw: SessionApi;
  readonly url: URL | null;
  readonly protocol: string | null;
  binaryType: 'arraybuffer' | 'blob' = 'arraybuffer';
  #closed = false;

  constructor(session: SessionApi, url: URL | null) {
    this.raw = session;
    this.url = url;
    this.protocol = session.subprotocol ?? null;
  }

  get readyState(): WSReadyState {
    if (this.#closed) return 3;
    const s = (this.raw as SessionApi & { readyState?: string }).readyState;
    return s === 'closing' ? 2 : s === 'closed' ? 3 : 1;
  }

  /** A string is a text message, bytes a binary one; nothing is sent once closing. */
  send(source: string | ArrayBuffer | Uint8Array, _options?: { compress?: boolean }): void {
    if (this.readyState !== 1) return;
    this.raw.send(typeof source === 'string' ? source : new Uint8Array(source));
  }

  /** Start the closing handshake (default 1000); a code not allowed on the wire throws. */
  close(code?: number, reason?: string): void {
    if (this.readyState === 1) this.raw.close(code, reason);
  }

  /** @internal */
  ended(): void {
    this.#closed = true;
  }
}

/** Options of `upgradeWebSocket`: the route's WebSocket settings, and where callback errors go. */
export type UpgradeOptions = WebSocketOptions;

/** What `createNodeWebSocket` takes: the app, and omniws's WebSocket defaults and bounds. */
export interface NodeWebSocketInit extends AdapterOptions {
  app: { fetch(request: Request, env?: any): Response | Promise<Response> };
  /** The origin of `c.req.url` (default: from the request's scheme and authority). */
  baseUrl?: string | URL;
}

/** What `createNodeWebSocket` gives: what Hono's node-ws helper gives, on omniws. */
export interface NodeWebSocket {
  upgradeWebSocket: UpgradeWebSocket<SessionApi, UpgradeOptions>;
  /** Serve the app's WebSockets on `server` (node:http, node:https or node:http2). */
  injectWebSocket(server: AnyNodeServer): AttachedServer;
  /** Close every WebSocket with 1001 and stop taking upgrades. */
  close(): Promise<void>;
}

/** Where an upgrade request's env carries the way to accept it. */
const SLOT: unique symbol = Symbol('omniws.hono.upgrade');

interface Slot {
  accept(events: WSEvents<SessionApi>, url: string, options: UpgradeOptions | undefined): void;
}

function report(options: UpgradeOptions | undefined, err: unknown): void {
  (options?.onError ?? console.error)(err as Error);
}

/** The omniws handler that drives Hono's events. */
function eventsHandler(
  events: WSEvents<SessionApi>,
  url: string,
  options: UpgradeOptions | undefined,
): Handler<WSContext | null> {
  const call = (f: (() => void) | undefined) => {
    try {
      f?.();
    } catch (err) {
      report(options, err);
    }
  };
  return {
    init(_req, _s, session) {
      const ws = new WSContext(session, new URL(url));
      call(() => events.onOpen?.(new Event('open'), ws as never));
      return ok(ws);
    },
    handleIn(msg, ws) {
      const b = msg.data;
      const data =
        typeof b === 'string' ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      call(() => events.onMessage?.(new MessageEvent('message', { data }) as never, ws as never));
      return ok(ws);
    },
    terminate(reason, ws) {
      if (!ws) return;
      ws.ended();
      if (reason.error) {
        const e = new ErrorEvent('error', { error: reason.error, message: reason.error.message });
        call(() => events.onError?.(e, ws as never));
      }
      const close = { code: reason.code, reason: reason.reason, wasClean: reason.wasClean };
      call(() => events.onClose?.(new CloseEvent('close', close) as never, ws as never));
    },
  };
}

function settingsOf(options: UpgradeOptions | undefined): WebSocketOptions {
  return options ?? {};
}

/** An upgrade through `app.fetch`: its middleware, then `upgradeWebSocket` or an answer. */
async function routeUpgrade(init: NodeWebSocketInit, req: OmniRequest): Promise<OmniResponse> {
  const origin =
    init.baseUrl ?? `${req.secure ? 'https' : 'http'}://${req.authority ?? 'localhost'}`;
  const url = new URL(req.path, origin);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const one of typeof v === 'string' ? [v] : v) headers.append(k, one);
  }
  let accepted: WebSocketResponse | undefined;
  const slot: Slot = {
    accept(events, href, options) {
      accepted ??= websocket(eventsHandler(events, href, options), null, settingsOf(options));
    },
  };
  // what @hono/node-server gives handlers as c.env (getConnInfo reads incoming.socket)
  const env = { incoming: standInRequest(req), outgoing: undefined, [SLOT]: slot };
  const res = await init.app.fetch(new Request(url, { method: 'GET', headers }), env);
  if (accepted) {
    await res.body?.cancel();
    return accepted;
  }
  const out: Record<string, string | string[]> = {};
  res.headers.forEach((v, k) => {
    if (k !== 'set-cookie') out[k] = v;
  });
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return refusal(res.status, out, new Uint8Array(await res.arrayBuffer()));
}

/**
 * WebSockets for a Hono app on Hono's Node.js server, as its node-ws helper gives them:
 * `upgradeWebSocket((c) => ({ onOpen, onMessage, onClose, onError }))` in a route,
 * `injectWebSocket(server)` once the server exists.
 */
export function createNodeWebSocket(init: NodeWebSocketInit): NodeWebSocket {
  const { app: _app, baseUrl: _base, ...serverOpts } = init;
  let attached: AttachedServer | undefined;
  const accept = async (
    c: Context,
    events: WSEvents<SessionApi>,
    options: UpgradeOptions | undefined,
  ): Promise<Response | undefined> => {
    const slot = (c.env as { [SLOT]?: Slot } | undefined)?.[SLOT];
    if (slot === undefined) return undefined;
    slot.accept(events, c.req.url, options);
    // what the app answers is not sent: the WebSocket is
    return new Response(null);
  };
  const upgradeWebSocket = (...args: unknown[]): unknown => {
    if (typeof args[0] === 'function') {
      const create = args[0] as (
        c: Context,
      ) => WSEvents<SessionApi> | Promise<WSEvents<SessionApi>>;
      const options = args[1] as UpgradeOptions | undefined;
      const middleware: MiddlewareHandler = async (c, next) => {
        const slot = (c.env as { [SLOT]?: Slot } | undefined)?.[SLOT];
        if (slot === undefined) return next();
        return accept(c, await create(c), options);
      };
      return middleware;
    }
    const [c, events, options] = args as [Context, WSEvents<SessionApi>, UpgradeOptions?];
    return accept(c, events, options).then((r) => {
      if (!r) throw new Error('Failed to upgrade WebSocket');
      return r;
    });
  };
  return {
    upgradeWebSocket: upgradeWebSocket as UpgradeWebSocket<SessionApi, UpgradeOptions>,
    injectWebSocket(server) {
      if (attached) throw new Error('omniws: injectWebSocket was called already');
      attached = attach(server, {
        ...serverOpts,
        handle: (req) => (req.upgrade ? routeUpgrade(init, req) : undefined),
      });
      return attached;
    },
    close: () => attached?.close() ?? Promise.resolve(),
  };
}
