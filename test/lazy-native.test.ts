// `import 'omniws'` loads no native code: quiche's binding (@matrixai/quic) is loaded
// only when HTTP/3 is used. A child process runs with a resolve hook that makes the
// binding unloadable (as on a platform without its prebuilt binary): the root,
// omniws/protocol and omniws/dev import; HTTP/1.1 and HTTP/2 serve and connect; HTTP/3
// fails with WS_ERR_HTTP3_UNAVAILABLE, and omniws/h3 does not import.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'dist', 'lazy-native');
const run = promisify(execFile);

const HOOKS = `
export async function resolve(specifier, context, next) {
  if (specifier.includes('@matrixai/quic')) {
    throw new Error('test: the QUIC binding is unloadable here (' + specifier + ')');
  }
  return next(specifier, context);
}
`;

const REGISTER = `
import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
`;

// What the child does; it prints one JSON object.
const SCRIPT = `
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const out = {};
const omniws = await import('omniws');
out.root = typeof omniws.serve;
out.protocol = typeof (await import('omniws/protocol')).Protocol;
const dev = await import('omniws/dev');
out.dev = typeof dev.ensureCerts;
const { buffered, connect, ok, reply, serve, stop, websocket } = omniws;
const echo = { handleIn: (m, s) => reply(s, m.data) };
const handle = (req) => (req.upgrade ? websocket(echo, null) : buffered(200, {}, 'plain'));
const certs = await dev.ensureCerts(mkdtempSync(join(tmpdir(), 'omniws-lazy-')));
const tls = { cert: readFileSync(certs.cert), key: readFileSync(certs.key) };
const ca = readFileSync(certs.ca);
const roundTrip = async (url, opts) => {
  const got = [];
  const s = await connect(url, {
    ...opts,
    state: null,
    handler: { handleIn: (m, st) => (got.push(String(m.data)), stop(st, 1000)) },
  });
  s.send('ping');
  await s.closed;
  return got.join();
};
const h1 = await serve({ handle });
out.h1 = await roundTrip(h1.url + '/ws', { http: 1 });
await h1.close();
const h12 = await serve({ handle, tls, http: [1, 2] });
out.h2 = await roundTrip(h12.url.replace('127.0.0.1', 'localhost') + '/ws', { http: 2, tls: { ca } });
out.versions = h12.versions;
await h12.close();
const code = (p) => p.then(() => 'opened', (e) => e.code ?? String(e));
out.serveH3 = await code(serve({ handle, tls, http: [1, 2, 3] }));
out.connectH3 = await code(connect('wss://localhost:1/ws', { http: 3, state: null, handler: echo }));
out.subpathH3 = await code(import('omniws/h3'));
omniws.closeH2Sessions();
console.log(JSON.stringify(out));
`;

test('import "omniws" loads no native code; HTTP/3 fails clearly where the binding does not load', async (t) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  writeFileSync(join(dir, 'register.mjs'), REGISTER);
  writeFileSync(join(dir, 'script.mjs'), SCRIPT);
  const { stdout } = await run(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), join(dir, 'script.mjs')],
    { cwd: root, timeout: 30_000 },
  );
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  t.deepEqual(out, {
    root: 'function',
    protocol: 'function',
    dev: 'function',
    h1: 'ping',
    h2: 'ping',
    versions: ['2', '1.1'],
    serveH3: 'WS_ERR_HTTP3_UNAVAILABLE',
    connectH3: 'WS_ERR_HTTP3_UNAVAILABLE',
    // the subpath imports the binding statically: its own error, as the platform gives it
    subpathH3: 'Error: test: the QUIC binding is unloadable here (@matrixai/quic/native/index.js)',
  });
});

test('without the hook, the same child serves HTTP/3 (the hook is what made it fail)', async (t) => {
  mkdirSync(dir, { recursive: true });
  const script = `
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const { serve, websocket, buffered, reply } = await import('omniws');
const { ensureCerts } = await import('omniws/dev');
const certs = await ensureCerts(mkdtempSync(join(tmpdir(), 'omniws-lazy-')));
const tls = { cert: readFileSync(certs.cert), key: readFileSync(certs.key) };
const s = await serve({ tls, handle: (r) => r.upgrade ? websocket({ handleIn: (m, st) => reply(st, m.data) }, null) : buffered(200, {}, 'x') });
console.log(JSON.stringify(s.versions));
await s.close();
`;
  writeFileSync(join(dir, 'with-binding.mjs'), script);
  const { stdout } = await run(process.execPath, [join(dir, 'with-binding.mjs')], {
    cwd: root,
    timeout: 30_000,
  });
  t.deepEqual(JSON.parse(stdout.trim()), ['2', '1.1', '3']);
});
