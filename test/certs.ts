// Test certificates: a CA and a localhost certificate (src/certs.ts) in a fresh
// directory under os.tmpdir(), read into memory; remove the directory with removeCerts.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCerts } from '../src/dev/certs.js';

export interface TestCerts {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  spki: string;
  dir: string;
}

export async function makeCerts(name: string): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), `omniws-${name}-`));
  const paths = await ensureCerts(dir);
  const [ca, cert, key] = await Promise.all([
    readFile(paths.ca),
    readFile(paths.cert),
    readFile(paths.key),
  ]);
  return { ca, cert, key, spki: paths.spkiSha256, dir };
}

export function removeCerts(c: TestCerts): Promise<void> {
  return rm(c.dir, { recursive: true, force: true });
}
