// A 1 GiB file (sparse: no disk needed) served by a `file` answer, over each transport,
// with the server in a child process of its own: the client reads and discards, counting
// bytes, and the server's resident memory may not grow by more than 100 MiB. Measured
// alone on a 2-CPU machine: 3-5 s per transport over TCP, about 10 s over HTTP/3 (both
// QUIC ends in JavaScript, about 110 MiB/s).

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  clientFor,
  makeCerts,
  removeCerts,
  type TestCerts,
  type TransportName,
} from './helpers.js';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;
const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'file-server.js');

let certs: TestCerts;
let dir: string;

test.before(async () => {
  certs = await makeCerts('http-file-memory');
  dir = await mkdtemp(join(tmpdir(), 'omniws-file-memory-'));
});
test.after.always(async () => {
  await removeCerts(certs);
  await rm(dir, { recursive: true, force: true });
});

async function sparseFile(size: number): Promise<string> {
  const path = join(dir, `sparse-${size}.bin`);
  const fh = await open(path, 'w');
  await fh.truncate(size);
  await fh.close();
  return path;
}

const cases: [TransportName, number][] = [
  ['h1', GiB],
  ['h1-tls', GiB],
  ['h2', GiB],
  ['h2c', GiB],
  ['h3', GiB],
];

for (const [name, size] of cases) {
  test.serial(`${name}: a ${size / MiB} MiB file with bounded server memory`, async (t) => {
    t.timeout(120_000);
    const path = await sparseFile(size);
    const child = fork(
      fixture,
      [name, path, join(certs.dir, 'cert.pem'), join(certs.dir, 'key.pem')],
      { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const exited = once(child, 'exit');
    try {
      const [{ port }] = (await once(child, 'message')) as [{ port: number }];
      const client = clientFor(name, port, certs.ca);
      const started = Date.now();
      const r = await client.fetch({ path: '/', count: true });
      const ms = Date.now() - started;
      client.close();
      child.send('rss');
      const [{ baseline, peak }] = (await once(child, 'message')) as [
        { baseline: number; peak: number },
      ];
      const growth = peak - baseline;
      t.log(
        `${name}: ${r.bytes} bytes in ${ms} ms (${((r.bytes / MiB / ms) * 1000).toFixed(0)} MiB/s); ` +
          `server RSS ${(baseline / MiB).toFixed(0)} MiB → peak ${(peak / MiB).toFixed(0)} MiB (+${(growth / MiB).toFixed(1)} MiB)`,
      );
      t.is(r.status, 200);
      t.is(r.headers['content-length'], String(size));
      t.is(r.bytes, size);
      t.true(r.complete);
      t.true(growth < 100 * MiB, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    } finally {
      child.send('close');
      await exited;
      await rm(path, { force: true });
    }
  });
}
