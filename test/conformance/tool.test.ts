// `omniws conformance` as a user runs it: the real command, pointed at servers in this
// process (omniws's interop server over h1/h2/h3, a `ws` server) and at Hypercorn, and
// its client mode run by the omniws client (--reference) and by Chromium through the
// page. The reports it writes are read back; the exit status says whether anything FAILED.

import { type ChildProcess, spawn, spawn as spawnChild } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { WebSocketServer } from 'ws';
import { startFuzzingServer } from '../../src/conformance/fuzzing-server.js';
import type { SuiteResult } from '../../src/conformance/suite.js';
import { selectCases } from '../../src/conformance/suite.js';
import { serveInterop } from '../../src/dev/interop.js';
import { makeCerts, removeCerts } from '../certs.js';
import {
  chromiumMissing,
  FIREFOX,
  firefoxMissing,
  firefoxProfile,
  launchChromium,
} from '../interop/browser.js';
import { peerMissing, startHypercorn } from '../peer-servers.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'omniws.js');

function omniws(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.once('exit', (code) => resolve({ code, out, err }));
  });
}

async function report(dir: string): Promise<SuiteResult> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as SuiteResult;
}

const SUBSET = '1.1.*,2.*,3.1,4.1.1,5.1,5.6,6.2.1,7.1.*,7.9.1,9.1.1,10.1.1,12.1.1,13.2.1,20.*,21.*';

test.serial(
  'conformance server against omniws over HTTP/1.1, HTTP/2 and HTTP/3: nothing FAILED, exit 0, a report',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'omniws-conf-'));
    const served = await serveInterop({ port: null, tlsPort: 0, certsDir: join(dir, 'certs') });
    try {
      const port = served.endpoints[0]!.port;
      for (const http of ['1', '2', '3']) {
        const out = join(dir, `h${http}`);
        const r = await omniws([
          'conformance',
          'server',
          `wss://localhost:${port}/echo`,
          '--http',
          http,
          '--ca',
          served.certs!.ca,
          '--quick',
          '--cases',
          SUBSET,
          '--report',
          out,
        ]);
        t.is(r.code, 0, `h${http}: ${r.out}${r.err}`);
        const rep = await report(out);
        t.is(rep.http, http === '1' ? '1.1' : http);
        // omniws's own 10.1.1 (its fragmentSize) is never run against a foreign server;
        // Autobahn's 10.1.1 is
        t.is(rep.cases.filter((c) => c.id === '10.1.1').length, 1);
        // groups 20 and 21 exist over h2 and h3 only
        t.is(
          rep.cases.some((c) => c.id.startsWith('20.')),
          http !== '1',
        );
        for (const c of rep.cases)
          t.true(
            ['OK', 'INFORMATIONAL'].includes(c.verdict),
            `h${http} ${c.id}: ${c.verdict} ${c.violations.join('; ')}`,
          );
        // a deflate case ran compressed: the interop server agrees permessage-deflate
        t.is(rep.cases.find((c) => c.id === '12.1.1')?.verdict, 'OK');
        const html = await readFile(join(out, 'index.html'), 'utf8');
        t.regex(html, /<td><a href="#case-2\.1">2\.1<\/a><\/td>/);
        t.regex(r.out, /cases: \d+ OK/);
      }
    } finally {
      await served.close();
    }
  },
);

test.serial(
  'conformance server against ws (h1): NON-STRICT on the fail-fast UTF-8 cases, exit 0',
  async (t) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data, binary) => ws.send(data, { binary }));
      ws.on('error', () => {});
    });
    const dir = await mkdtemp(join(tmpdir(), 'omniws-conf-ws-'));
    try {
      const port = (wss.address() as AddressInfo).port;
      const r = await omniws([
        'conformance',
        'server',
        `ws://127.0.0.1:${port}/`,
        '--cases',
        '6.4.*,12.1.1',
        '--quick',
        '--report',
        dir,
      ]);
      t.is(r.code, 0, r.out + r.err);
      const rep = await report(dir);
      t.deepEqual(
        rep.cases.map((c) => [c.id, c.verdict]),
        [
          ['6.4.1', 'NON-STRICT'],
          ['6.4.2', 'NON-STRICT'],
          ['6.4.3', 'NON-STRICT'],
          ['6.4.4', 'NON-STRICT'],
          // deflate off: the offer is declined
          ['12.1.1', 'UNIMPLEMENTED'],
        ],
      );
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
    }
  },
);

test.serial(
  'conformance server against Hypercorn (h2): FAILED cases name their RFC section, exit 1',
  async (t) => {
    const missing = peerMissing('hypercorn');
    if (missing) {
      t.fail(missing);
      return;
    }
    const certs = await makeCerts('conf-hypercorn');
    const hc = await startHypercorn(certs);
    try {
      const dir = join(certs.dir, 'report');
      const ca = join(certs.dir, 'ca.pem');
      const r = await omniws([
        'conformance',
        'server',
        `wss://localhost:${hc.port}/`,
        '--http',
        '2',
        '--ca',
        ca,
        '--cases',
        '1.1.1,20.1,20.3',
        '--report',
        dir,
      ]);
      t.is(r.code, 1, r.out + r.err);
      const rep = await report(dir);
      const byId = new Map(rep.cases.map((c) => [c.id, c]));
      t.is(byId.get('20.1')?.verdict, 'OK');
      // Hypercorn 0.13 accepts any :protocol as a WebSocket
      t.is(byId.get('20.3')?.verdict, 'FAILED');
      t.true(byId.get('20.3')!.rfc.includes('RFC 8441 §4'));
      t.regex(byId.get('20.3')!.events.join(' '), /:status 200/);
      t.regex(r.err, /20\.3 FAILED/);
    } finally {
      await hc.stop();
      await removeCerts(certs);
    }
  },
);

