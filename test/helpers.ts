// Test helpers: a recording handler, `ws` peers wrapped in promises, raw sockets.

import { once } from 'node:events';
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { Agent } from '../src/client/agent.js';
import { connect } from '../src/client/connect.js';
import { acceptKey } from '../src/h1/upgrade.js';
import { encodeFrame, type Opcode } from '../src/ws/frame.js';
import {
  type CloseReason,
  type Control,
  type Handler,
  type Message,
  ok,
  reply,
} from '../src/ws/handler.js';
import type { Session } from '../src/ws/session.js';

/** A handler that echoes (unless told otherwise) and records everything it sees. */
export interface Recorder {
  messages: Message[];
  controls: Control[];
  infos: unknown[];
  terminated: Promise<CloseReason>;
  handler: Handler<null>;
}

export function recorder(opts: { echo?: boolean } = {}): Recorder {
  const messages: Message[] = [];
  const controls: Control[] = [];
  const infos: unknown[] = [];
  let resolve!: (r: CloseReason) => void;
  const terminated = new Promise<CloseReason>((r) => {
    resolve = r;
  });
  const echo = opts.echo ?? true;
  return {
    messages,
    controls,
    infos,
    terminated,
    handler: {
      handleIn(msg, state) {
        messages.push(msg);
        return echo ? reply(state, msg.data) : ok(state);
      },
      handleControl(ctl, state) {
        controls.push(ctl);
        return ok(state);
      },
      handleInfo(info, state) {
        infos.push(info);
        return ok(state);
      },
      terminate(reason) {
        resolve(reason);
      },
    },
  };
}

export interface WsPeer {
  ws: WebSocket;
  messages: { data: Buffer; binary: boolean }[];
  closed: Promise<{ code: number; reason: string }>;
  next(): Promise<{ data: Buffer; binary: boolean }>;
}

/** A `ws` client, opened. */
export async function wsClient(
  url: string,
  protocols?: string[],
  opts: WebSocket.ClientOptions = {},
): Promise<WsPeer> {
  const ws = new WebSocket(url, protocols, { perMessageDeflate: false, ...opts });
  const peer = wrap(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
  return peer;
}

export function wrap(ws: WebSocket): WsPeer {
  const messages: { data: Buffer; binary: boolean }[] = [];
  const waiters: ((m: { data: Buffer; binary: boolean }) => void)[] = [];
  ws.on('message', (data, binary) => {
    const m = { data: data as Buffer, binary };
    const w = waiters.shift();
    if (w) w(m);
    else messages.push(m);
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return {
    ws,
    messages,
    closed,
    next() {
      const m = messages.shift();
      if (m) return Promise.resolve(m);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** A `ws` server on 127.0.0.1:0. */
export async function wsServer(
  opts: WebSocket.ServerOptions = {},
): Promise<{ wss: WebSocketServer; url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    ...opts,
  });
  await once(wss, 'listening');
  const { port } = wss.address() as net.AddressInfo;
  return {
    wss,
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A raw TCP client that has completed a WebSocket handshake (data after it is buffered). */
export async function rawClient(
  port: number,
  path = '/',
  extraHead = Buffer.alloc(0),
): Promise<{ socket: net.Socket; response: string; received: Buffer[]; ended: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const key = Buffer.from('0123456789abcdef').toString('base64');
  socket.write(
    Buffer.concat([
      Buffer.from(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
      extraHead,
    ]),
  );
  let buf = Buffer.alloc(0);
  const received: Buffer[] = [];
  const response = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf('\r\n\r\n');
      if (i >= 0) {
        socket.removeListener('data', onData);
        const rest = buf.subarray(i + 4);
        if (rest.length > 0) received.push(rest);
        socket.on('data', (x: Buffer) => received.push(x));
        resolve(buf.subarray(0, i).toString('latin1'));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  if (!response.includes(acceptKey(key))) throw new Error(`bad handshake: ${response}`);
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  return { socket, response, received, ended };
}

/** A masked client frame, as a browser would send it. */
export function clientFrame(opcode: Opcode, payload: Uint8Array | string, fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat(
    encodeFrame(opcode, data, {
      fin,
      mask: (k) => {
        k.set([1, 2, 3, 4]);
      },
    }),
  );
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `cond` until it holds or `ms` pass (then throw): no fixed sleeps in assertions. */
export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

/** Our client (HTTP/1.1, /2 or /3), keeping every message it receives. */
export async function listeningClient(
  url: string,
  http: 1 | 2 | 3,
  opts: { agent?: Agent | undefined; ca?: Buffer } = {},
): Promise<{ session: Session<null>; got: Message[] }> {
  const got: Message[] = [];
  const session = await connect(url, {
    http,
    ...(opts.agent && { agent: opts.agent }),
    ...(opts.ca && { tls: { ca: opts.ca } }),
    state: null,
    handler: {
      handleIn: (m, s) => {
        got.push(m);
        return ok(s);
      },
    },
  });
  return { session, got };
}
