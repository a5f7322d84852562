// Trailers of a streamed response as real clients see them: curl over HTTP/1.1 (the
// chunked encoding shown raw: the last chunk, then the trailer field), Node's http2
// client (its 'trailers' event, over TLS and h2c), Node's http client.

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { listen } from '../../src/server/h1-server.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { buffered, type RequestHandler, stream } from '../../src/server/handler.js';
import { makeCerts, removeCerts, type TestCerts } from './helpers.js';

const run = promisify(execFile);

const handle: RequestHandler = (req) => {
  if (req.pathname === '/trailers') {
    return stream(
      200,
      { 'content-type': 'text/plain', trailer: 'x-checksum, x-count' },
      async (send) => {
        await send('one ');
        await send('two', { fin: { 'x-checksum': 'c0ffee', 'x-count': 2 } });
      },
    );
  }
  if (req.pathname === '/no-trailers') {
    return stream(200, {}, async (send) => {
      await send('only data', 'fin');
    });
  }
  if (req.pathname === '/length-and-trailers') {
    return stream(200, { 'content-length': '4' }, async (send) => {
      await send('data', { fin: { 'x-late': '1' } });
    });
  }
  return buffered(404);
};

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('http-trailers');
});
test.after.always(() => removeCerts(certs));

/**
 * A chunked body as it came off the wire (RFC 9112 §7.1): chunks (hex size, CRLF, data,
 * CRLF), the last chunk `0`, trailer field lines, the closing CRLF, and nothing after.
 * Throws on anything else. Where one chunk ends and the next begins carries no meaning
 * (Node 24 writes `one two` as one chunk, Node 20 and 22 as two), so only the data joined
 * is returned.
 */
function dechunk(raw: string): { data: string; chunks: number; trailerLines: string[] } {
  let at = 0;
  let data = '';
  let chunks = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    const size = raw.slice(at, eol);
    if (eol < 0 || !/^[0-9a-fA-F]+$/.test(size)) throw new Error(`bad chunk size at ${at}`);
    const n = Number.parseInt(size, 16);
    at = eol + 2;
    if (n === 0) break;
    data += raw.slice(at, at + n);
    if (raw.slice(at + n, at + n + 2) !== '\r\n')
      throw new Error(`chunk ${chunks} not ended by CRLF`);
    at += n + 2;
    chunks++;
  }
  const end = raw.indexOf('\r\n\r\n', at - 2);
  if (end < 0 || end + 4 !== raw.length)
    throw new Error('the trailer section does not end the body');
  const trailerLines = raw
    .slice(at, end + 2)
    .split('\r\n')
    .filter(Boolean);
  return { data, chunks, trailerLines };
}

async function curlMissing(): Promise<string | undefined> {
  try {
    await run('sh', ['-c', 'command -v curl']);
    return undefined;
  } catch {
    return 'curl is missing: scripts/test-deps.mjs installs it with apt-get (npm test runs it)';
  }
}

test('curl --raw over HTTP/1.1 shows the chunked body and the trailer fields after the last chunk', async (t) => {
  const missing = await curlMissing();
  if (missing) {
    t.fail(missing);
    return;
  }
  const l = await listen({ handle });
  const tlsL = await listen({ handle, tls: { cert: certs.cert, key: certs.key } });
  try {
    const { stdout } = await run('curl', ['--raw', '-s', `http://127.0.0.1:${l.port}/trailers`]);
    const plain = dechunk(stdout);
    t.is(plain.data, 'one two');
    t.true(plain.chunks >= 1 && plain.chunks <= 2, `${plain.chunks} chunks`);
    t.deepEqual(plain.trailerLines, ['x-checksum: c0ffee', 'x-count: 2']);
    const ca = join(certs.dir, 'ca-for-curl.pem');
    await writeFile(ca, certs.ca);
    const secure = await run('curl', [
      '--raw',
      '-s',
      '--http1.1',
      '--cacert',
      ca,
      '--resolve',
      `localhost:${tlsL.port}:127.0.0.1`,
      `https://localhost:${tlsL.port}/trailers`,
    ]);
    const overTls = dechunk(secure.stdout);
    t.is(overTls.data, 'one two');
    t.deepEqual(overTls.trailerLines, ['x-checksum: c0ffee', 'x-count: 2']);
  } finally {
    await l.close();
    await tlsL.close();
  }
});

test("Node's http client reads HTTP/1.1 trailers", async (t) => {
  const l = await listen({ handle });
  try {
    const trailers = await new Promise<NodeJS.Dict<string>>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${l.port}/trailers`, (res) => {
          res.resume();
          res.on('end', () => resolve(res.trailers));
        })
        .on('error', reject);
    });
    t.deepEqual({ ...trailers }, { 'x-checksum': 'c0ffee', 'x-count': '2' });
  } finally {
    await l.close();
  }
});

for (const secure of [true, false]) {
  test(`Node's http2 client sees the trailing HEADERS ('trailers' event) over ${secure ? 'TLS' : 'h2c'}; without trailers the stream just ends`, async (t) => {
    const l = await listenH2({
      handle,
      ...(secure && { tls: { cert: certs.cert, key: certs.key } }),
    });
    const session = http2.connect(
      secure ? `https://localhost:${l.port}` : `http://127.0.0.1:${l.port}`,
      secure ? { ca: certs.ca } : {},
    );
    const get = (path: string) =>
      new Promise<{ body: string; trailers: http2.IncomingHttpHeaders | undefined; rst: number }>(
        (resolve) => {
          const req = session.request({ ':path': path });
          let body = '';
          let trailers: http2.IncomingHttpHeaders | undefined;
          req.setEncoding('utf8');
          req.on('data', (d: string) => {
            body += d;
          });
          req.on('trailers', (h) => {
            trailers = h;
          });
          req.on('close', () => resolve({ body, trailers, rst: req.rstCode ?? 0 }));
        },
      );
    try {
      const withTrailers = await get('/trailers');
      t.is(withTrailers.body, 'one two');
      t.is(withTrailers.trailers?.['x-checksum'], 'c0ffee');
      t.is(withTrailers.trailers?.['x-count'], '2');
      t.is(withTrailers.rst, 0);
      const without = await get('/no-trailers');
      t.is(without.body, 'only data');
      t.is(without.trailers, undefined);
      t.is(without.rst, 0);
    } finally {
      session.close();
      await l.close();
    }
  });
}

test('HTTP/1.1: trailers on a response with content-length are an error (only chunked encoding carries them)', async (t) => {
  const errors: Error[] = [];
  const l = await listen({ handle, onError: (e) => errors.push(e) });
  try {
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(`http://127.0.0.1:${l.port}/length-and-trailers`, (res) => {
          res.resume();
          res.on('end', () => resolve(`ended ${res.complete}`));
          res.on('error', () => resolve('cut off'));
        })
        .on('error', () => resolve('cut off'));
    });
    t.true(outcome === 'cut off' || outcome === 'ended false', outcome);
    t.regex(errors[0]?.message ?? '', /chunked/);
  } finally {
    await l.close();
  }
});
