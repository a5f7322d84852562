// Issue 16: trust and certificate failures, the same on HTTP/1.1, HTTP/2 and HTTP/3.
// - A server certificate that does not verify (an unknown CA, a name mismatch) is
//   WS_ERR_CERTIFICATE on every version (it was WS_ERR_HANDSHAKE, with the TLS error in
//   the message), and connectClient's default policy does not retry it: `opened`
//   rejects after one attempt instead of the client retrying for ever.
// - The HTTP/3 client trusts what node:tls trusts: NODE_EXTRA_CA_CERTS (which `npm start`
//   tells Node users to set) worked for HTTP/1.1 and HTTP/2 and failed HTTP/3 with TLS
//   alert 48 (unknown_ca).

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { closeH3Connections, connect } from '../../src/client/connect.js';
import { connectClient } from '../../src/client/lifecycle.js';
import { ReconnectPolicy } from '../../src/client/reconnect.js';
import { closeH2Sessions } from '../../src/h2/client.js';
import type { Server } from '../../src/server/context.js';
import { serve } from '../../src/server/serve.js';
import type { WebSocketError } from '../../src/ws/errors.js';
import { ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let certs: TestCerts;
let stranger: TestCerts;
let server: Server;
test.before(async () => {
  certs = await makeCerts('issue-16-trust');
  stranger = await makeCerts('issue-16-stranger');
  server = await serve({
    tls: { cert: certs.cert, key: certs.key },
    routes: {
      '/echo': {
        state: null,
        handler: { handleIn: (m: { data: string | Uint8Array }, s: null) => reply(s, m.data) },
      },
    },
  });
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  await server.close();
  await removeCerts(certs);
  await removeCerts(stranger);
});

const handler = { handleIn: (_m: unknown, s: null) => ok(s) };

for (const http of [1, 2, 3] as const) {
  test(`h${http}: an unknown CA and a name mismatch are WS_ERR_CERTIFICATE`, async (t) => {
    const url = `wss://localhost:${server.port}/echo`;
    const code = (tls: Record<string, unknown>) =>
      connect(url, { http, tls, state: null, handler }).then(
        () => 'opened',
        (e: WebSocketError) => e.code,
      );
    t.is(await code({ ca: stranger.ca }), 'WS_ERR_CERTIFICATE', 'a CA that did not sign it');
    t.is(
      await code({ ca: certs.ca, servername: 'not-this-server.test' }),
      'WS_ERR_CERTIFICATE',
      'a name the certificate does not carry',
    );
    t.is(await code({ ca: certs.ca }), 'opened', 'the right CA and name');
  });

  test(`h${http}: connectClient's default policy does not retry a certificate failure`, async (t) => {
    let attempts = 0;
    const conn = connectClient(`wss://localhost:${server.port}/echo`, {
      http,
      tls: { ca: stranger.ca },
      state: null,
      // quick retries, the default rule of which to retry
      policy: new ReconnectPolicy({ initialDelay: 10, maxDelay: 20 }),
      handler: {
        ...handler,
        connectionInfo: () => {
          attempts++;
          return undefined;
        },
      },
    });
    const err = await conn.opened.then(
      () => undefined,
      (e: WebSocketError) => e,
    );
    t.is(err?.code, 'WS_ERR_CERTIFICATE');
    t.is(attempts, 1);
    await conn.closed;
  });
}

test('HTTP/3 trusts NODE_EXTRA_CA_CERTS, as HTTP/1.1 and HTTP/2 do', async (t) => {
  const dir = join(root, 'dist', 'issue-16');
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'extra-ca.mjs');
  writeFileSync(
    script,
    `
import { connect, globalAgent, ok } from 'omniws';
const out = {};
for (const http of [1, 2, 3]) {
  out[http] = await connect(${JSON.stringify(`wss://localhost:${server.port}/echo`)}, {
    http, state: null, handler: { handleIn: (_m, s) => ok(s) },
  }).then((s) => { s.close(1000); return 'opened'; }, (e) => e.code);
}
globalAgent.close();
console.log(JSON.stringify(out));
`,
  );
  const run = async (env: NodeJS.ProcessEnv) => {
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      cwd: root,
      env,
      timeout: 30_000,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>;
  };
  const { NODE_EXTRA_CA_CERTS: _unset, ...base } = process.env;
  t.deepEqual(await run({ ...base, NODE_EXTRA_CA_CERTS: join(certs.dir, 'ca.pem') }), {
    1: 'opened',
    2: 'opened',
    3: 'opened',
  });
  t.deepEqual(await run(base), {
    1: 'WS_ERR_CERTIFICATE',
    2: 'WS_ERR_CERTIFICATE',
    3: 'WS_ERR_CERTIFICATE',
  });
});
