// Chromium runs the interop page of `omniws serve` over ws:// (HTTP/1.1), wss://
// (HTTP/2, RFC 8441) and HTTP/3 (RFC 9220), the last also behind a QUIC Retry; every
// check passes and the server announces the HTTP version of each WebSocket. Then
// WebTransport trusted by serverCertificateHashes, with no certificate flag at all.

import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { serveInterop } from '../../src/dev/interop.js';
import { wtEchoHandler } from '../../src/dev/wt-echo.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { webtransport } from '../../src/server/webtransport.js';
import { opensslCert } from '../certs.js';
import { relay } from '../h3/helpers.js';
import { CHROMIUM, chromiumMissing, launchChromium } from './browser.js';

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

test.serial(
  'Chromium trusts our HTTP/3 server by serverCertificateHashes alone, and refuses what our client refuses',
  async (t) => {
    const missing = chromiumMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    // no certificate flag, no developer mode: the page (http://localhost, a secure context)
    // vouches for the server by the hash of its short-lived ECDSA certificate, as sites do
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    t.teardown(() => browser.close());
    for (const [days, trusted] of [
      [10, true],
      [30, false],
    ] as const) {
      const c = await opensslCert(t, 'ec', days);
      const srv = await listenH3({
        tls: { cert: c.cert, key: c.key },
        host: ['127.0.0.1', '::1'],
        webtransport: true,
        handle: () => webtransport(wtEchoHandler, null),
      });
      const page = `<!doctype html><script>
window.result = (async () => {
  try {
    const wt = new WebTransport('https://localhost:${srv.port}/wt/echo', {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(${JSON.stringify([...c.sha256])}) }],
    });
    await wt.ready;
    const s = await wt.createBidirectionalStream();
    const w = s.writable.getWriter();
    await w.write(new TextEncoder().encode('by hash'));
    await w.close();
    const { value } = await s.readable.getReader().read();
    wt.close();
    return 'echo ' + new TextDecoder().decode(value);
  } catch (e) {
    return 'refused ' + e.name;
  }
})();
</script>`;
      const http1 = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page);
      });
      await new Promise<void>((r) => http1.listen(0, '127.0.0.1', r));
      try {
        const p = await browser.newPage();
        await p.goto(`http://localhost:${(http1.address() as AddressInfo).port}/`);
        const result = (await p.evaluate('window.result')) as string;
        t.is(result, trusted ? 'echo by hash' : 'refused WebTransportError', `${days} days`);
        await p.close();
      } finally {
        http1.close();
        await srv.close();
      }
    }
  },
);
