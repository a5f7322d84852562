// fileTicketStore (src/h3/tickets.ts): session tickets in a file, for a client that
// starts again (omniws connect --session-file). The resumption itself across two
// processes is in test/cli.test.ts.

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fileTicketStore } from '../../src/h3/tickets.js';

async function tempFile(t: { teardown(f: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-tickets-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'tickets.json');
}

test('a ticket stored is read back by another store on the same file; the file is 0600', async (t) => {
  const path = await tempFile(t);
  t.is(fileTicketStore(path).get('a'), undefined, 'no file: nothing, no error');
  fileTicketStore(path).set('example.org:443||', Uint8Array.of(1, 2, 3));
  t.deepEqual(fileTicketStore(path).get('example.org:443||'), Uint8Array.of(1, 2, 3));
  t.is((await stat(path)).mode & 0o777, 0o600);
  // a newer ticket for the same key replaces the old one
  const s = fileTicketStore(path);
  s.set('example.org:443||', Uint8Array.of(9));
  t.deepEqual(fileTicketStore(path).get('example.org:443||'), Uint8Array.of(9));
});

test('a file that is not a ticket file counts as empty, and is replaced on the next ticket', async (t) => {
  const path = await tempFile(t);
  for (const junk of ['not json', '[]', '{"version":2,"tickets":{"k":"AQ=="}}', '{"version":1}']) {
    await writeFile(path, junk);
    const s = fileTicketStore(path);
    t.is(s.get('k'), undefined, junk);
    s.set('k', Uint8Array.of(7));
    t.deepEqual(fileTicketStore(path).get('k'), Uint8Array.of(7));
  }
});

test('at most 64 keys: the least recently stored go first', async (t) => {
  const path = await tempFile(t);
  const s = fileTicketStore(path);
  for (let i = 0; i < 70; i++) s.set(`k${i}`, Uint8Array.of(i));
  s.set('k6', Uint8Array.of(60)); // stored again: now the newest
  s.set('k70', Uint8Array.of(70));
  const f = JSON.parse(await readFile(path, 'utf8')) as { tickets: Record<string, string> };
  t.is(Object.keys(f.tickets).length, 64);
  const back = fileTicketStore(path);
  t.is(back.get('k0'), undefined);
  t.is(back.get('k7'), undefined);
  t.deepEqual(back.get('k6'), Uint8Array.of(60));
  t.deepEqual(back.get('k8'), Uint8Array.of(8));
  t.deepEqual(back.get('k70'), Uint8Array.of(70));
});

test('a store that cannot write loses resumption, not the connection: set does not throw', (t) => {
  const s = fileTicketStore('/nonexistent-dir/omniws/tickets.json');
  t.notThrows(() => s.set('k', Uint8Array.of(1)));
  t.deepEqual(s.get('k'), Uint8Array.of(1), 'kept in memory for this process');
});