test.serial(
  'conformance client --reference: the omniws client over h1, h2 and h3, nothing FAILED',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'omniws-conf-client-'));
    const r = await omniws([
      'conformance',
      'client',
      '--port',
      '0',
      '--reference',
      '--quick',
      '--cases',
      '1.1.*,2.*,5.*,6.1.*,7.1.*,7.5.1,9.1.1,12.1.1,13.3.1',
      '--certs',
      join(dir, 'certs'),
      '--report',
      join(dir, 'r'),
    ]);
    t.is(r.code, 0, r.out + r.err);
    for (const v of ['h1', 'h2', 'h3']) {
      t.regex(r.out, new RegExp(`omniws@${v}: \\d+ cases: \\d+ OK`));
      const rep = await report(join(dir, 'r', `omniws@${v}`));
      t.true(rep.cases.length > 40);
      t.is(rep.summary.FAILED, undefined);
      t.is(rep.cases.find((c) => c.id === '13.3.1')?.verdict, 'OK');
    }
  },
);

test.serial(
  'conformance client: Chromium runs the page over ws:// (HTTP/1.1) and wss:// (HTTP/2)',
  async (t) => {
    const missing = chromiumMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const certs = await makeCerts('conf-chromium');
    const cases = selectCases({
      role: 'client',
      cases: '1.1.*,2.*,3.*,4.*,5.*,6.2.*,7.1.*,7.5.1,12.1.1',
      foreign: true,
      group9Scale: 4,
      deflateCount: 5,
    });
    const server = await startFuzzingServer({
      port: 0,
      tlsPort: 0,
      cert: certs.cert,
      key: certs.key,
      http3: false,
      cases,
      tool: 'test',
    });
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
    try {
      for (const [origin, http] of [
        [`http://localhost:${server.port}/`, 'h1'],
        [`https://localhost:${server.tlsPort}/`, 'h2'],
      ] as const) {
        const page = await browser.newPage();
        await page.goto(origin);
        await page.waitForFunction('window.conformance && window.conformance.done', undefined, {
          timeout: 60_000,
        });
        const rep = server.result(`chromium@${http}`);
        t.truthy(rep, `no results for chromium@${http}`);
        t.is(rep!.cases.length, cases.length);
        // 7.1.1 and 7.1.6 send a message and the close frame in one write: Chromium's
        // network stack may answer the close before the page's echo of that message is
        // sent, and then the echo never comes (docs/conformance.md); by timing they pass
        const race = new Set(['7.1.1', '7.1.6']);
        // the cases where the browser must fail the connection (1002, 1007…) are
        // Chromium's to pass or not: over HTTP/2 it drops the whole connection without a
        // close frame (docs/conformance.md). Every case that closes normally must pass.
        // Over HTTP/2 the close cases of group 7 are left to the report too: where Chromium
        // must fail the WebSocket it resets the stream (RST_STREAM CANCEL) without a close
        // frame, here too (frames after its close, a bad close reason).
        const peerCloses = new Set(
          cases
            .filter((c) => c.close.byPeer && (http === 'h1' || !c.id.startsWith('7.')))
            .map((c) => c.id),
        );
        t.is(
          rep!.cases.filter(
            (c) => c.verdict === 'FAILED' && c.violations.length === 0 && c.trace.length === 0,
          ).length,
          0,
        );
        const notOk = rep!.cases
          .filter((c) => peerCloses.has(c.id))
          .filter((c) => !['OK', 'NON-STRICT', 'INFORMATIONAL'].includes(c.verdict))
          .filter(
            (c) => !(race.has(c.id) && c.violations.length === 0 && c.implClose?.code === 1000),
          )
          .map((c) => `${c.id} ${c.verdict}: ${c.violations.join('; ')} | ${c.trace.join(' ')}`);
        t.deepEqual(notOk, [], `chromium@${http}`);
        // every case that was not OK says how its stream ended
        for (const c of rep!.cases) if (c.verdict !== 'OK') t.not(c.ending, '', c.id);
        // Chromium offers permessage-deflate; the case agreed it and passed compressed
        t.is(rep!.cases.find((c) => c.id === '12.1.1')?.verdict, 'OK');
        await page.close();
      }
    } finally {
      await browser.close();
      await server.close();
      await removeCerts(certs);
    }
  },
);

