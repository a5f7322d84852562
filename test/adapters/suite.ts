// The same checks for every framework adapter, over HTTP/1.1 (the `ws` package as the
// client, on a plain node:http server) and HTTP/2 (omniws's own client and node's bare
// http2 client for a raw extended CONNECT, on a TLS server with allowHTTP1). Each test
// file builds one app with the framework's own API; every app has the same routes:
//
//   WebSocket /echo/:id  auth first (Bearer ok, or ?token=ok): 401 + www-authenticate
//                        otherwise; says `hello id=… user=… x=… http=…` on open (user
//                        comes from a hook/middleware), echoes text as text and bytes as
//                        bytes, closes 4001 "asked" on "close-me"; subprotocol "chat",
//                        permessage-deflate on
//   GET /plain/:id       the same auth, then JSON { id, user, http }

import type { ClientHttp2Session } from 'node:http2';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import WebSocket from 'ws';
import { connect, ok, type SessionApi } from '../../src/index.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { clientFrame, OP, rawConnect, rawSession } from '../h2/helpers.js';
import { until, wsClient } from '../helpers.js';

export interface Served {
  readonly port: number;
  /** WebSockets the app's handler saw open. */
  opened(): number;
  /** `code reason` of each close the app's handler saw. */
  readonly closes: string[];
  close(): Promise<void>;
}

/** Start the app: HTTP/1.1 without `tls`, HTTP/2 (+ HTTP/1.1 by ALPN) with it. */
export type Serve = (tls?: { key: Buffer; cert: Buffer }) => Promise<Served>;

interface Peer {
  session: SessionApi;
  next(): Promise<string | Buffer>;
  closed: Promise<{ code: number; reason: string }>;
}

/** omniws's client over HTTP/2, its messages in a queue. */
async function h2Peer(
  url: string,
  ca: Buffer,
  opts: { subprotocols?: string[]; headers?: Record<string, string>; deflate?: boolean } = {},
): Promise<Peer> {
  const queue: (string | Buffer)[] = [];
  const waiters: ((m: string | Buffer) => void)[] = [];
  const session = await connect(url, {
    http: 2,
    tls: { ca },
    sessionIdleTimeout: 20,
    subprotocols: opts.subprotocols ?? [],
    headers: opts.headers ?? {},
    perMessageDeflate: opts.deflate ?? false,
    state: null,
    handler: {
      handleIn(msg, s) {
        const w = waiters.shift();
        if (w) w(msg.data);
        else queue.push(msg.data);
        return ok(s);
      },
    },
  });
  return {
    session,
    next: () => {
      const m = queue.shift();
      return m !== undefined ? Promise.resolve(m) : new Promise((r) => waiters.push(r));
    },
    closed: session.closed.then((r) => ({ code: r.code, reason: r.reason })),
  };
}

async function refusedH1(url: string): Promise<{ status: number; auth: string | undefined }> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, auth: res.headers['www-authenticate'] as string });
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('the WebSocket opened')));
    ws.on('error', () => {});
  });
}

async function plainH2(session: ClientHttp2Session, path: string) {
  const req = session.request({ ':path': path });
  let status = 0;
  req.on('response', (h) => {
    status = Number(h[':status']);
  });
  req.setEncoding('utf8');
  let body = '';
  for await (const chunk of req) body += chunk;
  return { status, body };
}

