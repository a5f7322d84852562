import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import { ensureCerts } from '../src/dev/certs.js';

const DAY = 24 * 60 * 60 * 1000;

async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function independentSpki(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

test('generates a CA and a localhost leaf signed by it', async (t) => {
  const dir = await tempDir(t);
  const lines: string[] = [];
  const paths = await ensureCerts(join(dir, 'out'), { log: (line) => lines.push(line) });

  t.true(paths.generated);
  t.is(paths.dir, join(dir, 'out'));
  const [caPem, certPem, keyPem] = await Promise.all(
    [paths.ca, paths.cert, paths.key].map((p) => readFile(p, 'utf8')),
  );
  for (const name of ['key.pem', 'ca-key.pem']) {
    t.is((await stat(join(paths.dir, name))).mode & 0o777, 0o600, name);
  }

  const ca = new X509Certificate(caPem!);
  const leaf = new X509Certificate(certPem!);
  t.true(ca.ca);
  t.is(ca.subject, 'CN=omniws local CA');
  t.false(leaf.ca);
  t.true(leaf.checkIssued(ca));
  t.true(leaf.verify(ca.publicKey));
  t.true(leaf.checkPrivateKey(createPrivateKey(keyPem!)));
  t.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']); // Node reports extKeyUsage here: serverAuth

  const san = leaf.subjectAltName ?? '';
  t.regex(san, /DNS:localhost\b/);
  t.regex(san, /IP Address:127\.0\.0\.1\b/);
  t.regex(san, /IP Address:(::1|0:0:0:0:0:0:0:1)\b/);
  t.is(leaf.checkIP('::1'), '::1');

  const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
  t.true(lifetime <= 90 * DAY, `leaf lifetime ${lifetime / DAY} days`);
  t.true(Date.parse(leaf.validFrom) <= Date.now());
  t.is(paths.notAfter.getTime(), Date.parse(leaf.validTo));
  t.true(BigInt(`0x${leaf.serialNumber}`) > 0n);

  t.is(paths.spkiSha256, independentSpki(certPem!));
  t.true(lines.some((l) => l.startsWith('generated certificates in ')));
  t.true(lines.includes(`SPKI sha256: ${paths.spkiSha256}`));
  t.true(lines.some((l) => l.includes('ca.pem (NODE_EXTRA_CA_CERTS / Firefox import)')));
});

test('a TLS client trusting only the CA accepts the leaf by name and by IP', async (t) => {
  const paths = await ensureCerts(await tempDir(t));
  const [ca, cert, key] = await Promise.all(
    [paths.ca, paths.cert, paths.key].map((p) => readFile(p, 'utf8')),
  );
  const server = tls.createServer({ cert: cert!, key: key! }, (socket) => socket.end('hi'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;

  const handshake = (options: tls.ConnectionOptions) =>
    new Promise<{ authorized: boolean; peer: tls.PeerCertificate }>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: [ca!], ...options }, () => {
        resolve({ authorized: socket.authorized, peer: socket.getPeerCertificate() });
        socket.destroy();
      });
      socket.on('error', reject);
    });

  const byName = await handshake({ servername: 'localhost' });
  t.true(byName.authorized);
  // No servername: Node sends no SNI for an IP and checkServerIdentity matches the IP SAN.
  const byIp = await handshake({});
  t.true(byIp.authorized);
  t.is(tls.checkServerIdentity('::1', byIp.peer), undefined);
  t.true(tls.checkServerIdentity('example.com', byIp.peer) instanceof Error);

  // Without the CA the same server is rejected: the trust comes from ca.pem, not luck.
  await t.throwsAsync(handshake({ ca: [], servername: 'localhost' }));
});

test('a second call reuses the files; a leaf within 7 days of expiry is replaced', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureCerts(dir);
  const caBefore = await readFile(first.ca, 'utf8');
  const certBefore = await readFile(first.cert, 'utf8');

  const again = await ensureCerts(dir);
  t.false(again.generated);
  t.is(again.spkiSha256, first.spkiSha256);
  t.is(await readFile(first.cert, 'utf8'), certBefore);

  const later = new Date(Date.now() + 85 * DAY);
  const renewed = await ensureCerts(dir, { now: later });
  t.true(renewed.generated);
  t.not(renewed.spkiSha256, first.spkiSha256);
  t.true(renewed.notAfter.getTime() > later.getTime() + 80 * DAY);
  // The CA still has most of a year left, so it is kept and stays trusted by importers.
  t.is(await readFile(first.ca, 'utf8'), caBefore);
  t.true(
    new X509Certificate(await readFile(renewed.cert, 'utf8')).checkIssued(
      new X509Certificate(caBefore),
    ),
  );

  t.false((await ensureCerts(dir, { now: later })).generated);
});

test('a corrupt key.pem is regenerated', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureCerts(dir);
  await writeFile(first.key, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
  const second = await ensureCerts(dir);
  t.true(second.generated);
  t.not(second.spkiSha256, first.spkiSha256);
  t.false((await ensureCerts(dir)).generated);
});

test('a missing file or a leaf from another CA is regenerated', async (t) => {
  const dir = await tempDir(t);
  const first = await ensureCerts(dir);
  await rm(first.cert);
  t.true((await ensureCerts(dir)).generated);

  const other = await ensureCerts(await tempDir(t));
  await writeFile(join(dir, 'ca.pem'), await readFile(other.ca));
  await writeFile(join(dir, 'ca-key.pem'), await readFile(join(other.dir, 'ca-key.pem')));
  const third = await ensureCerts(dir);
  t.true(third.generated);
  const leaf = new X509Certificate(await readFile(third.cert, 'utf8'));
  t.true(leaf.verify(new X509Certificate(await readFile(other.ca, 'utf8')).publicKey));
});

test('concurrent callers on one directory agree on one leaf', async (t) => {
  const dir = await tempDir(t);
  const results = await Promise.all([ensureCerts(dir), ensureCerts(dir), ensureCerts(dir)]);
  t.is(results.filter((r) => r.generated).length, 1);
  t.is(new Set(results.map((r) => r.spkiSha256)).size, 1);
  t.is(results[0]!.spkiSha256, independentSpki(await readFile(results[0]!.cert, 'utf8')));
});
