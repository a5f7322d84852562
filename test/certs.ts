// Test certificates: a CA and a localhost certificate (src/dev/certs.ts) in a fresh
// directory under os.tmpdir(), read into memory; remove the directory with removeCerts.
// opensslCert: a short-lived self-signed one as WebTransport's serverCertificateHashes wants.

import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export {
  removeTempCerts as removeCerts,
  type TempCerts as TestCerts,
  tempCerts as makeCerts,
} from '../src/dev/certs.js';

/** A self-signed certificate for localhost made by openssl: `key` 'ec' (P-256) or 'rsa'. */
export async function opensslCert(
  t: { teardown(f: () => Promise<void>): void },
  key: 'ec' | 'rsa',
  days: number,
): Promise<{ cert: Buffer; key: Buffer; sha256: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-wt-hash-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = spawnSync(
    '/usr/bin/openssl',
    [
      'req',
      '-x509',
      '-newkey',
      key === 'ec' ? 'ec' : 'rsa:2048',
      ...(key === 'ec' ? ['-pkeyopt', 'ec_paramgen_curve:prime256v1'] : []),
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      String(days),
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr || r.error}`);
  const cert = await readFile(join(dir, 'cert.pem'));
  return {
    cert,
    key: await readFile(join(dir, 'key.pem')),
    sha256: createHash('sha256').update(new X509Certificate(cert).raw).digest(),
  };
}
