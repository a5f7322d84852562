// The QUIC knobs of issue 20: the congestion controller, HyStart and pacing per server
// and per client (quic.cc / hystart / pacing), and the statistics a session over
// HTTP/3 reports (session.pathStats(): RTT, min RTT, cwnd, path MTU, counters).

import test from 'ava';
import { Agent } from '../../src/client/agent.js';
import { connect } from '../../src/client/connect.js';
import { connectH1 } from '../../src/h1/client.js';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { listen } from '../../src/server/h1-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import type { PathStats } from '../../src/ws/transport.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import { until } from '../helpers.js';

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

test.serial(
  'a second connection to the same server resumes its TLS session: no certificate crosses the wire again',
  async (t) => {
    const srv = await listenH3({
      cert: certs.cert,
      key: certs.key,
      hosts: ['127.0.0.1'],
      route: () => ({ handler: echo, state: null }),
    });
    // an agent of our own, whose pooled connections close 10 ms after their last WebSocket
    const agent = new Agent({ idleTimeout: 10 });
    try {
      const seen: PathStats[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await connect(`wss://127.0.0.1:${srv.port}/`, {
          http: 3,
          agent,
          handler: echo,
          state: null,
          tls: { ca: certs.ca, servername: 'localhost' },
        });
        seen.push(s.pathStats()!);
        s.close(1000);
        await s.closed;
        // the pooled connection closes, and keeps the ticket the server sent
        await until(() => agent.size === 0, 3000, 'the pooled connection to close');
      }
      t.deepEqual(
        seen.map((s) => s.resumed),
        [false, true, true],
      );
      // the full handshake carries the certificate chain, a resumed one does not
      t.true(seen[1]!.bytesReceived < seen[0]!.bytesReceived - 500, JSON.stringify(seen));
      // a fresh agent has no ticket: a full handshake
      const other = new Agent({ idleTimeout: 10 });
      const s = await connect(`wss://127.0.0.1:${srv.port}/`, {
        http: 3,
        agent: other,
        handler: echo,
        state: null,
        tls: { ca: certs.ca, servername: 'localhost' },
      });
      t.false(s.pathStats()!.resumed);
      s.close(1000);
      await s.closed;
      other.close();
    } finally {
      agent.close();
      await srv.close();
    }
  },
);