export function adapterSuite(name: string, serve: Serve): void {
  let certs: TestCerts;
  test.before(async () => {
    certs = await makeCerts(`adapters-${name}`);
  });
  test.after.always(() => removeCerts(certs));

  const h1 = (t: ExecutionContext, s: Served) => {
    t.teardown(() => s.close());
    return `ws://127.0.0.1:${s.port}`;
  };

  test(`${name} over HTTP/1.1: echo, route params, query and what the hook put on the request`, async (t) => {
    const s = await serve();
    const base = h1(t, s);
    const peer = await wsClient(`${base}/echo/7?token=ok&x=1`);
    t.is((await peer.next()).data.toString(), 'hello id=7 user=alice x=1 http=1.1');
    peer.ws.send('text message');
    const text = await peer.next();
    t.deepEqual([text.data.toString(), text.binary], ['text message', false]);
    peer.ws.send(Buffer.from([0, 1, 2, 255]));
    const bin = await peer.next();
    t.deepEqual([[...bin.data], bin.binary], [[0, 1, 2, 255], true]);
    peer.ws.close(1000);
    await peer.closed;
    t.is(s.opened(), 1);
  });

  test(`${name} over HTTP/1.1: a hook refusing with 401 refuses the upgrade; nothing opens`, async (t) => {
    const s = await serve();
    const base = h1(t, s);
    t.deepEqual(await refusedH1(`${base}/echo/7`), { status: 401, auth: 'Bearer' });
    // a path with no route at all: the framework's 404
    t.is((await refusedH1(`${base}/nowhere?token=ok`)).status, 404);
    t.is(s.opened(), 0);
    // the same with the credentials in a header opens
    const peer = await wsClient(`${base}/echo/8`, [], { headers: { authorization: 'Bearer ok' } });
    t.is((await peer.next()).data.toString(), 'hello id=8 user=alice x= http=1.1');
    peer.ws.close();
    await peer.closed;
    t.is(s.opened(), 1);
  });

  test(`${name} over HTTP/1.1: subprotocol choice and permessage-deflate`, async (t) => {
    const s = await serve();
    const base = h1(t, s);
    const chosen = await wsClient(`${base}/echo/1?token=ok`, ['other', 'chat'], {
      perMessageDeflate: true,
    });
    t.is(chosen.ws.protocol, 'chat');
    t.regex(chosen.ws.extensions, /^permessage-deflate/);
    await chosen.next();
    chosen.ws.send('x'.repeat(10_000));
    t.is((await chosen.next()).data.toString(), 'x'.repeat(10_000));
    chosen.ws.close();
    // the server chose none of these: the `ws` client refuses such an answer
    const unknown = await t.throwsAsync(wsClient(`${base}/echo/1?token=ok`, ['other']));
    t.is(unknown?.message, 'Server sent no subprotocol');
    const none = await wsClient(`${base}/echo/1?token=ok`);
    t.is(none.ws.protocol, '');
    t.is(none.ws.extensions, '');
    none.ws.close();
    await Promise.all([chosen.closed, none.closed]);
  });

  test(`${name} over HTTP/1.1: close codes both ways`, async (t) => {
    const s = await serve();
    const base = h1(t, s);
    const a = await wsClient(`${base}/echo/1?token=ok`);
    await a.next();
    a.ws.send('close-me');
    t.deepEqual(await a.closed, { code: 4001, reason: 'asked' });
    const b = await wsClient(`${base}/echo/2?token=ok`);
    await b.next();
    b.ws.close(4002, 'bye');
    await b.closed;
    await until(() => s.closes.length === 2, 5000, 'both closes seen by the app');
    t.deepEqual([...s.closes].sort(), ['4001 asked', '4002 bye']);
  });

  test(`${name} over HTTP/1.1: plain routes beside the WebSocket ones`, async (t) => {
    const s = await serve();
    h1(t, s);
    const res = await fetch(`http://127.0.0.1:${s.port}/plain/5?token=ok`);
    t.is(res.status, 200);
    t.deepEqual(await res.json(), { id: '5', user: 'alice', http: '1.1' });
    const refused = await fetch(`http://127.0.0.1:${s.port}/plain/5`);
    t.is(refused.status, 401);
    // a plain GET on the WebSocket route is not an upgrade
    const plainOnWs = await fetch(`http://127.0.0.1:${s.port}/echo/5?token=ok`);
    t.true(plainOnWs.status >= 400, `status ${plainOnWs.status}`);
    t.is(s.opened(), 0);
  });

  const h2 = async (t: ExecutionContext) => {
    const s = await serve({ key: certs.key, cert: certs.cert });
    t.teardown(() => s.close());
    return { s, base: `wss://localhost:${s.port}` };
  };

  test(`${name} over HTTP/2: echo, route params, query and what the hook put on the request`, async (t) => {
    const { s, base } = await h2(t);
    const peer = await h2Peer(`${base}/echo/7?token=ok&x=2`, certs.ca);
    t.is(peer.session.http, '2');
    t.is(await peer.next(), 'hello id=7 user=alice x=2 http=2');
    peer.session.send('over h2');
    t.is(await peer.next(), 'over h2');
    peer.session.send(new Uint8Array([9, 8, 7]));
    const bin = await peer.next();
    t.true(Buffer.isBuffer(bin));
    t.deepEqual([...(bin as Buffer)], [9, 8, 7]);
    peer.session.close(1000);
    await peer.closed;
    t.is(s.opened(), 1);
  });

  test(`${name} over HTTP/2: a raw extended CONNECT (node's http2 client)`, async (t) => {
    const { s, base } = await h2(t);
    const session = await rawSession(base.replace('wss:', 'https:'), { ca: certs.ca });
    t.teardown(() => session.close());
    t.true(session.remoteSettings.enableConnectProtocol === true);
    const ws = await rawConnect(session, '/echo/3?token=ok', { 'sec-websocket-protocol': 'chat' });
    t.is(ws.status, 200);
    t.is(ws.headers['sec-websocket-protocol'], 'chat');
    const hello = await ws.reader.frame(0);
    t.deepEqual(
      [hello.opcode, hello.payload.toString()],
      [OP.text, 'hello id=3 user=alice x= http=2'],
    );
    ws.stream.write(clientFrame(OP.text, 'raw'));
    const echo = await ws.reader.frame(1);
    t.deepEqual([echo.opcode, echo.payload.toString()], [OP.text, 'raw']);
    const refused = await rawConnect(session, '/echo/3');
    t.is(refused.status, 401);
    t.is(refused.headers['www-authenticate'], 'Bearer');
    ws.stream.write(clientFrame(OP.text, 'close-me'));
    const close = await ws.reader.frame(2);
    t.deepEqual([close.opcode, close.payload.readUInt16BE(0)], [OP.close, 4001]);
    ws.stream.end(clientFrame(OP.close, close.payload));
    await ws.ended;
    await until(() => s.closes.length === 1, 5000, 'the close seen by the app');
    t.deepEqual(s.closes, ['4001 asked']);
    t.is(s.opened(), 1);
  });

  test(`${name} over HTTP/2: a hook refusing with 401 refuses the upgrade; nothing opens`, async (t) => {
    const { s, base } = await h2(t);
    const err = await t.throwsAsync(h2Peer(`${base}/echo/7`, certs.ca));
    const e = err as Error & {
      code?: string;
      response?: { status: number; headers: Record<string, string> };
    };
    t.is(e.code, 'WS_ERR_HANDSHAKE_STATUS');
    t.is(e.response?.status, 401);
    t.is(e.response?.headers['www-authenticate'], 'Bearer');
    const missing = (await t.throwsAsync(h2Peer(`${base}/nowhere?token=ok`, certs.ca))) as Error & {
      response?: { status: number };
    };
    t.is(missing.response?.status, 404);
    t.is(s.opened(), 0);
    const peer = await h2Peer(`${base}/echo/8`, certs.ca, {
      headers: { authorization: 'Bearer ok' },
    });
    t.is(await peer.next(), 'hello id=8 user=alice x= http=2');
    peer.session.close();
    await peer.closed;
    t.is(s.opened(), 1);
  });

  test(`${name} over HTTP/2: subprotocol choice and permessage-deflate`, async (t) => {
    const { base } = await h2(t);
    const chosen = await h2Peer(`${base}/echo/1?token=ok`, certs.ca, {
      subprotocols: ['other', 'chat'],
      deflate: true,
    });
    t.is(chosen.session.subprotocol, 'chat');
    t.regex(chosen.session.extensions, /^permessage-deflate/);
    await chosen.next();
    chosen.session.send('y'.repeat(10_000));
    t.is(await chosen.next(), 'y'.repeat(10_000));
    chosen.session.close();
    const none = await h2Peer(`${base}/echo/1?token=ok`, certs.ca, { subprotocols: ['other'] });
    t.is(none.session.subprotocol, undefined);
    t.is(none.session.extensions, '');
    none.session.close();
    await Promise.all([chosen.closed, none.closed]);
  });

  test(`${name} over HTTP/2: close codes both ways`, async (t) => {
    const { s, base } = await h2(t);
    const a = await h2Peer(`${base}/echo/1?token=ok`, certs.ca);
    await a.next();
    a.session.send('close-me');
    t.deepEqual(await a.closed, { code: 4001, reason: 'asked' });
    const b = await h2Peer(`${base}/echo/2?token=ok`, certs.ca);
    await b.next();
    b.session.close(4002, 'bye');
    await b.closed;
    await until(() => s.closes.length === 2, 5000, 'both closes seen by the app');
    t.deepEqual([...s.closes].sort(), ['4001 asked', '4002 bye']);
  });

  test(`${name} over HTTP/2: plain routes beside the WebSocket ones, and HTTP/1.1 on the same port`, async (t) => {
    const { s, base } = await h2(t);
    const origin = base.replace('wss:', 'https:');
    const session = await rawSession(origin, { ca: certs.ca });
    t.teardown(() => session.close());
    const ok2 = await plainH2(session, '/plain/6?token=ok');
    t.is(ok2.status, 200);
    t.deepEqual(JSON.parse(ok2.body), { id: '6', user: 'alice', http: '2' });
    t.is((await plainH2(session, '/plain/6')).status, 401);
    // HTTP/1.1 on the same TLS port (allowHTTP1): plain and WebSocket
    const h1peer = await wsClient(`${base}/echo/4?token=ok`, [], { ca: certs.ca });
    t.is((await h1peer.next()).data.toString(), 'hello id=4 user=alice x= http=1.1');
    h1peer.ws.close();
    await h1peer.closed;
    t.is(s.opened(), 1);
  });
}
