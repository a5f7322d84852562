// A bounded soak over HTTP/2 and HTTP/3: many WebSockets at once on ONE connection (our
// pooled client against our server), each sending a burst of text and binary messages
// and checking that every echo comes back, in order, then closing; several rounds, so a
// connection that carried thousands of streams is checked too. Afterwards no session is
// left, the connection is still the one it was, and memory is back near where it started.
//
// Default (npm test): 1000 WebSockets × 20 messages, 2 rounds. OMNIWS_SOAK=1: 1000 × 100,
// 10 rounds. OMNIWS_SOAK_STREAMS, OMNIWS_SOAK_MESSAGES and OMNIWS_SOAK_ROUNDS override.

import test from 'ava';
import { closeH2Sessions, connectH2 } from '../../src/h2/client.js';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import type { ServerOptions } from '../../src/server/options.js';
import { ok, reply } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';
import { makeCerts, removeCerts, type TestCerts } from '../h2/helpers.js';
import { delay } from '../helpers.js';
import { gc, used } from '../memory.js';
import { burst, collector, type Got } from './burst.js';

const soak = process.env.OMNIWS_SOAK === '1';
const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const STREAMS = num('OMNIWS_SOAK_STREAMS', 1000);
const MESSAGES = num('OMNIWS_SOAK_MESSAGES', soak ? 100 : 20);
const ROUNDS = num('OMNIWS_SOAK_ROUNDS', soak ? 10 : 2);

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('soak-multiplexed');
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await removeCerts(certs);
});

const collect = collector(MESSAGES);

interface Target {
  /** The server's live WebSocket sessions. */
  sessions(): number;
  open(path: string, got: Got): Promise<Session<Got>>;
  close(): Promise<void>;
}

async function soakOn(
  t: import('ava').ExecutionContext,
  name: string,
  start: (opts: ServerOptions) => Promise<Target>,
): Promise<void> {
  t.timeout(soak ? 30 * 60_000 : 120_000);
  let serverEnds = 0;
  // the client ports the WebSockets came from: one connection, one port
  const ports = new Set<number | undefined>();
  const target = await start({
    routes: {
      '/': {
        state: null,
        handler: {
          init: (req, s) => {
            ports.add(req.remotePort);
            return ok(s);
          },
          handleIn: (msg, s) => reply(s, msg.data),
          terminate: () => {
            serverEnds++;
          },
        },
      },
    },
  });
  t.teardown(() => target.close());

  const problems: string[] = [];
  const one = (i: number) =>
    burst((got) => target.open('/', got), i, MESSAGES, problems, 'WebSocket');
  const round = async (base: number, n: number) => {
    await Promise.all(
      Array.from({ length: n }, (_, k) =>
        one(base + k).catch((err) => {
          problems.push(`WebSocket ${base + k}: ${(err as Error).message}`);
        }),
      ),
    );
  };
  const settle = async (ends: number) => {
    const deadline = Date.now() + 10_000;
    while ((target.sessions() > 0 || serverEnds < ends) && Date.now() < deadline) await delay(10);
  };

  // warm up (JIT, pools, the connection itself) before the baseline
  await round(-1000, 20);
  await settle(20);
  await gc();
  const baseline = used();
  const startEnds = serverEnds;

  const started = performance.now();
  for (let r = 0; r < ROUNDS; r++) await round(r * STREAMS, STREAMS);
  const seconds = (performance.now() - started) / 1000;
  await settle(startEnds + ROUNDS * STREAMS);
  await gc();
  const grown = used() - baseline;
  t.log(
    `${name}: ${ROUNDS} × ${STREAMS} WebSockets at once on one connection, ` +
      `${2 * ROUNDS * STREAMS * MESSAGES} messages each way in ${seconds.toFixed(1)} s; ` +
      `memory ${grown >= 0 ? '+' : ''}${(grown / 1e6).toFixed(1)} MB after`,
  );
  if (problems.length > 0) t.log(`${problems.length} problems`);
  t.deepEqual(problems.slice(0, 10), []);
  t.is(ports.size, 1, 'every WebSocket rode the one connection');
  t.is(target.sessions(), 0, 'no session left');
  t.is(serverEnds - startEnds, ROUNDS * STREAMS, 'terminate once per server session');
  // back to baseline: what is left is not proportional to the traffic (a leak of 4 KiB
  // per WebSocket would already be 8 MiB at the default counts)
  t.true(grown < 8 * 1024 * 1024, `memory grew by ${(grown / 1e6).toFixed(1)} MB`);
}

test.serial(
  `soak h2: ${ROUNDS} × ${STREAMS} WebSockets at once × ${MESSAGES} messages each way, none lost or reordered`,
  (t) =>
    soakOn(t, 'h2', async (opts) => {
      const l = await listenH2({ ...opts, tls: { cert: certs.cert, key: certs.key } });
      const tls = { ca: certs.ca };
      return {
        sessions: () => l.registry.sessions.size,
        open: (path, got) =>
          connectH2(`${l.url}${path}`, {
            handler: collect,
            state: got,
            tls,
            sessionIdleTimeout: 60_000,
          }),
        close: async () => {
          closeH2Sessions();
          await l.close();
        },
      };
    }),
);

test.serial(
  `soak h3: ${ROUNDS} × ${STREAMS} WebSockets at once × ${MESSAGES} messages each way, none lost or reordered`,
  (t) =>
    soakOn(t, 'h3', async (opts) => {
      const l = await listenH3({
        ...opts,
        cert: certs.cert,
        key: certs.key,
        hosts: ['127.0.0.1'],
        // room for a whole round on the one connection even before the MAX_STREAMS that
        // returns the previous round's streams arrives (quiche sends it once half the
        // window is used; our client moves to a new connection when none is left)
        quic: { maxStreamsBidi: 2 * STREAMS + 64 },
      });
      const tls = { ca: certs.ca };
      return {
        sessions: () => l.registry.sessions.size,
        open: (path, got) =>
          connectH3(`wss://127.0.0.1:${l.port}${path}`, {
            handler: collect,
            state: got,
            tls,
            sessionIdleTimeout: 60_000,
          }),
        close: async () => {
          closeH3Connections();
          await l.close();
        },
      };
    }),
);
