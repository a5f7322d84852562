// The peer table of docs/conformance.md, from one run: starts every peer itself on
// loopback (omniws's interop server, a `ws` echo server, Debian's python websockets,
// Hypercorn, and haproxy and nghttpx before omniws's HTTP/1.1 port), runs
// `omniws conformance server --quick` against each (three at a time: most of a run is
// waiting), writes each report under OUT (default $TMPDIR/omniws-conformance-peers) and prints the
// table (scripts/conformance-table.mjs). Then the browsers: `omniws conformance client`'s
// fuzzing server and its page, in Chromium over HTTP/1.1, HTTP/2 and HTTP/3 and in
// Firefox over HTTP/1.1 and HTTP/2 (every group but 9; 12 and 13 by their first
// subgroup). Needs `npm run build` and test-deps' packages.
//   node scripts/conformance-peers.mjs [OUT] [--no-servers] [--no-browsers]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const argv = process.argv.slice(2);
const out = resolve(
  argv.find((a) => !a.startsWith('--')) ?? join(tmpdir(), 'omniws-conformance-peers'),
);
const servers = !argv.includes('--no-servers');
const browsers = !argv.includes('--no-browsers');
const { serveInterop } = await import(join(root, 'dist/src/dev/interop.js'));
const peers = await import(join(root, 'dist/test/peer-servers.js'));
const { makeCerts, removeCerts } = await import(join(root, 'dist/test/certs.js'));

const stops = [];
const certs = await makeCerts('conformance-peers');
stops.push(() => removeCerts(certs));
const ca = join(certs.dir, 'ca.pem');

// omniws: the interop server, TLS (h1, h2, h3) and plain (for the proxies)
const served = await serveInterop({ port: 0, tlsPort: 0, certsDir: join(certs.dir, 'omniws') });
stops.push(() => served.close());
const tlsPort = served.endpoints.find((e) => e.secure).port;
const plainPort = served.endpoints.find((e) => !e.secure).port;
const omniwsCa = served.certs.ca;

// ws, with permessage-deflate as its users turn it on
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
await once(wss, 'listening');
wss.on('connection', (ws) => {
  ws.on('message', (d, binary) => ws.send(d, { binary }));
  ws.on('error', () => {});
});
stops.push(() => new Promise((r) => wss.close(r)));

