// A real RFC 9220 peer: Chromium (Debian's package) loads the interop page over HTTP/3
// from listenH3, so that a QUIC session with SETTINGS_ENABLE_CONNECT_PROTOCOL exists
// (Chromium only sends a WebSocket over HTTP/3 on such a session), then runs the page's
// WebSocket checks. The server sees every request arrive over HTTP/3; the page sees
// nextHopProtocol h3 and each WebSocket announces http 3.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { echoRoutes, pubsubRoute, pubsubTopic } from '../../src/dev/echo.js';
import { INTEROP_PAGE } from '../../src/dev/page.js';
import { SETTINGS_MAX_FIELD_SECTION_SIZE } from '../../src/h3/frames.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { Topics } from '../../src/ws/topics.js';
import { CHROMIUM, chromiumMissing } from '../interop/browser.js';
import { makeCerts, removeCerts } from './helpers.js';

interface CheckResult {
  name: string;
  pass: boolean;
  http: string;
  detail?: string;
}

test.serial('Chromium loads a page and runs WebSockets over HTTP/3 (RFC 9220)', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const certs = await makeCerts('h3-chromium');
  const topics = new Topics();
  const seen: { http: string; method: string; path: string; remote: string | undefined }[] = [];
  const l = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1', '::1'],
    routes: echoRoutes(),
    topics,
    route(req) {
      seen.push({ http: req.http, method: req.method, path: req.path, remote: req.remoteAddress });
      // the page's pubsub check; anything else on to `routes`
      const topic = pubsubTopic(req.pathname);
      return topic === undefined ? undefined : pubsubRoute(topics, topic);
    },
    onRequest(req) {
      seen.push({ http: req.http, method: req.method, path: req.path, remote: req.remoteAddress });
      if (req.pathname !== '/') return { status: 404, body: 'not found\n' };
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        body: INTEROP_PAGE,
      };
    },
  });
  // a fresh profile: playwright refuses --user-data-dir in args and takes it here instead
  const profile = await mkdtemp(join(tmpdir(), 'omniws-h3-chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--enable-quic',
      `--origin-to-force-quic-on=localhost:${l.port}`,
      `--ignore-certificate-errors-spki-list=${certs.spki}`,
      '--enable-features=EnableWebsocketsOverHttp3',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await context.newPage();
    // ?nowt: this server has no WebTransport (webtransport.test.ts and the interop tests do)
    await page.goto(`https://localhost:${l.port}/?nowt`, { timeout: 20_000 });
    // a string, evaluated in the page: the DOM types are not in this project's lib
    const protocol = await page.evaluate(
      'performance.getEntriesByType("navigation")[0].nextHopProtocol',
    );
    t.is(protocol, 'h3');
    await page.waitForFunction('document.title !== "interop: running"', undefined, {
      timeout: 30_000,
    });
    const results = (await page.evaluate('window.interopResults')) as CheckResult[];
    t.is(await page.title(), 'interop: pass', JSON.stringify(results));
    t.is(results.length, 6);
    for (const r of results) {
      t.true(r.pass, `${r.name}: ${r.detail ?? ''}`);
      t.is(r.http, '3', `${r.name} came over ${r.http}`);
    }
    // server side: the page and every WebSocket arrived over HTTP/3
    const sockets = seen.filter((s) => s.method === 'CONNECT');
    // one WebSocket per check, two for the pubsub check
    t.is(sockets.length, 7);
    t.true(seen.every((s) => s.http === '3'));
    t.true(seen.some((s) => s.method === 'GET' && s.path === '/?nowt'));
    // Chromium's control stream was read: its SETTINGS are there
    const conn = [...l.connections][0];
    t.truthy(conn?.peerSettings?.get(SETTINGS_MAX_FIELD_SECTION_SIZE));
    t.log(`Chromium ${context.browser()?.version() ?? ''} from ${sockets[0]?.remote}`);
  } finally {
    await context.close();
    await l.close();
    await rm(profile, { recursive: true, force: true });
    await removeCerts(certs);
  }
});