/** The cases the browser tests run: every group but 9 (sizes) and 13 (one per group). */
function browserCases() {
  return selectCases({
    role: 'client',
    cases: '1.*,2.*,3.*,4.*,5.*,6.2.*,6.4.*,7.1.*,7.5.1,7.9.*,10.*,12.1.1,12.2.3,13.1.1',
    foreign: true,
    group9Scale: 4,
    deflateCount: 5,
  });
}

test.serial('conformance client: Chromium runs the page over HTTP/3 (RFC 9220)', async (t) => {
  t.timeout(240_000);
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const certs = await makeCerts('conf-chromium-h3');
  const cases = browserCases();
  const server = await startFuzzingServer({
    port: 0,
    tlsPort: 0,
    cert: certs.cert,
    key: certs.key,
    cases,
    tool: 'test',
  });
  const browser = await launchChromium([
    `--ignore-certificate-errors-spki-list=${certs.spki}`,
    '--enable-quic',
    `--origin-to-force-quic-on=localhost:${server.tlsPort}`,
    '--enable-features=EnableWebsocketsOverHttp3',
  ]);
  try {
    const page = await browser.newPage();
    await page.goto(`https://localhost:${server.tlsPort}/`);
    await page.waitForFunction('window.conformance && window.conformance.done', undefined, {
      timeout: 90_000,
    });
    const rep = server.result('chromium@h3');
    t.truthy(rep, `no results over HTTP/3: ${[...server.results.keys()].join(', ')}`);
    t.is(rep!.cases.length, cases.length);
    const peerCloses = new Set(
      cases.filter((c) => c.close.byPeer && !c.id.startsWith('7.')).map((c) => c.id),
    );
    const notOk = rep!.cases
      .filter(
        (c) => peerCloses.has(c.id) && !['OK', 'NON-STRICT', 'INFORMATIONAL'].includes(c.verdict),
      )
      .map((c) => `${c.id} ${c.verdict}: ${c.violations.join('; ')} | ${c.ending}`);
    t.deepEqual(notOk, []);
    t.log(`chromium@h3: ${JSON.stringify(rep!.summary)}`);
  } finally {
    await browser.close();
    await server.close();
    await removeCerts(certs);
  }
});

test.serial(
  'conformance client: Firefox runs the page over ws:// (HTTP/1.1) and wss:// (HTTP/2)',
  async (t) => {
    t.timeout(240_000);
    const missing = firefoxMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const certs = await makeCerts('conf-firefox');
    const cases = browserCases();
    const server = await startFuzzingServer({
      port: 0,
      tlsPort: 0,
      cert: certs.cert,
      key: certs.key,
      http3: false,
      cases,
      tool: 'test',
    });
    try {
      for (const [origin, http] of [
        [`http://localhost:${server.port}/`, 'h1'],
        [`https://localhost:${server.tlsPort}/`, 'h2'],
      ] as const) {
        const profile = await firefoxProfile(http === 'h2' ? join(certs.dir, 'ca.pem') : undefined);
        const firefox: ChildProcess = spawnChild(
          FIREFOX,
          ['--headless', '--no-remote', '--profile', profile, origin],
          {
            stdio: 'ignore',
            detached: true,
            env: { ...process.env, MOZ_HEADLESS: '1' },
          },
        );
        try {
          const deadline = Date.now() + 90_000;
          while (
            (server.result(`firefox@${http}`)?.cases.length ?? 0) < cases.length &&
            Date.now() < deadline
          ) {
            await new Promise((r) => setTimeout(r, 200));
          }
        } finally {
          try {
            process.kill(-firefox.pid!, 'SIGKILL');
          } catch {
            // gone already
          }
          await rm(profile, { recursive: true, force: true });
        }
        const rep = server.result(`firefox@${http}`);
        t.is(
          rep?.cases.length,
          cases.length,
          `firefox@${http}: ${[...server.results.keys()].join(', ')}`,
        );
        if (!rep) continue;
        // group 7 is Firefox's to pass or not (it echoes an invalid close code instead of
        // answering 1002: docs/conformance.md); every other case that closes normally passes
        const peerCloses = new Set(
          cases.filter((c) => c.close.byPeer && !c.id.startsWith('7.')).map((c) => c.id),
        );
        // Over HTTP/1.1 the whole verdict; over HTTP/2 the events only: Firefox does not
        // end its stream after the close handshake, not even after the server's
        // END_STREAM, so each of those closes is UNCLEAN (docs/conformance.md)
        const good = ['OK', 'NON-STRICT', 'INFORMATIONAL'];
        const notOk = rep.cases
          .filter(
            (c) => peerCloses.has(c.id) && !good.includes(http === 'h1' ? c.verdict : c.behavior),
          )
          .map((c) => `${c.id} ${c.verdict}: ${c.violations.join('; ')} | ${c.ending}`);
        t.deepEqual(notOk, [], `firefox@${http}`);
        if (http === 'h2') {
          const closes = rep.cases.filter((c) => peerCloses.has(c.id)).map((c) => c.ending);
          t.log(`firefox@h2, how the streams ended: ${[...new Set(closes)].join('; ')}`);
        }
        t.log(`firefox@${http}: ${JSON.stringify(rep.summary)}`);
      }
    } finally {
      await server.close();
      await removeCerts(certs);
    }
  },
);
