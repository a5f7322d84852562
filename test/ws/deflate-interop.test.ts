// permessage-deflate against independent implementations, both ways: Node's `ws`
// (with and without context takeover) and Debian's python3-websockets (deflate on
// by default, 12-bit windows on its server); then the same echo over HTTP/1.1 and
// HTTP/2 between our own client and server.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { connect } from '../../src/client/connect.js';
import { ensureCerts } from '../../src/dev/certs.js';
import { connectH1 } from '../../src/h1/client.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import type { WebSocketRoute } from '../../src/server/handler.js';
import { DEFLATE_LEAN, type DeflateOptions } from '../../src/ws/deflate.js';
import { type Handler, type Message, ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { wsClient, wsServer } from '../helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PYTHON = '/usr/bin/python3';
const ECHO_PY = join(root, 'interop', 'python', 'echo.py');

test.after.always(() => closeH2Sessions());

const MESSAGES: (string | Buffer)[] = [
  'Hello',
  'Hello',
  'héllo ✓ '.repeat(500),
  Buffer.alloc(300_000),
  randomBytes(64 * 1024),
  '',
  Buffer.alloc(0),
  'x'.repeat(5000),
];

function same(a: string | Buffer, b: Message | { data: Buffer; binary: boolean }): boolean {
  if ('type' in b) {
    return typeof a === 'string'
      ? b.type === 'text' && b.data === a
      : b.type === 'binary' && a.equals(b.data);
  }
  return typeof a === 'string'
    ? !b.binary && b.data.toString() === a
    : b.binary && a.equals(b.data);
}

/** Our echo route; records the negotiated extensions of each session. */
function echoRoute(seen: string[], deflate: boolean | DeflateOptions): WebSocketRoute<null> {
  return {
    state: null,
    perMessageDeflate: deflate,
    fragmentSize: 16 * 1024,
    handler: {
      init(req, s) {
        seen.push(req.extensions);
        return ok(s);
      },
      handleIn: (m, s) => reply(s, m.data),
    },
  };
}

/** A handler for our client that queues what arrives. */
function inbox(): { handler: Handler<null>; next(): Promise<Message> } {
  const got: Message[] = [];
  const waiters: ((m: Message) => void)[] = [];
  return {
    handler: {
      handleIn(m, s) {
        const w = waiters.shift();
        if (w) w(m);
        else got.push(m);
        return ok(s);
      },
    },
    next() {
      const m = got.shift();
      return m ? Promise.resolve(m) : new Promise((r) => waiters.push(r));
    },
  };
}

async function echoThrough(
  t: ExecutionContext,
  session: Session<null>,
  next: () => Promise<Message>,
): Promise<void> {
  for (const [i, m] of MESSAGES.entries()) {
    session.send(m);
    t.true(same(m, await next()), `message ${i}`);
  }
}

// ── ws ───────────────────────────────────────────────────────────────────────

const WS_VARIANTS: [string, DeflateOptions, { [k: string]: unknown }, RegExp][] = [
  [
    'context takeover',
    { threshold: 0 },
    { threshold: 0 },
    /^permessage-deflate(; client_max_window_bits=15)?$/,
  ],
  [
    'no context takeover',
    { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    /server_no_context_takeover; client_no_context_takeover/,
  ],
];

for (const [name, ours, theirs, expect] of WS_VARIANTS) {
  test(`ws client → our h1 server, ${name}`, async (t) => {
    const seen: string[] = [];
    const srv = await listen({ routes: { '/ws': echoRoute(seen, ours) } });
    const peer = await wsClient(`${srv.url}/ws`, undefined, { perMessageDeflate: theirs });
    t.regex(peer.ws.extensions, /permessage-deflate/);
    t.regex(seen[0] ?? '', expect);
    for (const [i, m] of MESSAGES.entries()) {
      peer.ws.send(m);
      t.true(same(m, await peer.next()), `message ${i}`);
    }
    // the wire carries compressed bytes: 1 MiB of zeros comes back in a few KiB
    const socket = (peer.ws as unknown as { _socket: { bytesRead: number } })._socket;
    const before = socket.bytesRead;
    peer.ws.send(Buffer.alloc(1024 * 1024));
    t.is((await peer.next()).data.length, 1024 * 1024);
    t.true(socket.bytesRead - before < 8 * 1024, `${socket.bytesRead - before} bytes read`);
    // a compressed message that ws sends in fragments
    peer.ws.send('abc'.repeat(1000), { fin: false, compress: true });
    peer.ws.send('def'.repeat(1000), { fin: true, compress: true });
    t.is((await peer.next()).data.toString(), 'abc'.repeat(1000) + 'def'.repeat(1000));
    // control frames are never compressed: ws would fail the connection otherwise
    const pong = new Promise<Buffer>((r) => peer.ws.once('pong', r));
    peer.ws.ping('still here');
    t.is((await pong).toString(), 'still here');
    peer.ws.close(1000);
    t.is((await peer.closed).code, 1000);
    await srv.close();
  });

  test(`our h1 client → ws server, ${name}`, async (t) => {
    const srv = await wsServer({ perMessageDeflate: theirs });
    srv.wss.on('connection', (ws) => {
      ws.on('message', (data, binary) => ws.send(data, { binary }));
    });
    const box = inbox();
    const session = await connectH1(srv.url, {
      handler: box.handler,
      state: null,
      perMessageDeflate: ours,
      fragmentSize: 16 * 1024,
    });
    t.regex(session.extensions, /permessage-deflate/);
    await echoThrough(t, session, box.next);
    session.close();
    t.is((await session.closed).code, 1000);
    await srv.close();
  });
}

test('ws client → our h1 server that hibernates after every reply (context takeover kept)', async (t) => {
  const srv = await listen({
    perMessageDeflate: { threshold: 0 },
    routes: {
      '/ws': {
        state: null,
        handler: { handleIn: (m, s) => reply(s, m.data, { hibernate: true }) },
      },
    },
  });
  const peer = await wsClient(`${srv.url}/ws`, undefined, { perMessageDeflate: { threshold: 0 } });
  // similar messages: ws's compressor refers back to earlier ones across our hibernation
  for (let i = 0; i < 30; i++) {
    const m = `{"event":"tick","n":${i},"payload":"${'abc'.repeat(i)}"}`;
    peer.ws.send(m);
    t.is((await peer.next()).data.toString(), m);
  }
  for (const m of MESSAGES) {
    peer.ws.send(m);
    t.true(same(m, await peer.next()));
  }
  peer.ws.close(1000);
  t.is((await peer.closed).code, 1000);
  await srv.close();
});

test('our h1 client → ws server, lean preset (12-bit windows both ways)', async (t) => {
  const srv = await wsServer({ perMessageDeflate: { threshold: 0 } });
  srv.wss.on('connection', (ws) => {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  const box = inbox();
  const session = await connectH1(srv.url, {
    handler: box.handler,
    state: null,
    perMessageDeflate: { ...DEFLATE_LEAN, threshold: 0 },
  });
  t.regex(session.extensions, /server_max_window_bits=12/);
  t.regex(session.extensions, /client_max_window_bits=12/);
  await echoThrough(t, session, box.next);
  session.close();
  await session.closed;
  await srv.close();
});

// ── python-websockets ────────────────────────────────────────────────────────

function requirePython(t: ExecutionContext): boolean {
  const r = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return true;
  t.fail(
    `${PYTHON} cannot import websockets (${(r.stderr || r.error?.message || '').trim()}): ` +
      'install Debian\'s python3-websockets ("apt-get install python3-websockets"; ' +
      'scripts/test-deps.mjs does it before `npm test`)',
  );
  return false;
}

/** Run echo.py; resolves with its first JSON line. */
function runPython(args: string[], ms = 30_000): { child: ChildProcess; line: Promise<any> } {
  const child = spawn(PYTHON, [ECHO_PY, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const line = new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`echo.py ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, ms);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(l));
      } catch {
        reject(new Error(`echo.py printed ${l}; stderr: ${stderr}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`echo.py exited ${code}; stderr: ${stderr}`));
    });
  });
  return { child, line };
}