// python websockets (interop/python/echo.py prints {"port": N})
const py = spawn('/usr/bin/python3', [join(root, 'interop/python/echo.py'), 'server'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const pyPort = await new Promise((res, rej) => {
  py.stdout.once('data', (d) => res(JSON.parse(String(d).split('\n')[0]).port));
  py.once('exit', (c) => rej(new Error(`echo.py exited ${c}`)));
});
stops.push(() => py.stdin.end());

const hypercorn = await peers.startHypercorn(certs);
const haproxy = await peers.startHaproxy(certs, plainPort);
const nghttpx = await peers.startNghttpx(certs, plainPort);
stops.push(
  () => hypercorn.stop(),
  () => haproxy.stop(),
  () => nghttpx.stop(),
);

const runs = [
  ['omniws', 'omniws-h1', `wss://localhost:${tlsPort}/echo`, 1, omniwsCa],
  ['omniws', 'omniws-h2', `wss://localhost:${tlsPort}/echo`, 2, omniwsCa],
  ['omniws', 'omniws-h3', `wss://localhost:${tlsPort}/echo`, 3, omniwsCa],
  ['ws 8', 'ws-h1', `ws://127.0.0.1:${wss.address().port}/`, 1],
  ['python websockets 10.4', 'python-websockets-h1', `ws://127.0.0.1:${pyPort}/`, 1],
  ['Hypercorn 0.13.2', 'hypercorn-h1', `wss://localhost:${hypercorn.port}/`, 1, ca],
  ['Hypercorn 0.13.2', 'hypercorn-h2', `wss://localhost:${hypercorn.port}/`, 2, ca],
  ['haproxy 2.6 → omniws h1', 'haproxy-h2', `wss://localhost:${haproxy.port}/echo`, 2, ca],
  ['nghttpx 1.52 → omniws h1', 'nghttpx-h2', `wss://localhost:${nghttpx.port}/echo`, 2, ca],
];

function run([name, dir, url, http, caFile]) {
  const args = [
    join(root, 'bin/omniws.js'),
    'conformance',
    'server',
    url,
    '--http',
    String(http),
    '--quick',
    '--report',
    join(out, dir),
  ];
  if (caFile) args.push('--ca', caFile);
  return new Promise((res) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    p.stdout.on('data', (d) => {
      text += d;
    });
    p.once('exit', () => {
      console.error(
        `${name} over HTTP/${http === 1 ? '1.1' : http}: ${text.trim().split('\n').at(-1)}`,
      );
      res();
    });
  });
}

async function browserRuns() {
  const { startFuzzingServer } = await import(join(root, 'dist/src/conformance/fuzzing-server.js'));
  const { selectCases } = await import(join(root, 'dist/src/conformance/suite.js'));
  const { writeReport } = await import(join(root, 'dist/src/conformance/report.js'));
  const b = await import(join(root, 'dist/test/interop/browser.js'));
  const cases = selectCases({
    role: 'client',
    cases: '1.*,2.*,3.*,4.*,5.*,6.*,7.*,10.*,12.1.*,13.1.*',
    foreign: true,
    group9Scale: 4,
    deflateCount: 5,
  });
  const fz = await startFuzzingServer({
    port: 0,
    tlsPort: 0,
    cert: certs.cert,
    key: certs.key,
    cases,
    tool: 'omniws conformance',
  });
  const plain = `http://localhost:${fz.port}/`;
  const secure = `https://localhost:${fz.tlsPort}/`;
  const spki = `--ignore-certificate-errors-spki-list=${certs.spki}`;
  const done = [];
  const chromium = async (flags, origin, key) => {
    const browser = await b.launchChromium([spki, ...flags]);
    try {
      const page = await browser.newPage();
      await page.goto(origin);
      await page.waitForFunction('window.conformance && window.conformance.done', undefined, {
        timeout: 1_800_000,
      });
    } finally {
      await browser.close();
    }
    done.push(key);
  };
  const firefox = async (origin, key) => {
    const profile = await b.firefoxProfile(ca);
    const p = spawn(b.FIREFOX, ['--headless', '--no-remote', '--profile', profile, origin], {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, MOZ_HEADLESS: '1' },
    });
    const deadline = Date.now() + 1_800_000;
    while ((fz.result(key)?.cases.length ?? 0) < cases.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
    done.push(key);
  };
  await Promise.all([
    (async () => {
      await chromium([], plain, 'chromium@h1');
      await chromium([], secure, 'chromium@h2');
      await chromium(
        [
          '--enable-quic',
          `--origin-to-force-quic-on=localhost:${fz.tlsPort}`,
          '--enable-features=EnableWebsocketsOverHttp3',
        ],
        secure,
        'chromium@h3',
      );
    })(),
    (async () => {
      await firefox(plain, 'firefox@h1');
      await firefox(secure, 'firefox@h2');
    })(),
  ]);
  const rows = [];
  for (const key of done) {
    const r = fz.result(key);
    if (!r) continue;
    const dir = join(out, key.replace('@', '-'));
    await writeReport(dir, r);
    const [agent] = key.split('@');
    console.error(
      `${key}: ${Object.entries(r.summary)
        .map(([v, n]) => `${n} ${v}`)
        .join(', ')}`,
    );
    rows.push([agent === 'chromium' ? 'Chromium (Debian)' : 'Firefox ESR (Debian)', dir]);
  }
  await fz.close();
  return rows;
}

try {
  const rows = [];
  if (servers) {
    const queue = [...runs];
    await Promise.all(
      [0, 1, 2].map(async () => {
        for (let r = queue.shift(); r; r = queue.shift()) await run(r);
      }),
    );
    rows.push(...runs.map(([n, d]) => [n, join(out, d)]));
  }
  if (browsers) rows.push(...(await browserRuns()));
  const table = spawn(
    process.execPath,
    [join(root, 'scripts/conformance-table.mjs'), ...rows.map(([n, d]) => `${n}=${d}`)],
    { stdio: 'inherit' },
  );
  await once(table, 'exit');
} finally {
  for (const stop of stops.reverse()) await stop();
}
