// Local TLS certificates for development, tests and interop: a throwaway CA and a
// leaf for localhost / 127.0.0.1 / ::1 signed by it. Owns the four files in one
// directory (ca.pem, ca-key.pem, cert.pem, key.pem) and decides when they are reused.
// Callers trust ca.pem (NODE_EXTRA_CA_CERTS, Firefox import, `tls.connect({ ca })`) or
// pin the leaf with Chromium's --ignore-certificate-errors-spki-list=<spkiSha256>.
//
// Keys are RSA 2048 made by node:crypto (native, fast). node-forge builds and signs the
// X.509 structures; it cannot sign with ECDSA, hence RSA rather than P-256.
// cert.pem holds the leaf alone: the CA is the trust anchor the client already has, and
// RFC 8446 §4.4.2 lets the server omit it from the chain.

import {
  createHash,
  createPrivateKey,
  generateKeyPair,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  open,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';

/**
 * The development CA, leaf certificate and key `ensureCerts()` provides: their files, SPKI hash and
 * expiry.
 */
export interface CertPaths {
  dir: string;
  /** The CA certificate (PEM): what clients trust. */
  ca: string;
  /** The leaf certificate alone (PEM), for `localhost`, `127.0.0.1` and `::1`. */
  cert: string;
  /** The leaf's private key (PKCS#8 PEM). */
  key: string;
  /** base64 SHA-256 of the leaf's DER SubjectPublicKeyInfo (Chromium --ignore-certificate-errors-spki-list). */
  spkiSha256: string;
  notAfter: Date;
  /** true when this call wrote a new leaf (and possibly a new CA). */
  generated: boolean;
}

/** Options of `ensureCerts()`: the clock to check and issue certificates with, and a log. */
export interface EnsureCertsOptions {
  /** The clock used for validity checks and for new certificates; defaults to new Date(). */
  now?: Date;
  log?: (line: string) => void;
}

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
/** Leaf lifetime, counted from notBefore (an hour before now, for clock skew). Kept under 90 days. */
const LEAF_MS = 89 * DAY;
const CA_MS = 365 * DAY;
/** A leaf that expires sooner than this is replaced. */
const RENEW_MS = 7 * DAY;
const CA_CN = 'omniws local CA';
const DNS_NAMES = ['localhost'];
const IP_ADDRESSES = ['127.0.0.1', '::1'];

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 20_000;

const generateKeyPairAsync = promisify(generateKeyPair);

interface Pair {
  certPem: string;
  keyPem: string;
}

interface Loaded {
  ca?: { pair: Pair; x509: X509Certificate; problem?: string };
  leafProblem?: string;
}

/**
 * Makes sure `dir` (default `certs/out` under process.cwd()) holds a usable CA and leaf,
 * writing new ones when a file is missing or unparsable, when the leaf expires within
 * 7 days of `opts.now`, or when the leaf is not signed by the CA in the directory.
 * A still-valid CA is kept when only the leaf is replaced, so an imported CA stays trusted.
 * Safe to call from several processes at once (a lock file serialises the writers).
 */
export async function ensureCerts(dir?: string, opts: EnsureCertsOptions = {}): Promise<CertPaths> {
  const root = resolve(process.cwd(), dir ?? 'certs/out');
  const now = opts.now ?? new Date();
  const log = opts.log ?? (() => {});
  const paths = {
    ca: join(root, 'ca.pem'),
    caKey: join(root, 'ca-key.pem'),
    cert: join(root, 'cert.pem'),
    key: join(root, 'key.pem'),
  };
  await mkdir(root, { recursive: true });

  let state = await inspect(paths, now);
  let generated = false;
  if (state.leafProblem !== undefined) {
    const release = await lock(join(root, '.lock'));
    try {
      // Another process may have written the files while this one waited for the lock.
      state = await inspect(paths, now);
      if (state.leafProblem !== undefined) {
        log(`regenerating certificates: ${state.leafProblem}`);
        let ca = state.ca?.problem === undefined ? state.ca?.pair : undefined;
        if (ca === undefined) {
          if (state.ca?.problem !== undefined) log(`new CA: ${state.ca.problem}`);
          ca = await issueCa(now);
          await writeAtomic(paths.caKey, ca.keyPem, 0o600);
          await writeAtomic(paths.ca, ca.certPem, 0o644);
        }
        const leaf = await issueLeaf(ca, now);
        await writeAtomic(paths.key, leaf.keyPem, 0o600);
        await writeAtomic(paths.cert, leaf.certPem, 0o644);
        generated = true;
        state = await inspect(paths, now);
        if (state.leafProblem !== undefined) {
          throw new Error(
            `certificates written to ${root} fail their own check: ${state.leafProblem}`,
          );
        }
      }
    } finally {
      await release();
    }
  }

  const certPem = await readFile(paths.cert, 'utf8');
  const leaf = new X509Certificate(certPem);
  const spkiSha256 = spkiHash(leaf);
  log(`${generated ? 'generated' : 'reusing'} certificates in ${root}`);
  log(`SPKI sha256: ${spkiSha256}`);
  log(`CA: ${paths.ca} (NODE_EXTRA_CA_CERTS / Firefox import)`);
  return {
    dir: root,
    ca: paths.ca,
    cert: paths.cert,
    key: paths.key,
    spkiSha256,
    notAfter: new Date(leaf.validTo),
    generated,
  };
}

function spkiHash(cert: X509Certificate): string {
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** Reads and checks the files; `leafProblem` undefined means everything can be reused. */
async function inspect(
  paths: { ca: string; caKey: string; cert: string; key: string },
  now: Date,
): Promise<Loaded> {
  const t = now.getTime();
  const out: Loaded = {};

  const caPair = await readPair(paths.ca, paths.caKey);
  if (typeof caPair === 'string') {
    out.leafProblem = `CA ${caPair}`;
    return out;
  }
  let caX509: X509Certificate;
  try {
    caX509 = new X509Certificate(caPair.certPem);
    if (!caX509.checkPrivateKey(createPrivateKey(caPair.keyPem))) {
      throw new Error('ca-key.pem does not match ca.pem');
    }
  } catch (err) {
    out.leafProblem = `CA unusable (${(err as Error).message})`;
    return out;
  }
  out.ca = { pair: caPair, x509: caX509 };
  // A CA that would expire before a fresh leaf does cannot sign the next leaf.
  if (!caX509.ca || caX509.subject !== `CN=${CA_CN}`) {
    out.ca.problem = 'ca.pem is not an omniws CA';
  } else if (Date.parse(caX509.validFrom) > t || Date.parse(caX509.validTo) < t + LEAF_MS) {
    out.ca.problem = `CA valid ${caX509.validFrom} to ${caX509.validTo}`;
  }

  const leafPair = await readPair(paths.cert, paths.key);
  if (typeof leafPair === 'string') {
    out.leafProblem = `leaf ${leafPair}`;
    return out;
  }
  try {
    const leaf = new X509Certificate(leafPair.certPem);
    if (!leaf.checkPrivateKey(createPrivateKey(leafPair.keyPem))) {
      out.leafProblem = 'key.pem does not match cert.pem';
    } else if (!leaf.checkIssued(caX509) || !leaf.verify(caX509.publicKey)) {
      out.leafProblem = 'cert.pem is not signed by ca.pem';
    } else if (Date.parse(leaf.validFrom) > t) {
      out.leafProblem = `leaf not valid before ${leaf.validFrom}`;
    } else if (Date.parse(leaf.validTo) - t < RENEW_MS) {
      out.leafProblem = `leaf expires ${leaf.validTo}`;
    } else if (!coversLocalNames(leaf)) {
      out.leafProblem = `leaf names are ${leaf.subjectAltName ?? 'missing'}`;
    } else if (out.ca.problem !== undefined) {
      out.leafProblem = out.ca.problem;
    }
  } catch (err) {
    out.leafProblem = `leaf unusable (${(err as Error).message})`;
  }
  return out;
}

function coversLocalNames(leaf: X509Certificate): boolean {
  return [...DNS_NAMES, ...IP_ADDRESSES].every((name) =>
    name.includes(':') || /^[\d.]+$/.test(name)
      ? leaf.checkIP(name) !== undefined
      : leaf.checkHost(name, { wildcards: false }) !== undefined,
  );
}

async function readPair(certPath: string, keyPath: string): Promise<Pair | string> {
  try {
    return {
      certPem: await readFile(certPath, 'utf8'),
      keyPem: await readFile(keyPath, 'utf8'),
    };
  } catch (err) {
    return `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

async function newRsaKey(): Promise<{
  keyPem: string;
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.rsa.PublicKey;
}> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    keyPem: privateKey,
    forgePrivate: forge.pki.privateKeyFromPem(privateKey),
    forgePublic: forge.pki.publicKeyFromPem(publicKey),
  };
}

/** A positive serial of 16 random bytes whose first byte is non-zero (minimal DER INTEGER). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, now: Date, lifetime: number): void {
  const start = Math.floor((now.getTime() - HOUR) / 1000) * 1000;
  cert.validity.notBefore = new Date(start);
  cert.validity.notAfter = new Date(start + lifetime);
}

async function issueCa(now: Date): Promise<Pair> {
  const key = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  cert.serialNumber = randomSerial();
  validity(cert, now, CA_MS);
  const name = [{ name: 'commonName', value: CA_CN }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key.forgePrivate, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
}

async function issueLeaf(ca: Pair, now: Date): Promise<Pair> {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const key = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = key.forgePublic;
  cert.serialNumber = randomSerial();
  validity(cert, now, LEAF_MS);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...DNS_NAMES.map((value) => ({ type: 2, value })),
        ...IP_ADDRESSES.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: key.keyPem };
}

/** Write then rename, so a concurrent reader sees the old file or the new one, never half. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/** An exclusive-create lock file; a lock older than LOCK_STALE_MS is taken as abandoned. */
async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(path).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const age = await stat(path).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > LOCK_STALE_MS) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Certificates made for one run, read into memory; `dir` is removed by `remove()`. */
export interface TempCerts {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** base64 SHA-256 of the leaf's SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  spki: string;
  dir: string;
}

/** A CA and a localhost certificate in a fresh directory under os.tmpdir(). */
export async function tempCerts(name: string): Promise<TempCerts> {
  const dir = await mkdtemp(join(tmpdir(), `omniws-${name}-`));
  const paths = await ensureCerts(dir);
  const [ca, cert, key] = await Promise.all([
    readFile(paths.ca),
    readFile(paths.cert),
    readFile(paths.key),
  ]);
  return { ca, cert, key, spki: paths.spkiSha256, dir };
}

export function removeTempCerts(c: TempCerts): Promise<void> {
  return rm(c.dir, { recursive: true, force: true });
}