const PY_VARIANTS: [string, string[], boolean | DeflateOptions, RegExp][] = [
  ['default', [], true, /^permessage-deflate$/],
  [
    'lean server',
    [],
    DEFLATE_LEAN,
    /^permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12$/,
  ],
  [
    'no context takeover',
    ['--no-context'],
    true,
    /^permessage-deflate; server_no_context_takeover; client_no_context_takeover$/,
  ],
];

for (const [name, args, ours, expect] of PY_VARIANTS) {
  test(`python-websockets client → our h1 server, ${name}`, async (t) => {
    if (!requirePython(t)) return;
    const seen: string[] = [];
    const srv = await listen({ routes: { '/ws': echoRoute(seen, ours) } });
    const py = runPython(['client', `${srv.url}/ws`, ...args]);
    const result = await py.line;
    t.true(result.ok, JSON.stringify(result));
    t.regex(result.extensions ?? '', expect);
    t.regex(seen[0] ?? '', expect);
    t.is(result.close_code, 1000);
    await srv.close();
  });
}

for (const [name, args] of [
  ['default (12-bit windows)', []],
  ['no context takeover', ['--no-context']],
] as [string, string[]][]) {
  test(`our h1 client → python-websockets server, ${name}`, async (t) => {
    if (!requirePython(t)) return;
    const py = runPython(['server', ...args]);
    try {
      const { port } = await py.line;
      const box = inbox();
      const session = await connectH1(`ws://127.0.0.1:${port}/`, {
        handler: box.handler,
        state: null,
        perMessageDeflate: { threshold: 0 },
      });
      t.regex(session.extensions, /^permessage-deflate/);
      if (args.length === 0) t.regex(session.extensions, /server_max_window_bits=12/);
      else t.regex(session.extensions, /server_no_context_takeover/);
      await echoThrough(t, session, box.next);
      session.close();
      t.is((await session.closed).code, 1000);
    } finally {
      py.child.stdin?.end();
      py.child.kill();
    }
  });
}

