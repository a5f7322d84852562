// The example apps (examples/fastify-app, express-app, hono-app) as a person uses them:
// Debian's Chromium opens the chat page twice, over HTTP/1.1 (http://) and over HTTP/2
// (https:// with the test CA's certificate: Chromium negotiates h2 and opens the WebSocket
// with RFC 8441 extended CONNECT), types a message in one tab and reads it in the other;
// a WebSocket without a name is refused before it opens.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { chromiumMissing, launchChromium } from '../interop/browser.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Example {
  start(opts: { port: number; tls?: { key: Buffer; cert: Buffer } }): Promise<{
    url: string;
    close(): Promise<void>;
  }>;
}

let certs: TestCerts;
let browser: Browser | undefined;

test.before(async () => {
  certs = await makeCerts('adapters-examples');
  if (chromiumMissing() === undefined) {
    browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
  }
});

test.after.always(async () => {
  await browser?.close();
  await removeCerts(certs);
});

const chatLog = (page: Page) => page.evaluate('window.chatLog') as Promise<string[]>;

async function waitForLine(page: Page, line: string): Promise<void> {
  await page.waitForFunction(
    (l) => (globalThis as unknown as { chatLog?: string[] }).chatLog?.includes(l) === true,
    line,
    { timeout: 20_000 },
  );
}

for (const name of ['fastify', 'express', 'hono']) {
  for (const http of ['1.1', '2'] as const) {
    test.serial(`examples/${name}-app in Chromium over HTTP/${http}`, async (t) => {
      t.timeout(120e3);
      const missing = chromiumMissing();
      if (missing || !browser) {
        t.fail(missing ?? 'Chromium did not start');
        return;
      }
      const example = (await import(
        pathToFileURL(join(root, 'examples', `${name}-app`, 'server.js')).href
      )) as Example;
      const app = await example.start({
        port: 0,
        ...(http === '2' && { tls: { key: certs.key, cert: certs.cert } }),
      });
      const context = await browser.newContext();
      t.teardown(async () => {
        await context.close();
        await app.close();
      });
      const ann = await context.newPage();
      await ann.goto(`${app.url}/?name=ann`);
      t.is(
        await ann.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol'),
        http === '2' ? 'h2' : 'http/1.1',
      );
      await waitForLine(ann, `ann joined over HTTP/${http}`);
      t.is((await chatLog(ann))[0], 'open (chat)');

      const bob = await context.newPage();
      await bob.goto(`${app.url}/?name=bob`);
      await waitForLine(bob, `bob joined over HTTP/${http}`);
      await waitForLine(ann, `bob joined over HTTP/${http}`);

      await ann.fill('#text', 'hello from ann');
      await ann.click('button');
      await waitForLine(bob, 'ann: hello from ann');
      await waitForLine(ann, 'ann: hello from ann');

      // no name: the app's hook or middleware answers 401, the browser sees a failed
      // WebSocket (1006) that never opened, and nobody joined
      const refused = (await ann.evaluate(
        `new Promise((resolve) => {
          const ws = new WebSocket(location.origin.replace('http', 'ws') + '/chat/lobby', ['chat']);
          let opened = false;
          ws.onopen = () => { opened = true; };
          ws.onclose = (e) => resolve({ opened, code: e.code });
        })`,
      )) as { opened: boolean; code: number };
      t.deepEqual(refused, { opened: false, code: 1006 });

      await bob.close();
      await waitForLine(ann, 'bob left');
      const joined = (await chatLog(ann)).filter((l) => l.includes(' joined '));
      t.deepEqual(joined, [`ann joined over HTTP/${http}`, `bob joined over HTTP/${http}`]);
    });
  }
}
