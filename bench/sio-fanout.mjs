// Fan-out load for the Socket.IO room (bench/sio-room.mjs), as ../shared/bench/fanout.mjs
// does for raw WebSockets: SUBS socket.io-client connections join the room, PUBS of them
// publish 'm' events keeping WINDOW of their own in flight; deliveries/s are counted.
// usage: node bench/sio-fanout.mjs --url http://127.0.0.1:PORT --subs 5000 --pubs 1 --size 64 --window 8 --seconds 3
import { io } from 'socket.io-client';

const a = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (acc, v, i, arr) => (v.startsWith('--') ? acc.concat([[v.slice(2), arr[i + 1]]]) : acc),
      [],
    ),
);
const subs = +(a.subs ?? 1000);
const pubs = +(a.pubs ?? 1);
const size = +(a.size ?? 64);
const win = +(a.window ?? 8);
const secs = +(a.seconds ?? 3);
const payload = Buffer.alloc(size, 7);
let deliveries = 0;
let counting = false;
const conns = [];
function open(isPub) {
  return new Promise((resolve, reject) => {
    const s = io(a.url, { transports: ['websocket'], forceNew: true, reconnection: false });
    const st = { s, pub: isPub, sent: 0, mine: 0 };
    s.on('m', () => {
      if (counting) deliveries++;
      if (st.pub) st.mine++;
    });
    s.once('connect', () => resolve(st));
    s.once('connect_error', reject);
  });
}
for (let i = 0; i < subs; i += 200) {
  const batch = [];
  for (let j = i; j < Math.min(subs, i + 200); j++) batch.push(open(j < pubs));
  conns.push(...(await Promise.all(batch)));
}
await new Promise((r) => setTimeout(r, 300));
const P = conns.filter((c) => c.pub);
const pump = () => {
  for (const p of P) {
    const k = Math.floor(win - (p.sent - p.mine / P.length));
    for (let i = 0; i < k; i++) p.s.emit('m', payload);
    if (k > 0) p.sent += k;
  }
};
const iv = setInterval(pump, 0);
pump();
await new Promise((r) => setTimeout(r, 500));
counting = true;
const t0 = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, secs * 1000));
counting = false;
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
clearInterval(iv);
console.log(
  JSON.stringify({
    subs,
    pubs,
    size,
    window: win,
    seconds: +dt.toFixed(2),
    deliveriesPerSec: Math.round(deliveries / dt),
    errors: 0,
  }),
);
for (const c of conns) c.s.disconnect();
process.exit(0);
