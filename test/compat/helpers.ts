// Helpers of the omniws/ws tests: servers that listen, upgrade requests made by hand
// (node:http, so that the server's refusals can be read), events as promises.

import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';
import RealWebSocket from 'ws';
import type { ServerOptions } from '../../src/compat/ws/options.js';
import { WebSocketServer } from '../../src/compat/ws/server.js';

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** An omniws/ws server in port mode, listening; closed (and its sockets terminated) at teardown. */
export async function wsServer(
  t: ExecutionContext,
  opts: Omit<ServerOptions, 'port'> = {},
): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...opts });
  await once(wss, 'listening');
  t.teardown(() => closeServer(wss));
  const port = (wss.address() as AddressInfo).port;
  return { wss, port, url: `ws://127.0.0.1:${port}` };
}

/** Terminate the server's sockets and close it. */
export function closeServer(wss: WebSocketServer): Promise<void> {
  for (const ws of wss.clients ?? []) ws.terminate();
  return new Promise((resolve) => wss.close(() => resolve()));
}

/** A node:http server on 127.0.0.1, closed at teardown. */
export async function httpServer(
  t: ExecutionContext,
  server: http.Server = http.createServer(),
): Promise<{ server: http.Server; port: number }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** The answer to an upgrade request: a status and headers, with the body when it is not a 101. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Send an upgrade request made by hand (node:http) and read the answer. */
export function upgradeRequest(
  port: number,
  headers: http.OutgoingHttpHeaders = {},
  opts: { method?: string; path?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': KEY,
        'Sec-WebSocket-Version': '13',
        ...headers,
      },
    });
    req.on('error', reject);
    req.on('upgrade', (res: IncomingMessage, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.end();
  });
}

/** The arguments of the next `event` of `emitter`, or a rejection after `ms`. */
export async function next<T extends unknown[] = any[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  ms = 5000,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return (await once(emitter, event, { signal: ac.signal })) as T;
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`no '${event}' within ${ms} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A `ws` client whose 'open' is awaited as `opened` (which rejects when it closes first),
 * with its 'close' and 'message' events recorded (`ev`).
 */
export function realClient(
  url: string,
  protocols?: string | string[] | RealWebSocket.ClientOptions,
  opts?: RealWebSocket.ClientOptions,
): RealWebSocket & { opened: Promise<void>; ev: Recorder } {
  const ws = new RealWebSocket(url, protocols as string[], opts);
  return Object.assign(ws, { opened: openedPromise(ws), ev: record(ws, ['close', 'message']) });
}

/** Resolves on the socket's 'open', rejects on a 'close' before it. */
export function openedPromise(ws: NodeJS.EventEmitter): Promise<void> {
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => {});
  return opened;
}

/** Events of an emitter recorded from now on, taken in order with `next(name)`. */
export interface Recorder {
  next<T extends unknown[] = any[]>(name: string, ms?: number): Promise<T>;
  /** How many of `name` were recorded and not taken yet. */
  pending(name: string): number;
}

export function record(emitter: NodeJS.EventEmitter, names: readonly string[]): Recorder {
  const seen = new Map<string, unknown[][]>();
  const waiters = new Map<string, ((args: unknown[]) => void)[]>();
  for (const name of names) {
    seen.set(name, []);
    waiters.set(name, []);
    emitter.on(name, (...args: unknown[]) => {
      const w = waiters.get(name)!.shift();
      if (w) w(args);
      else seen.get(name)!.push(args);
    });
  }
  return {
    next<T extends unknown[]>(name: string, ms = 5000): Promise<T> {
      const q = seen.get(name);
      if (q === undefined) throw new Error(`'${name}' is not recorded`);
      if (q.length > 0) return Promise.resolve(q.shift() as T);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          const list = waiters.get(name)!;
          list.splice(list.indexOf(w), 1);
          reject(new Error(`no '${name}' within ${ms} ms`));
        }, ms);
        const w = (args: unknown[]) => {
          clearTimeout(timer);
          resolve(args as T);
        };
        waiters.get(name)!.push(w);
      });
    },
    pending: (name) => seen.get(name)?.length ?? 0,
  };
}
