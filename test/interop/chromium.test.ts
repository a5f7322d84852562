// Chromium runs the interop page of `omniws serve` over ws:// (HTTP/1.1), wss://
// (HTTP/2, RFC 8441) and HTTP/3 (RFC 9220), the last also behind a QUIC Retry; every
// check passes and the server announces the HTTP version of each WebSocket.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { serveInterop } from '../../src/dev/interop.js';
import { relay } from '../h3/helpers.js';
import { chromiumMissing, launchChromium } from './browser.js';

interface CheckResult {
  name: string;
  pass: boolean;
  http: string;
  detail?: string;
}

test.serial(
  'interop page passes in Chromium over ws:// (HTTP/1.1) and wss:// (HTTP/2)',
  async (t) => {
    const missing = chromiumMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const served = await serveInterop({
      port: 0,
      tlsPort: 0,
      certsDir: await mkdtemp(join(tmpdir(), 'omniws-interop-')),
    });
    const spki = served.certs!.spkiSha256;
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
    try {
      for (const endpoint of served.endpoints.filter((e) => e.transport !== 'h3')) {
        const page = await browser.newPage();
        await page.goto(endpoint.page);
        await page.waitForFunction('document.title !== "interop: running"', undefined, {
          timeout: 30_000,
        });
        const title = await page.title();
        const results = (await page.evaluate('window.interopResults')) as CheckResult[];
        t.is(title, 'interop: pass', JSON.stringify(results));
        // the WebSocket checks, and over TLS the five WebTransport ones (HTTP/3, same port;
        // Chromium has application protocols, so the page checks them too)
        t.is(results.length, endpoint.secure ? 11 : 6);
        if (endpoint.secure) {
          t.is(
            results.find((r) => r.name === 'WebTransport application protocol')?.detail,
            'protocol "omniws-echo"',
          );
        }
        // Chromium offers permessage-deflate; the interop server accepts it on h1 and h2
        t.regex(results.find((r) => r.name === 'extensions')?.detail ?? '', /^permessage-deflate/);
        for (const r of results) {
          t.true(r.pass, `${endpoint.page} ${r.name}: ${r.detail ?? ''}`);
          // the plain port is HTTP/1.1; on the TLS port Chromium negotiates h2 and opens its
          // WebSockets with RFC 8441 extended CONNECT on that connection
          const expected = r.name.startsWith('WebTransport') ? '3' : endpoint.secure ? '2' : '1.1';
          t.is(r.http, expected, `${endpoint.page} ${r.name}`);
        }
        const pageProto = await page.evaluate(
          '(performance.getEntriesByType("navigation")[0] || {}).nextHopProtocol',
        );
        t.is(pageProto, endpoint.secure ? 'h2' : 'http/1.1');
        await page.close();
      }
    } finally {
      await browser.close();
      await served.close();
    }
  },
);

test.serial('interop page passes in Chromium over HTTP/3 (RFC 9220)', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const served = await serveInterop({
    port: null,
    tlsPort: 0,
    certsDir: await mkdtemp(join(tmpdir(), 'omniws-interop-h3-')),
  });
  const h3 = served.endpoints.find((e) => e.transport === 'h3')!;
  const browser = await launchChromium([
    `--ignore-certificate-errors-spki-list=${served.certs!.spkiSha256}`,
    '--enable-quic',
    `--origin-to-force-quic-on=localhost:${h3.port}`,
    '--enable-features=EnableWebsocketsOverHttp3',
  ]);
  try {
    const page = await browser.newPage();
    await page.goto(h3.page);
    await page.waitForFunction('document.title !== "interop: running"', undefined, {
      timeout: 30_000,
    });
    const results = (await page.evaluate('window.interopResults')) as CheckResult[];
    t.is(await page.title(), 'interop: pass', JSON.stringify(results));
    t.is(
      await page.evaluate('(performance.getEntriesByType("navigation")[0] || {}).nextHopProtocol'),
      'h3',
    );
    t.is(results.length, 11);
    t.is(results.filter((r) => r.name.startsWith('WebTransport')).length, 5);
    for (const r of results) t.is(r.http, '3', `${r.name}: ${r.detail ?? ''}`);
  } finally {
    await browser.close();
    await served.close();
  }
});

test.serial(
  'Chromium follows a QUIC Retry: the page over HTTP/3 passes behind address validation',
  async (t) => {
    const missing = chromiumMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const served = await serveInterop({
      port: null,
      tlsPort: 0,
      quicRetry: true,
      certsDir: await mkdtemp(join(tmpdir(), 'omniws-interop-retry-')),
    });
    const h3 = served.endpoints.find((e) => e.transport === 'h3')!;
    // a relay on IPv4 that shows the packets: Chromium's QUIC through it, all of the page
    const r = await relay(h3.port);
    const browser = await launchChromium([
      `--ignore-certificate-errors-spki-list=${served.certs!.spkiSha256}`,
      '--enable-quic',
      `--origin-to-force-quic-on=localhost:${r.port}`,
      '--host-resolver-rules=MAP localhost 127.0.0.1',
      '--enable-features=EnableWebsocketsOverHttp3',
    ]);
    try {
      const page = await browser.newPage();
      await page.goto(`https://localhost:${r.port}/`);
      await page.waitForFunction('document.title !== "interop: running"', undefined, {
        timeout: 30_000,
      });
      const results = (await page.evaluate('window.interopResults')) as CheckResult[];
      t.is(await page.title(), 'interop: pass', JSON.stringify(results));
      t.is(results.length, 11);
      for (const r of results) t.is(r.http, '3', `${r.name}: ${r.detail ?? ''}`);
      t.true(
        r.fromServer.some((p) => p.type === 'retry'),
        'the server answered with a Retry',
      );
      t.true(
        r.fromClient.some((p) => p.type === 'initial' && p.token.length > 0),
        'Chromium came back with the token',
      );
    } finally {
      await browser.close();
      r.close();
      await served.close();
    }
  },
);
