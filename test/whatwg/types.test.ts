// Compile-time compatibility: the WebSocket exported from the package root is
// assignable to `globalThis.WebSocket` (undici's type, as @types/node declares it),
// and its class to `typeof globalThis.WebSocket`. If these assignments stop
// compiling, `tsc -p .` fails before this test runs. At run time the socket is then
// used only through the global interface.

import test from 'ava';
import * as omniws from '../../src/index.js';
import { reply } from '../../src/index.js';
import { cleanup, startServer } from '../client/servers.js';

test.after.always(cleanup);

test('WebSocket from the package root is a globalThis.WebSocket', async (t) => {
  const s = await startServer(1, {
    routes: { '/echo': { handler: { handleIn: (m, st) => reply(st, m.data) }, state: null } },
  });
  t.teardown(() => s.close());

  const Ctor: typeof globalThis.WebSocket = omniws.WebSocket;
  const ws: globalThis.WebSocket = new Ctor(`${s.url}/echo`);
  const ours: globalThis.WebSocket = new omniws.WebSocket(`${s.url}/echo`, ['x'], { http: 1 });
  ours.close();

  ws.binaryType = 'arraybuffer';
  const got = await new Promise<unknown[]>((resolve) => {
    const seen: unknown[] = [];
    ws.onopen = () => {
      ws.send('text');
      ws.send(new Uint8Array([1, 2]));
    };
    ws.onmessage = (e) => {
      seen.push(e.data);
      if (seen.length === 2) resolve(seen);
    };
  });
  t.is(got[0], 'text');
  t.deepEqual(new Uint8Array(got[1] as ArrayBuffer), new Uint8Array([1, 2]));
  const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => {
    ws.addEventListener('close', (e) => resolve({ code: e.code, wasClean: e.wasClean }));
  });
  ws.close(1000);
  t.deepEqual(await closed, { code: 1000, wasClean: true });
  t.is(ws.readyState, ws.CLOSED);
});
