// A bounded soak over HTTP/1.1: many connections (our client against our server), each
// sending a burst of messages and checking that every echo comes back, in order, then
// closing; afterwards no session is left and memory is back near where it started.
//
// Default (npm test): 200 connections × 20 messages. OMNIWS_SOAK=1: 10 000 × 100.
// OMNIWS_SOAK_CONNECTIONS, OMNIWS_SOAK_MESSAGES and OMNIWS_SOAK_CONCURRENCY (connections
// open at once; default 200, 1000 with OMNIWS_SOAK=1) override the counts.

import test from 'ava';
import { connectH1 } from '../../src/h1/client.js';
import { listen } from '../../src/server/h1-server.js';
import { reply } from '../../src/ws/handler.js';
import { delay } from '../helpers.js';
import { gc, used } from '../memory.js';
import { burst, collector } from './burst.js';

const soak = process.env.OMNIWS_SOAK === '1';
const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const CONNECTIONS = num('OMNIWS_SOAK_CONNECTIONS', soak ? 10_000 : 200);
const MESSAGES = num('OMNIWS_SOAK_MESSAGES', soak ? 100 : 20);
const CONCURRENCY = num('OMNIWS_SOAK_CONCURRENCY', soak ? 1000 : 200);

const collect = collector(MESSAGES);

test.serial(
  `soak: ${CONNECTIONS} connections × ${MESSAGES} messages each way, none lost or reordered`,
  async (t) => {
    t.timeout(soak ? 30 * 60_000 : 60_000);
    let serverEnds = 0;
    const srv = await listen({
      routes: {
        '/': {
          state: null,
          handler: {
            handleIn: (msg, s) => reply(s, msg.data),
            terminate: () => {
              serverEnds++;
            },
          },
        },
      },
    });
    t.teardown(() => srv.close());

    const problems: string[] = [];
    const one = (i: number) =>
      burst(
        (got) => connectH1(`${srv.url}/`, { handler: collect, state: got }),
        i,
        MESSAGES,
        problems,
      );

    // warm up (JIT, pools) before the baseline
    await Promise.all(Array.from({ length: 20 }, (_, i) => one(-1 - i)));
    while (srv.registry.sessions.size > 0) await delay(5);
    await gc();
    const baseline = used();
    const startEnds = serverEnds;

    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < CONNECTIONS) {
        const i = next++;
        try {
          await one(i);
        } catch (err) {
          problems.push(`connection ${i}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, CONNECTIONS) }, worker));
    const seconds = (performance.now() - started) / 1000;

    const deadline = Date.now() + 10_000;
    while (
      (srv.registry.sessions.size > 0 || serverEnds - startEnds < CONNECTIONS) &&
      Date.now() < deadline
    ) {
      await delay(10);
    }
    await gc();
    const grown = used() - baseline;
    t.log(
      `${CONNECTIONS} connections, ${2 * CONNECTIONS * MESSAGES} messages each way in ${seconds.toFixed(1)} s; ` +
        `memory ${grown >= 0 ? '+' : ''}${(grown / 1e6).toFixed(1)} MB after`,
    );
    if (problems.length > 0) t.log(`${problems.length} problems`);
    t.deepEqual(problems.slice(0, 10), []);
    t.is(srv.registry.sessions.size, 0, 'no session left');
    t.is(serverEnds - startEnds, CONNECTIONS, 'terminate once per server session');
    // back to baseline: what is left is not proportional to the traffic
    t.true(grown < 16 * 1024 * 1024, `memory grew by ${(grown / 1e6).toFixed(1)} MB`);
  },
);
