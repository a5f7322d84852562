// `serve()`: one request handler answers on HTTP/1.1, HTTP/2 and HTTP/3 alike: the
// page (GET and HEAD), 426 / 405 for a WebSocket path asked without an upgrade, 404,
// and Alt-Svc for HTTP/3 on the TLS port's HTTP/1.1 and HTTP/2 answers.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { serveInterop } from '../../src/dev/interop.js';
import { INTEROP_PAGE } from '../../src/dev/page.js';
import { clientFor } from '../http/helpers.js';

test('the interop server answers the same on every HTTP version', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-serve-'));
  const served = await serveInterop({ port: 0, tlsPort: 0, certsDir: dir });
  const ca = await readFile(served.certs!.ca);
  const plain = served.endpoints.find((e) => e.transport === 'http/1.1')!;
  const tls = served.endpoints.find((e) => e.transport === 'h2+http/1.1')!;
  const clients = [
    ['1.1', clientFor('h1', plain.port, ca), false],
    ['1.1', clientFor('h1-tls', tls.port, ca), true],
    ['2', clientFor('h2', tls.port, ca), true],
    ['3', clientFor('h3', tls.port, ca), false],
  ] as const;
  try {
    for (const [http, client, altSvc] of clients) {
      const page = await client.fetch({ path: '/' });
      t.is(page.status, 200, http);
      t.is(page.body.toString(), INTEROP_PAGE);
      t.is(page.headers['content-type'], 'text/html; charset=utf-8');
      t.is(page.headers['alt-svc'], altSvc ? `h3=":${tls.port}"; ma=86400` : undefined, http);
      const head = await client.fetch({ method: 'HEAD', path: '/index.html' });
      t.is(head.headers['content-length'], String(Buffer.byteLength(INTEROP_PAGE)));
      t.is(head.bytes, 0);
      const ws = await client.fetch({ path: '/echo' });
      t.is(ws.status, http === '1.1' ? 426 : 405, `${http} /echo`);
      t.is((await client.fetch({ path: '/nope' })).status, 404);
    }
  } finally {
    for (const [, client] of clients) client.close();
    await served.close();
    await rm(dir, { recursive: true, force: true });
  }
});
