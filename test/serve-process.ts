// A real `omniws serve` process for the tests that kill and restart a server (issue 16)
// or run several on one Redis (issue 18), and free ports to put one on.

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'omniws.js');

/** A TCP port nothing listens on (bound once, then released). */
export async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A UDP port nothing is bound to (bound once, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

/**
 * `omniws serve` with its TLS endpoint (h1, h2, h3) on `port` and its certificates in
 * `dir`; resolves once it printed its endpoints.
 */
export function startServeProcess(port: number, dir: string): Promise<ChildProcess> {
  return spawnServe(['--tls-port', String(port), '--certs', dir], 'Node clients:');
}

/** `omniws serve` with `args`; resolves once its output includes `ready` (all of it goes to `onOutput`). */
export function spawnServe(
  args: string[],
  ready: string,
  onOutput?: (chunk: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, 'serve', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`serve did not start: ${out}`));
    }, 20_000);
    p.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}): ${out}`));
    });
    p.stdout!.on('data', (d) => {
      onOutput?.(String(d));
      out += d;
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
  });
}

/** SIGKILL, and wait (at most 10 s) until the process is gone. */
export async function killProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    exited,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the server process did not exit')), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
}
