// Real third-party servers for the RFC 8441 interop and conformance tests, from Debian
// (scripts/test-deps.mjs installs them): Hypercorn (an ASGI server that does WebSockets
// over HTTP/1.1 and HTTP/2 itself) running interop/python/hypercorn_echo.py, and haproxy
// and nghttpx as HTTP/2 front ends that turn an extended CONNECT into an HTTP/1.1
// Upgrade to a backend. Each listens on a free loopback port and is stopped after.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCerts } from './certs.js';
import { freeTcpPort } from './serve-process.js';

const here = dirname(fileURLToPath(import.meta.url));
/** interop/python in the source tree (from dist/test). */
const peersDir = join(here, '..', '..', 'interop', 'python');

export const PYTHON = '/usr/bin/python3';
export const HAPROXY = '/usr/sbin/haproxy';
export const NGHTTPX = '/usr/sbin/nghttpx';

const installHint = 'scripts/test-deps.mjs installs it with apt-get (npm test runs it)';

/** Why `what` cannot run here, or undefined when it can. */
export function peerMissing(what: 'hypercorn' | 'haproxy' | 'nghttpx'): string | undefined {
  if (what === 'hypercorn') {
    const r = spawnSync(PYTHON, ['-c', 'import hypercorn'], { stdio: 'ignore' });
    return r.status === 0 ? undefined : `python3-hypercorn is missing: ${installHint}`;
  }
  const bin = what === 'haproxy' ? HAPROXY : NGHTTPX;
  return existsSync(bin) ? undefined : `${bin} is missing: ${installHint}`;
}

export interface PeerServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on the port (the process may print nothing). */
async function listening(port: number, p: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (p.exitCode !== null || p.signalCode !== null) {
      throw new Error(`${p.spawnfile} exited (${p.exitCode ?? p.signalCode}): ${out()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) {
      p.kill('SIGKILL');
      throw new Error(`${p.spawnfile} did not listen on ${port}: ${out()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function run(cmd: string, args: string[], port: number, cwd?: string): Promise<PeerServer> {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd && { cwd }) });
  let out = '';
  p.stdout!.on('data', (d) => {
    out += d;
  });
  p.stderr!.on('data', (d) => {
    out += d;
  });
  await listening(port, p, () => out);
  return {
    port,
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Hypercorn with the echo app; TLS (ALPN h2, http/1.1) when certificates are given, else cleartext. */
export async function startHypercorn(certs?: TestCerts): Promise<PeerServer> {
  const port = await freeTcpPort();
  const tls = certs
    ? ['--certfile', join(certs.dir, 'cert.pem'), '--keyfile', join(certs.dir, 'key.pem')]
    : [];
  return run(
    PYTHON,
    ['-m', 'hypercorn', '--bind', `127.0.0.1:${port}`, ...tls, 'hypercorn_echo:app'],
    port,
    peersDir,
  );
}

/** haproxy: TLS with ALPN h2/http1.1 in front, `backendPort` (HTTP/1.1, cleartext) behind. */
export async function startHaproxy(certs: TestCerts, backendPort: number): Promise<PeerServer> {
  const port = await freeTcpPort();
  const pem = join(certs.dir, 'haproxy.pem');
  await writeFile(pem, Buffer.concat([certs.cert, certs.key]));
  const cfg = join(certs.dir, `haproxy-${port}.cfg`);
  await writeFile(
    cfg,
    [
      'global',
      '  log stderr format raw local0 err',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  timeout tunnel 60s',
      'frontend fe',
      `  bind 127.0.0.1:${port} ssl crt ${pem} alpn h2,http/1.1`,
      '  default_backend be',
      'backend be',
      `  server omniws 127.0.0.1:${backendPort}`,
      '',
    ].join('\n'),
  );
  return run(HAPROXY, ['-db', '-f', cfg], port);
}

/** nghttpx: TLS (h2) in front, `backendPort` (HTTP/1.1, cleartext) behind. */
export async function startNghttpx(certs: TestCerts, backendPort: number): Promise<PeerServer> {
  const port = await freeTcpPort();
  return run(
    NGHTTPX,
    [
      // not Debian's /etc/nghttpx/nghttpx.conf: its frontend (127.0.0.1:3000) would be
      // opened too, and fail when anything else has that port
      '--conf=/dev/null',
      `--frontend=127.0.0.1,${port}`,
      `--backend=127.0.0.1,${backendPort}`,
      '--workers=1',
      '--no-ocsp',
      '--errorlog-file=/dev/stderr',
      '--accesslog-file=/dev/null',
      join(certs.dir, 'key.pem'),
      join(certs.dir, 'cert.pem'),
    ],
    port,
  );
}
