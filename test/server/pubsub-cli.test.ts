// `omniws serve` offers /pubsub/<topic> on every HTTP version (issue #17's CLI contract,
// which the interop page and the fan-out benchmark use): a connection subscribes to
// <topic> on open, and each message it sends goes to every member, the sender included,
// in kind. Driven against the real process, with `ws` (HTTP/1.1 over TLS) and our
// HTTP/2 and HTTP/3 clients in one room.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Agent } from '../../src/client/agent.js';
import type { Message } from '../../src/ws/handler.js';
import { listeningClient, until, wsClient } from '../helpers.js';
import { freeTcpPort, killProcess, startServeProcess } from '../serve-process.js';

test('omniws serve: /pubsub/<topic> relays to every member on h1, h2 and h3, sender included', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-pubsub-cli-'));
  const port = await freeTcpPort();
  const proc = await startServeProcess(port, dir);
  const agent = new Agent({ idleTimeout: 50 });
  t.teardown(async () => {
    agent.close();
    await killProcess(proc);
    await rm(dir, { recursive: true, force: true });
  });
  const ca = await readFile(join(dir, 'ca.pem'));
  const base = `wss://localhost:${port}`;
  const ours = (path: string, http: 2 | 3) =>
    listeningClient(`${base}${path}`, http, { agent, ca });
  const h1 = await wsClient(`${base}/pubsub/lobby`, undefined, { ca });
  const h2 = await ours('/pubsub/lobby', 2);
  const h3 = await ours('/pubsub/lobby', 3);
  // another room, and a topic name that needs percent-encoding
  const other = await ours('/pubsub/caf%C3%A9', 2);
  t.is(h2.session.http, '2');
  t.is(h3.session.http, '3');

  h1.ws.send('hello from h1');
  h3.session.send(Buffer.from([0, 1, 2, 255]));
  h2.session.send('hello from h2');
  other.session.send('in the café');
  const seen = (got: Message[]) =>
    got.map((m) => (m.type === 'text' ? `t:${m.data}` : `b:${m.data.toString('hex')}`));
  await until(() => h1.messages.length >= 3 && h2.got.length >= 3 && h3.got.length >= 3);
  await until(() => other.got.length >= 1);
  const expected = ['t:hello from h1', 'b:000102ff', 't:hello from h2'];
  // each member sees the three messages, its own included; the order between publishers
  // is the order the server read them in, which differs between connections
  const asH1 = h1.messages.map((m) => (m.binary ? `b:${m.data.toString('hex')}` : `t:${m.data}`));
  t.deepEqual([...asH1].sort(), [...expected].sort());
  t.deepEqual([...seen(h2.got)].sort(), [...expected].sort());
  t.deepEqual([...seen(h3.got)].sort(), [...expected].sort());
  // one server order, the same for everyone
  t.deepEqual(seen(h2.got), asH1);
  t.deepEqual(seen(h3.got), asH1);
  t.deepEqual(seen(other.got), ['t:in the café']);

  // no topic: not a WebSocket route
  const refused = await wsClient(`${base}/pubsub/`, undefined, { ca }).catch((e: Error) => e);
  t.regex(String(refused), /404/);

  h1.ws.close(1000);
  for (const m of [h2, h3, other]) m.session.close(1000);
  await Promise.all([h1.closed, h2.session.closed, h3.session.closed, other.session.closed]);
});
