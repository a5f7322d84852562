// Chromium runs the interop page of `omniws serve` over ws:// and wss://; every
// check passes and the server announces the HTTP version of each WebSocket.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { serve } from '../../src/serve.js';
import { chromiumMissing, launchChromium } from './browser.js';

interface CheckResult {
  name: string;
  pass: boolean;
  http: string;
  detail?: string;
}

test.serial('interop page passes in Chromium over ws:// and wss://', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const served = await serve({
    port: 0,
    tlsPort: 0,
    certsDir: await mkdtemp(join(tmpdir(), 'omniws-interop-')),
  });
  const spki = served.certs!.spkiSha256;
  const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
  try {
    for (const endpoint of served.endpoints) {
      const page = await browser.newPage();
      await page.goto(endpoint.page);
      await page.waitForFunction('document.title !== "interop: running"', undefined, {
        timeout: 30_000,
      });
      const title = await page.title();
      const results = (await page.evaluate('window.interopResults')) as CheckResult[];
      t.is(title, 'interop: pass', JSON.stringify(results));
      t.is(results.length, 5);
      for (const r of results) {
        t.true(r.pass, `${endpoint.page} ${r.name}: ${r.detail ?? ''}`);
        // Chromium speaks h1 to these endpoints until h2 is served on the TLS port
        t.true(['1.1', '2'].includes(r.http), `${r.name} came over ${r.http}`);
      }
      if (!endpoint.secure) t.true(results.every((r) => r.http === '1.1'));
      await page.close();
    }
  } finally {
    await browser.close();
    await served.close();
  }
});
