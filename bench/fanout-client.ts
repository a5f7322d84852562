// Fan-out load over HTTP/2 or HTTP/3 (and HTTP/1.1, for reference with the same client):
// SUBS WebSockets spread over CONNS connections (one Agent per connection) join a room
// (/pubsub/room of `omniws serve`); the first PUBS of them publish, each keeping WINDOW of
// its own messages in flight (a message comes back to its sender); deliveries/s are
// counted across all WebSockets, as ../shared/bench/fanout.mjs does over raw HTTP/1.1.
//
//   node dist/bench/fanout-client.js --url wss://localhost:P/pubsub/room --http 2 \
//     --subs 1000 --conns 10 --pubs 1 --size 64 --window 8 --seconds 3 --ca FILE

import { readFileSync } from 'node:fs';
import { Agent } from '../src/client/agent.js';
import { connect } from '../src/client/connect.js';
import { ok } from '../src/ws/handler.js';
import type { Session } from '../src/ws/session.js';

const argv = process.argv.slice(2);
const opt = (name: string, d: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : d;
};
const url = opt('url', '');
const http = Number(opt('http', '2')) as 1 | 2 | 3;
const subs = Number(opt('subs', '1000'));
const conns = Number(opt('conns', '10'));
const pubs = Number(opt('pubs', '1'));
const size = Number(opt('size', '64'));
const win = Number(opt('window', '8'));
const seconds = Number(opt('seconds', '3'));
const ca = opt('ca', '');

interface Member {
  session: Session<null>;
  pub: boolean;
  sent: number;
  arrived: number;
}

let counting = false;
let deliveries = 0;
const payload = Buffer.alloc(size, 7);
const members: Member[] = [];
const agents = Array.from({ length: conns }, () => new Agent({ idleTimeout: 100 }));

function pump(m: Member): void {
  const k = Math.floor(win - (m.sent - m.arrived / pubs));
  for (let i = 0; i < k; i++) m.session.send(payload);
  if (k > 0) m.sent += k;
}

async function open(i: number): Promise<Member> {
  const m = { pub: i < pubs, sent: 0, arrived: 0 } as Member;
  m.session = await connect(url, {
    http,
    agent: agents[i % conns]!,
    ...(ca && { tls: { ca: readFileSync(ca) } }),
    state: null,
    handler: {
      handleIn: (_msg, s) => {
        if (counting) deliveries++;
        if (m.pub) {
          m.arrived++;
          pump(m);
        }
        return ok(s);
      },
    },
  });
  return m;
}

for (let i = 0; i < subs; i += 100) {
  const batch: Promise<Member>[] = [];
  for (let j = i; j < Math.min(subs, i + 100); j++) batch.push(open(j));
  members.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 300));
const P = members.filter((m) => m.pub);
const iv = setInterval(() => {
  for (const p of P) pump(p);
}, 5);
for (const p of P) pump(p);
await new Promise((r) => setTimeout(r, 500));
counting = true;
const t0 = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
counting = false;
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
clearInterval(iv);
console.log(
  JSON.stringify({
    http,
    subs,
    conns,
    pubs,
    size,
    window: win,
    seconds: +dt.toFixed(2),
    deliveriesPerSec: Math.round(deliveries / dt),
    errors: 0,
  }),
);
for (const m of members) m.session.abort();
process.exit(0);
