// WebSocket setup rate with the omniws client against an omniws TLS server that
// speaks h2 and HTTP/1.1 on one port: `h2` opens WebSockets as extended-CONNECT
// streams of one pooled HTTP/2 session; `h1` opens each over a new TLS connection
// with an Upgrade. Each of `conns` loops connects, waits for the handshake, closes
// (waiting for the close handshake) and starts again.
//
//   node dist/bench/h2-setup.js --url wss://localhost:PORT/ --ca CA.pem --http 1|2 [--seconds 3] [--conns 16]
//
// Prints one JSON line.

import { readFileSync } from 'node:fs';
import { connect } from '../src/client/connect.js';
import { closeH2Sessions } from '../src/h2/client.js';
import { ok } from '../src/ws/handler.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const url = arg('url') ?? 'wss://localhost:8443/';
const ca = readFileSync(arg('ca') ?? 'certs/out/ca.pem');
const http = Number(arg('http') ?? 2) as 1 | 2;
const seconds = Number(arg('seconds') ?? 3);
const conns = Number(arg('conns') ?? 16);

let done = false;
let count = 0;
let errors = 0;
const handler = { handleIn: (_m: unknown, s: null) => ok(s) };

async function loop(): Promise<void> {
  while (!done) {
    try {
      const session = await connect(url, { http, tls: { ca }, state: null, handler });
      count++;
      session.close();
      await session.closed;
    } catch {
      errors++;
    }
  }
}

// one warm-up connection (and, for h2, the session the loops share)
const first = await connect(url, { http, tls: { ca }, state: null, handler });
first.close();
await first.closed;
const t0 = performance.now();
const loops = Array.from({ length: conns }, loop);
await new Promise((r) => setTimeout(r, seconds * 1000));
done = true;
const n = count;
const dt = (performance.now() - t0) / 1000;
await Promise.all(loops);
closeH2Sessions();
console.log(
  JSON.stringify({ http, conns, seconds: +dt.toFixed(3), perSec: Math.round(n / dt), errors }),
);
