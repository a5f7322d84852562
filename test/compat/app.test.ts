// examples/ws-app: a chat written against ws, run twice: with the real `ws` (its import
// switched back, one line) and as it is, with omniws/ws. Chromium talks in it over
// HTTP/1.1 with ws, over HTTP/2 (RFC 8441) with omniws/ws, and over HTTP/3 (RFC 9220)
// with examples/ws-app/http3.js; Node clients check the same server.

import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';
import RealWebSocket from 'ws';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { chromiumMissing, launchChromium } from '../interop/browser.js';
import { record } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const example = join(root, 'examples', 'ws-app');

interface Chat {
  port: number;
  url: string;
  close(): Promise<void>;
}
type Start = (o: { port: number; tls: { cert: Buffer; key: Buffer } }) => Promise<Chat>;

interface Entry {
  type: string;
  name?: string;
  http?: string;
  users?: number;
  from?: string;
  text?: string;
}

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('compat-app');
});
test.after.always(() => removeCerts(certs));

/** The example with its import switched back to `ws`: a copy under dist/, one line changed. */
async function withRealWs(t: ExecutionContext): Promise<string> {
  const source = await readFile(join(example, 'server.js'), 'utf8');
  const switched = source.replace("from 'omniws/ws';", "from 'ws';");
  const before = source.split('\n');
  const changed = switched.split('\n').filter((line, i) => line !== before[i]);
  t.deepEqual(changed, ["import { WebSocket, WebSocketServer } from 'ws';"]);
  const dir = join(root, 'dist', 'ws-app-with-ws');
  await mkdir(dir, { recursive: true });
  await copyFile(join(example, 'index.html'), join(dir, 'index.html'));
  await writeFile(join(dir, 'server.js'), switched);
  return join(dir, 'server.js');
}

async function startFrom(file: string, exportName = 'start'): Promise<Chat> {
  const mod = (await import(pathToFileURL(file).href)) as Record<string, Start>;
  return mod[exportName]!({ port: 0, tls: { cert: certs.cert, key: certs.key } });
}

async function chatPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(
    'window.chatLog && window.chatLog.some((e) => e.type === "welcome")',
    undefined,
    {
      timeout: 30_000,
    },
  );
  return page;
}

const logOf = (page: Page) => page.evaluate('window.chatLog') as Promise<Entry[]>;

/** `from` says `text`; `to` hears it (or this throws after 10 s). */
async function talk(from: Page, to: Page, text: string): Promise<void> {
  const name = (await logOf(from)).find((e) => e.type === 'welcome')!.name;
  await from.evaluate(
    (s) => (globalThis as unknown as { chat: { send(s: string): void } }).chat.send(s),
    text,
  );
  await to.waitForFunction(
    ([n, s]) =>
      (globalThis as unknown as { chatLog: Entry[] }).chatLog.some(
        (e) => e.from === n && e.text === s,
      ),
    [name, text] as const,
    { timeout: 10_000 },
  );
}

function browserMissing(t: ExecutionContext): boolean {
  const missing = chromiumMissing();
  if (missing) t.fail(missing);
  return missing !== undefined;
}

test.serial('with the real ws: Chromium and the ws client chat over HTTP/1.1', async (t) => {
  t.timeout(120e3);
  if (browserMissing(t)) return;
  const chat = await startFrom(await withRealWs(t));
  t.teardown(() => chat.close());
  // a Node client: the app's welcome says which HTTP the server saw
  const node = new RealWebSocket(`wss://localhost:${chat.port}/chat`, { ca: certs.ca });
  const [welcome] = (await new Promise((resolve) =>
    node.once('message', (d) => resolve([JSON.parse(String(d))])),
  )) as [Entry];
  t.is(welcome.http, '1.1');
  node.close();
  const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
  t.teardown(() => browser.close());
  const ann = await chatPage(browser, chat.url);
  const bob = await chatPage(browser, chat.url);
  // Node's http2 server does not offer extended CONNECT: Chromium falls back to HTTP/1.1
  t.is((await logOf(ann)).find((e) => e.type === 'welcome')?.http, '1.1');
  t.is((await logOf(bob)).find((e) => e.type === 'welcome')?.http, '1.1');
  await talk(ann, bob, 'hello over HTTP/1.1');
  await talk(bob, ann, 'hi back');
});

test.serial(
  'with omniws/ws: Chromium chats over HTTP/2, on the page’s own connection',
  async (t) => {
    t.timeout(120e3);
    if (browserMissing(t)) return;
    const chat = await startFrom(join(example, 'server.js'));
    t.teardown(() => chat.close());
    const node = new WebSocket(`wss://localhost:${chat.port}/chat`, { http: 2, ca: certs.ca });
    const ev = record(node, ['message']);
    const [data] = await ev.next<[Buffer]>('message');
    t.is((JSON.parse(String(data)) as Entry).http, '2.0');
    node.close();
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
    t.teardown(() => browser.close());
    const ann = await chatPage(browser, chat.url);
    const bob = await chatPage(browser, chat.url);
    t.is(await ann.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol'), 'h2');
    t.is((await logOf(ann)).find((e) => e.type === 'welcome')?.http, '2.0');
    t.is((await logOf(bob)).find((e) => e.type === 'welcome')?.http, '2.0');
    await talk(ann, bob, 'hello over HTTP/2');
    await talk(bob, ann, 'hi back');
  },
);

test.serial('with omniws/ws and http3.js: one room over HTTP/3 and HTTP/2', async (t) => {
  t.timeout(120e3);
  if (browserMissing(t)) return;
  const chat = await startFrom(join(example, 'http3.js'), 'startEverywhere');
  t.teardown(() => chat.close());
  const quic = await launchChromium([
    `--ignore-certificate-errors-spki-list=${certs.spki}`,
    '--enable-quic',
    `--origin-to-force-quic-on=localhost:${chat.port}`,
    '--enable-features=EnableWebsocketsOverHttp3',
  ]);
  t.teardown(() => quic.close());
  const tcp = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
  t.teardown(() => tcp.close());
  const ann = await chatPage(quic, chat.url);
  const bob = await chatPage(tcp, chat.url);
  t.is(await ann.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol'), 'h3');
  t.is((await logOf(ann)).find((e) => e.type === 'welcome')?.http, '3.0');
  t.is((await logOf(bob)).find((e) => e.type === 'welcome')?.http, '2.0');
  // both in one room: wss.clients holds the sockets of every HTTP version
  t.is((await logOf(bob)).find((e) => e.type === 'welcome')?.users, 2);
  await talk(ann, bob, 'from HTTP/3');
  await talk(bob, ann, 'from HTTP/2');
  // and a Node client over HTTP/3 hears them too
  const node = new WebSocket(`wss://localhost:${chat.port}/chat`, { http: 3, ca: certs.ca });
  const ev = record(node, ['message']);
  const [data] = await ev.next<[Buffer]>('message', 10_000);
  t.like(JSON.parse(String(data)) as Entry, { type: 'welcome', http: '3.0', users: 3 });
  await ann.evaluate(() =>
    (globalThis as unknown as { chat: { send(s: string): void } }).chat.send('to all'),
  );
  const [said] = await ev.next<[Buffer]>('message', 10_000);
  t.like(JSON.parse(String(said)) as Entry, { type: 'say', text: 'to all' });
  node.close();
});
