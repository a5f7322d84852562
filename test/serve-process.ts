// A real `omniws serve` process for the tests that kill and restart a server (issue 16)
// or run several on one Redis (issue 18), and free ports to put one on.

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'omniws.js');

// Ports for servers that must be told theirs before they start (another process, a
// restart on the same port). Not port 0's pick released: the kernel hands the same range
// (ip_local_port_range, 32768-60999) to every outgoing connection, and with thousands of
// them in the tests beside, one took a port between its release and the server's bind
// (EADDRINUSE). These come from below that range, from a cursor that starts at a random
// place in each test process, and are checked free on TCP and UDP (h3 shares the number).
const LOW = 20_000;
const HIGH = 32_000;
let cursor = LOW + Math.floor(Math.random() * (HIGH - LOW));

function nextCandidate(): number {
  cursor = cursor >= HIGH ? LOW : cursor + 1;
  return cursor;
}

async function tcpFree(port: number): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function udpFree(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free on TCP and UDP on 127.0.0.1, outside the range the kernel picks from. */
export async function freeTcpPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = nextCandidate();
    if ((await tcpFree(port)) && (await udpFree(port))) return port;
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
}

/** The same, for a UDP server: free on both. */
export const freeUdpPort = freeTcpPort;

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
