// Server-sent events from a `loop` answer, consumed by Chromium's EventSource: over
// HTTP/1.1 (plain), HTTP/2 (TLS, ALPN h2) and HTTP/3 (QUIC forced for the origin). The
// loop pushes N events as a timer posts them, then stops; every event names the HTTP
// version that carried it (the server's view), and the loop's terminate sees 'normal'.

import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { buffered, type LoopEnd, loop, type RequestHandler } from '../../src/server/handler.js';
import { ok, stop } from '../../src/ws/handler.js';
import { chromiumMissing, launchChromium } from '../interop/browser.js';
import { makeCerts, removeCerts } from './helpers.js';

const N = 5;

const PAGE = `<!doctype html><meta charset="utf-8"><title>sse</title>
<script>
window.events = new Promise((resolve, reject) => {
  const got = [];
  const es = new EventSource('/events');
  es.onmessage = (e) => {
    got.push({ data: e.data, id: e.lastEventId, type: e.type });
    if (got.length === ${N}) { es.close(); resolve(got); }
  };
  setTimeout(() => { es.close(); reject(new Error('only ' + got.length + ' events')); }, 15000);
});
</script>`;

function sseHandler(ends: LoopEnd[]): RequestHandler {
  return (req) => {
    if (req.pathname === '/') {
      return buffered(200, { 'content-type': 'text/html; charset=utf-8' }, PAGE);
    }
    if (req.pathname !== '/events') return buffered(404, {}, 'not found\n');
    let timer: NodeJS.Timeout | undefined;
    const l = loop(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }, 0, {
      handleInfo(info, push, n) {
        push(`id: ${n + 1}\ndata: ${String(info)} over HTTP/${req.http}\n\n`);
        return n + 1 >= N ? stop(n + 1) : ok(n + 1);
      },
      terminate(reason) {
        clearInterval(timer);
        ends.push(reason);
      },
    });
    let i = 0;
    timer = setInterval(() => l.post(`tick ${i++}`), 20);
    return l;
  };
}

interface Event {
  data: string;
  id: string;
  type: string;
}

function expected(http: string): Event[] {
  return Array.from({ length: N }, (_, i) => ({
    data: `tick ${i} over HTTP/${http}`,
    id: String(i + 1),
    type: 'message',
  }));
}

test.serial(
  'EventSource over HTTP/1.1 and HTTP/2 (TLS) receives the events a loop pushes',
  async (t) => {
    const missing = chromiumMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const certs = await makeCerts('http-sse');
    const ends: LoopEnd[] = [];
    const h1 = await listen({ handle: sseHandler(ends) });
    const h2 = await listenH2({
      handle: sseHandler(ends),
      tls: { cert: certs.cert, key: certs.key },
    });
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spki}`]);
    try {
      for (const [origin, http] of [
        [`http://127.0.0.1:${h1.port}`, '1.1'],
        [`https://localhost:${h2.port}`, '2'],
      ] as const) {
        const page = await browser.newPage();
        await page.goto(`${origin}/`);
        t.deepEqual(await page.evaluate('window.events'), expected(http), origin);
        await page.close();
      }
      t.deepEqual(ends, [{ kind: 'normal' }, { kind: 'normal' }]);
    } finally {
      await browser.close();
      await h1.close();
      await h2.close();
      await removeCerts(certs);
    }
  },
);

test.serial('EventSource over HTTP/3 receives the events a loop pushes', async (t) => {
  const missing = chromiumMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const certs = await makeCerts('http-sse-h3');
  const ends: LoopEnd[] = [];
  const h3 = await listenH3({
    handle: sseHandler(ends),
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1', '::1'],
  });
  const browser = await launchChromium([
    `--ignore-certificate-errors-spki-list=${certs.spki}`,
    '--enable-quic',
    `--origin-to-force-quic-on=localhost:${h3.port}`,
  ]);
  try {
    const page = await browser.newPage();
    await page.goto(`https://localhost:${h3.port}/`);
    t.is(
      await page.evaluate('performance.getEntriesByType("navigation")[0].nextHopProtocol'),
      'h3',
    );
    t.deepEqual(await page.evaluate('window.events'), expected('3'));
    t.deepEqual(ends, [{ kind: 'normal' }]);
  } finally {
    await browser.close();
    await h3.close();
    await removeCerts(certs);
  }
});
