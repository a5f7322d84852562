// Installs the real peers the interop tests drive, when they are missing: Debian's
// chromium, firefox-esr (with libnss3-tools), redis-server, python3-websockets,
// python3-hypercorn, haproxy, nghttp2-proxy, tshark, openssl and curl (apt, as root).
// Never fails the run by itself: the tests that need a peer report what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const want = [];
if (!existsSync('/usr/bin/chromium')) want.push('chromium');
// Firefox runs the interop page headless and reports back (test/interop/firefox.test.ts);
// certutil puts the test CA into its profile
if (!existsSync('/usr/bin/firefox-esr')) want.push('firefox-esr');
if (!existsSync('/usr/bin/certutil')) want.push('libnss3-tools');
// a real Redis for the scale-out tests (test/redis.ts starts it on a free port)
if (!existsSync('/usr/bin/redis-server')) want.push('redis-server');
const py = spawnSync('/usr/bin/python3', ['-c', 'import websockets'], { stdio: 'ignore' });
if (py.status !== 0) want.push('python3-websockets');
// the RFC 8441 peers of the conformance tests: Hypercorn (an ASGI server), haproxy and
// nghttpx (front ends before an HTTP/1.1 backend)
const hyper = spawnSync('/usr/bin/python3', ['-c', 'import hypercorn'], { stdio: 'ignore' });
if (hyper.status !== 0) want.push('python3-hypercorn');
if (!existsSync('/usr/sbin/haproxy')) want.push('haproxy');
if (!existsSync('/usr/sbin/nghttpx') && !existsSync('/usr/bin/nghttpx')) want.push('nghttp2-proxy');
// tshark decrypts a capture with omniws's key log (test/h3/keylog.test.ts)
if (!existsSync('/usr/bin/tshark')) want.push('tshark');
// openssl makes the short-lived ECDSA certificates of the serverCertificateHashes tests
if (!existsSync('/usr/bin/openssl')) want.push('openssl');
const curl = spawnSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' });
if (curl.status !== 0) want.push('curl');
if (want.length === 0 || process.env.OMNIWS_NO_APT) process.exit(0);

const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' });
if (apt.status !== 0) {
  console.error(`test-deps: apt-get not found; cannot install ${want.join(' ')}`);
  process.exit(0);
}
const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
console.error(`test-deps: installing ${want.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args) =>
  spawnSync(
    sudo.length ? sudo[0] : args[0],
    sudo.length ? [...sudo.slice(1), ...args] : args.slice(1),
    { stdio: ['ignore', 'ignore', 'inherit'], env },
  );
run(['apt-get', 'update', '-qq']);
const r = run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...want]);
if (r.status !== 0)
  console.error(`test-deps: apt-get install ${want.join(' ')} failed (exit ${r.status})`);