// ── the same echo over every HTTP version we have ────────────────────────────

test('our client ↔ our server with permessage-deflate over HTTP/1.1', async (t) => {
  const seen: string[] = [];
  const srv = await listen({ routes: { '/ws': echoRoute(seen, { threshold: 0 }) } });
  const box = inbox();
  const session = await connectH1(`${srv.url}/ws`, {
    handler: box.handler,
    state: null,
    perMessageDeflate: { threshold: 0 },
  });
  t.is(session.http, '1.1');
  t.is(session.extensions, 'permessage-deflate');
  await echoThrough(t, session, box.next);
  session.close();
  await session.closed;
  await srv.close();
});

test('our client ↔ our server with permessage-deflate over HTTP/2 (h2c)', async (t) => {
  const seen: string[] = [];
  const srv = await listenH2({ routes: { '/ws': echoRoute(seen, { threshold: 0 }) } });
  const box = inbox();
  const session = await connect(`${srv.url}/ws`, {
    http: 2,
    handler: box.handler,
    state: null,
    perMessageDeflate: { threshold: 0 },
  });
  t.is(session.http, '2');
  t.is(session.extensions, 'permessage-deflate');
  t.is(seen[0], 'permessage-deflate');
  await echoThrough(t, session, box.next);
  session.close();
  await session.closed;
  await srv.close();
});

test('our client ↔ our server with permessage-deflate over HTTP/3', async (t) => {
  const certs = await ensureCerts(await mkdtemp(join(tmpdir(), 'omniws-deflate-h3-')));
  const seen: string[] = [];
  const srv = await listenH3({
    cert: readFileSync(certs.cert),
    key: readFileSync(certs.key),
    routes: { '/ws': echoRoute(seen, { threshold: 0 }) },
  });
  t.teardown(() => srv.close());
  const box = inbox();
  const session = await connect(`wss://localhost:${srv.port}/ws`, {
    http: 3,
    tls: { ca: readFileSync(certs.ca) },
    handler: box.handler,
    state: null,
    perMessageDeflate: { threshold: 0 },
  });
  t.is(session.http, '3');
  t.is(session.extensions, 'permessage-deflate');
  t.is(seen[0], 'permessage-deflate');
  await echoThrough(t, session, box.next);
  session.close();
  await session.closed;
});
