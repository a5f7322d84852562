// omniws against real RFC 8441 implementations from Debian: Hypercorn as a WebSocket
// server over HTTP/1.1 and HTTP/2, and haproxy and nghttpx as HTTP/2 front ends that
// turn the extended CONNECT into an HTTP/1.1 Upgrade to an omniws backend.
//
// The close over HTTP/2 is timed: Hypercorn sends its END_STREAM only after the
// client's, so a client that waited for the server's END_STREAM first (as over TCP)
// held every close to its closeTimeout (10 s). The client now ends its stream as soon
// as the close handshake is complete.

import test from 'ava';
import { type CloseEvent, type ErrorEvent, WebSocket } from '../../src/client/whatwg.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import { listen } from '../../src/server/h1-server.js';
import type { Handler } from '../../src/ws/handler.js';
import { reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';
import {
  type PeerServer,
  peerMissing,
  startHaproxy,
  startHypercorn,
  startNghttpx,
} from '../peer-servers.js';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('rfc8441-peers');
});
test.after.always(async () => {
  closeH2Sessions();
  if (certs) await removeCerts(certs);
});

interface Run {
  echoed: (string | Buffer)[];
  code: number;
  reason: string;
  wasClean: boolean;
  closeMs: number;
  protocol: string;
}

/** One WebSocket: open, echo a text and a binary message, close with 4000 "bye", timed. */
async function roundTrip(url: string, http: 1 | 2, protocols: string[] = []): Promise<Run> {
  const ws = new WebSocket(url, protocols, { http, tls: { ca: certs.ca }, closeTimeout: 10_000 });
  ws.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error(`${url} over h${http}: ${(e as ErrorEvent).message}`));
  });
  const echoed: (string | Buffer)[] = [];
  const two = new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      echoed.push(e.data as string | Buffer);
      if (echoed.length === 2) resolve();
    };
  });
  ws.send('héllo');
  ws.send(Buffer.from([0, 1, 2, 255]));
  await two;
  const t0 = performance.now();
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.onclose = (e) => resolve(e as CloseEvent);
  });
  ws.close(4000, 'bye');
  const e = await closed;
  return {
    echoed,
    code: e.code,
    reason: e.reason,
    wasClean: e.wasClean,
    closeMs: performance.now() - t0,
    protocol: ws.protocol,
  };
}

function checkRun(t: import('ava').ExecutionContext, r: Run): void {
  t.deepEqual(r.echoed, ['héllo', Buffer.from([0, 1, 2, 255])]);
  t.is(r.code, 4000);
  t.is(r.reason, 'bye');
  t.true(r.wasClean);
  // the full closeTimeout (10 s) was the defect; a close on loopback takes milliseconds
  t.true(r.closeMs < 1000, `close took ${Math.round(r.closeMs)} ms`);
}

async function withPeer(
  t: import('ava').ExecutionContext,
  what: 'hypercorn' | 'haproxy' | 'nghttpx',
  start: () => Promise<PeerServer>,
  body: (p: PeerServer) => Promise<void>,
): Promise<void> {
  const missing = peerMissing(what);
  if (missing) {
    t.fail(missing);
    return;
  }
  const p = await start();
  try {
    await body(p);
  } finally {
    await p.stop();
  }
}

test.serial(
  'Hypercorn over HTTP/2 (TLS, ALPN h2): echo, subprotocol, and a clean close in well under a second',
  async (t) => {
    await withPeer(
      t,
      'hypercorn',
      () => startHypercorn(certs),
      async (p) => {
        const url = `wss://localhost:${p.port}/echo`;
        for (let i = 0; i < 3; i++) checkRun(t, await roundTrip(url, 2));
        const r = await roundTrip(url, 2, ['chat', 'superchat']);
        checkRun(t, r);
        t.is(r.protocol, 'chat');
      },
    );
  },
);

test.serial('Hypercorn over HTTP/1.1 (TLS): echo and a clean close', async (t) => {
  await withPeer(
    t,
    'hypercorn',
    () => startHypercorn(certs),
    async (p) => {
      checkRun(t, await roundTrip(`wss://localhost:${p.port}/echo`, 1));
    },
  );
});

/** An omniws HTTP/1.1 echo backend that records the HTTP version each WebSocket came by. */
async function backend() {
  const seen: string[] = [];
  const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
  const srv = await listen({
    route: (req) => {
      seen.push(`${req.http} ${req.pathname}`);
      return { handler: echo, state: null };
    },
  });
  return { srv, seen };
}

for (const [what, start] of [
  ['haproxy', startHaproxy],
  ['nghttpx', startNghttpx],
] as const) {
  test.serial(
    `${what} (HTTP/2 front end) before an omniws HTTP/1.1 backend: the omniws h2 client through it`,
    async (t) => {
      const { srv, seen } = await backend();
      try {
        await withPeer(
          t,
          what,
          () => start(certs, srv.port),
          async (p) => {
            const url = `wss://localhost:${p.port}/through/${what}`;
            for (let i = 0; i < 2; i++) checkRun(t, await roundTrip(url, 2));
            // the backend saw HTTP/1.1 Upgrades: the proxy did the RFC 8441 side
            t.deepEqual(seen, [`1.1 /through/${what}`, `1.1 /through/${what}`]);
          },
        );
      } finally {
        await srv.close();
      }
    },
  );
}
