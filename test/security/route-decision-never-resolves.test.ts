// Finding (issue #10, limits): an async `route()`, or `handle()` for an upgrade request,
// that never settled held the request forever: the h1 socket stayed paused, the h2/h3
// stream open, and the upgrade kept its `maxConnections` slot, so a route stuck on a
// dead backend locked every client out once the slots were gone. Now the decision is
// bounded by `decisionTimeout`: past it the upgrade is answered 503 + Retry-After, the
// application hears WS_ERR_DECISION_TIMEOUT through `onError`, the slot is free again,
// and an answer that arrives late starts no session. Plain requests to `handle()` are
// not limited (a long poll is an answer that takes its time).

import test from 'ava';
import { connect } from '../../src/client/connect.js';
import type { RequestInfo, WebSocketRoute } from '../../src/server/handler.js';
import { type Response, websocket } from '../../src/server/handler.js';
import type { ServerOptions } from '../../src/server/options.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok, reply } from '../../src/ws/handler.js';
import { cleanup, startServer, type Version, versionName, versions } from '../client/servers.js';
import { delay, until } from '../helpers.js';

test.after.always(cleanup);

const DECISION_MS = 150;

interface Probe {
  opts: ServerOptions;
  errors: Error[];
  inits: string[];
}

function probe(kind: 'route' | 'handle'): Probe {
  const errors: Error[] = [];
  const inits: string[] = [];
  const wsRoute = (name: string): WebSocketRoute => ({
    handler: {
      init: (_req, s: null) => {
        inits.push(name);
        return ok(s);
      },
      handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data),
    },
    state: null,
  });
  const decide = (pathname: string): Promise<WebSocketRoute> | WebSocketRoute => {
    if (pathname === '/hang') return new Promise<never>(() => {});
    if (pathname === '/late') return delay(DECISION_MS * 3).then(() => wsRoute('late'));
    return wsRoute('echo');
  };
  const base: ServerOptions = {
    decisionTimeout: DECISION_MS,
    maxConnections: 1,
    onError: (e) => errors.push(e),
  };
  const opts: ServerOptions =
    kind === 'route'
      ? { ...base, route: (req: RequestInfo) => decide(req.pathname) }
      : {
          ...base,
          handle: async (req): Promise<Response | undefined> => {
            if (req.upgrade) {
              const r = await decide(req.pathname);
              return websocket(r.handler, r.state);
            }
            // a plain request may take longer than decisionTimeout
            await delay(DECISION_MS * 2);
            return { status: 200, body: 'slow but fine' };
          },
        };
  return { opts, errors, inits };
}

async function refusedWith(p: Promise<unknown>): Promise<number | undefined> {
  try {
    const s = (await p) as { abort(): void };
    s.abort();
    return 101;
  } catch (err) {
    return (err as WebSocketError).status;
  }
}

for (const v of versions() as Version[]) {
  for (const kind of ['route', 'handle'] as const) {
    test(`${versionName(v)}: a ${kind}() that never decides is 503 after decisionTimeout and frees its slot`, async (t) => {
      const p = probe(kind);
      const server = await startServer(v, p.opts);
      t.teardown(() => server.close());
      const handler = { handleIn: (_m: unknown, s: null) => ok(s) };
      const open = (path: string) =>
        connect(`${server.url}${path}`, { ...server.client, handler, state: null, timeout: 5000 });

      // maxConnections is 1: the hanging decision holds the only slot until it times out
      t.is(await refusedWith(open('/hang')), 503);
      await until(() => p.errors.length === 1);
      t.is((p.errors[0] as WebSocketError).code, 'WS_ERR_DECISION_TIMEOUT');
      t.regex(
        p.errors[0]!.message,
        new RegExp(`${kind}\\(\\) did not decide within ${DECISION_MS} ms`),
      );

      const s = await open('/echo');
      await until(() => p.inits.length === 1);
      t.deepEqual(p.inits, ['echo']);
      s.close(1000);
      await s.closed;

      // a decision that arrives after the 503 starts nothing
      t.is(await refusedWith(open('/late')), 503);
      await delay(DECISION_MS * 4);
      t.deepEqual(p.inits, ['echo']);
      t.is(p.errors.length, 2);
    });
  }
}

test('h1: a plain request to handle() is not bound by decisionTimeout', async (t) => {
  const p = probe('handle');
  const server = await startServer(1, p.opts);
  t.teardown(() => server.close());
  const res = await fetch(`${server.url.replace('ws:', 'http:')}/slow`);
  t.is(res.status, 200);
  t.is(await res.text(), 'slow but fine');
  t.deepEqual(p.errors, []);
});

test('decisionTimeout 0: no limit, a slow route() still opens its WebSocket', async (t) => {
  const p = probe('route');
  const server = await startServer(1, { ...p.opts, decisionTimeout: 0 });
  t.teardown(() => server.close());
  const s = await connect(`${server.url}/late`, {
    ...server.client,
    handler: { handleIn: (_m: unknown, st: null) => ok(st) },
    state: null,
  });
  await until(() => p.inits.length === 1);
  t.deepEqual(p.inits, ['late']);
  t.deepEqual(p.errors, []);
  s.close(1000);
  await s.closed;
});
