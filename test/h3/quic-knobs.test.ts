// The QUIC knobs of issue 20: the congestion controller, HyStart and pacing per server
// and per client (quic.cc / hystart / pacing), and the statistics a session over
// HTTP/3 reports (session.pathStats(): RTT, min RTT, cwnd, path MTU, counters).

import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('quic-knobs');
});
test.after.always(async () => {
  closeH3Connections();
  if (certs) await removeCerts(certs);
});

const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };

for (const cc of ['reno', 'cubic', 'bbr'] as const) {
  test.serial(
    `cc '${cc}' on both sides: 1 MiB each way, and the stats say what went over the path`,
    async (t) => {
      const srv = await listenH3({
        cert: certs.cert,
        key: certs.key,
        hosts: ['127.0.0.1'],
        quic: { cc, pacing: cc !== 'reno', hystart: cc === 'cubic' },
        route: () => ({ handler: echo, state: null, maxMessage: 4 << 20 }),
      });
      try {
        let got!: (n: number) => void;
        const echoed = new Promise<number>((r) => {
          got = r;
        });
        const s = await connectH3(`wss://127.0.0.1:${srv.port}/`, {
          handler: {
            handleIn: (m, st) => {
              got((m.data as Buffer).length);
              return ok(st);
            },
          },
          state: null,
          maxMessage: 4 << 20,
          tls: { ca: certs.ca, servername: 'localhost' },
          quic: { cc },
        });
        s.send(Buffer.alloc(1 << 20, 7));
        t.is(await echoed, 1 << 20);
        const st = s.pathStats()!;
        t.is(st.cc, cc);
        t.false(st.resumed);
        t.true(st.rtt > 0 && st.minRtt > 0 && st.minRtt <= st.rtt, JSON.stringify(st));
        t.true(st.cwnd > 0);
        // loopback: the large datagrams of settingsFor()
        t.true(st.pmtu >= 1200);
        // what went out carries the megabyte, what came in carries its echo
        t.true(st.bytesSent > 1 << 20 && st.bytesReceived > 1 << 20, JSON.stringify(st));
        t.true(st.packetsSent > 10 && st.packetsReceived > 10);
        t.is(st.packetsLost, 0);
        s.close(1000);
        await s.closed;
      } finally {
        await srv.close();
      }
    },
  );
}

test('a congestion controller the binding does not offer is refused with the list', async (t) => {
  await t.throwsAsync(
    listenH3({
      cert: certs.cert,
      key: certs.key,
      hosts: ['127.0.0.1'],
      quic: { cc: 'bbr2' as 'bbr' },
      route: () => ({ handler: echo, state: null }),
    }),
    { message: /quic\.cc must be one of reno, cubic, bbr, not bbr2/ },
  );
});

test('pathStats() is undefined over HTTP/1.1: there is no QUIC path to describe', async (t) => {
  const srv = await listen({ route: () => ({ handler: echo, state: null }) });
  try {
    const s = await connectH1(`ws://127.0.0.1:${srv.port}/`, { handler: echo, state: null });
    t.is(s.pathStats(), undefined);
    s.close(1000);
    await s.closed;
  } finally {
    await srv.close();
  }
});
