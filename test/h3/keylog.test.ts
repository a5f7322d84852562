// Key logs, checked the way a person would: Debian's tshark captures a loopback session,
// decrypts it with the key log omniws wrote (NSS format: SSLKEYLOGFILE or `keylog`), and
// the extended CONNECT and the WebSocket bytes are found in the decrypted frames —
// over HTTP/3 (quiche's secrets) and over HTTP/2 (node:tls's `keylog` event).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { closeH2Sessions, connectH2 } from '../../src/h2/client.js';
import { closeH3Connections, connectH3 } from '../../src/h3/client.js';
import { decodeFieldSection } from '../../src/h3/qpack.js';
import { listenH2 } from '../../src/server/h2-server.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts, type TestCerts } from '../certs.js';

const TSHARK = '/usr/bin/tshark';
const PROBE = 'omniws-keylog-probe-text';

let certs: TestCerts;
test.before(async () => {
  certs = await makeCerts('keylog');
});
test.after.always(async () => {
  closeH2Sessions();
  closeH3Connections();
  if (certs) await removeCerts(certs);
});

const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };

/** tshark capturing `filter` on lo into a file; resolves once it really captures. */
async function capture(filter: string, file: string): Promise<ChildProcess> {
  const p = spawn(TSHARK, ['-i', 'lo', '-f', filter, '-w', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('Capturing on')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`tshark exited ${code}: ${err}`)));
  });
  // "Capturing on" comes a moment before the first packet is: the handshake must be in it
  await new Promise((r) => setTimeout(r, 1500));
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  await gone;
}

/** One field of the frames `filter` selects, decrypted with the key log. */
function fields(file: string, keys: string, filter: string, field: string): string[] {
  const out = execFileSync(
    TSHARK,
    ['-r', file, '-o', `tls.keylog_file:${keys}`, '-Y', filter, '-T', 'fields', '-e', field],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .split('\n')
    .flatMap((l) => l.split(','))
    .filter((l) => l !== '');
}

/** The WebSocket payloads in DATA bytes (server frames unmasked, client frames unmasked here). */
function wsPayloads(hex: string[]): string[] {
  const out: string[] = [];
  for (const h of hex) {
    const b = Buffer.from(h, 'hex');
    if (b.length < 2) continue;
    const masked = (b[1]! & 0x80) !== 0;
    const len = b[1]! & 0x7f;
    if (len > 125) continue;
    const start = 2 + (masked ? 4 : 0);
    const data = Buffer.from(b.subarray(start, start + len));
    if (masked) for (let i = 0; i < data.length; i++) data[i]! ^= b[2 + (i & 3)]!;
    out.push(data.toString('latin1'));
  }
  return out;
}

function missing(t: import('ava').ExecutionContext): boolean {
  if (existsSync(TSHARK)) return false;
  t.fail(
    `${TSHARK} is missing: scripts/test-deps.mjs installs Debian's tshark with apt-get (npm test runs it)`,
  );
  return true;
}

test.serial(
  'HTTP/3: tshark decrypts a capture with the key log and finds the extended CONNECT and the WebSocket bytes',
  async (t) => {
    if (missing(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'omniws-keylog-h3-'));
    const keys = join(dir, 'keys.log');
    const pcap = join(dir, 'h3.pcapng');
    const srv = await listenH3({
      cert: certs.cert,
      key: certs.key,
      hosts: ['127.0.0.1'],
      route: () => ({ handler: echo, state: null }),
    });
    const ts = await capture(`udp port ${srv.port}`, pcap);
    try {
      let got!: (d: unknown) => void;
      const echoed = new Promise((r) => {
        got = r;
      });
      const s = await connectH3(`wss://127.0.0.1:${srv.port}/keylog-path`, {
        handler: {
          handleIn: (m, st) => {
            got(m.data);
            return ok(st);
          },
        },
        state: null,
        tls: { ca: certs.ca, servername: 'localhost' },
        keylog: keys,
      });
      s.send(PROBE);
      t.is(await echoed, PROBE);
      s.close(1000);
      await s.closed;
    } finally {
      await stop(ts);
      await srv.close();
    }
    // NSS key log lines for QUIC's TLS 1.3 secrets
    const log = await readFile(keys, 'utf8');
    t.regex(log, /^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]{64,96}$/m);
    t.regex(log, /^SERVER_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64,96}$/m);
    // tshark 4.0 shows HTTP/3 frames but does not decode QPACK: our decoder reads the HEADERS
    const headers = fields(pcap, keys, 'http3.frame_type == 1', 'http3.frame_payload').map((h) =>
      Object.fromEntries(decodeFieldSection(Buffer.from(h, 'hex'), 1 << 16)),
    );
    const connect = headers.find((h) => h[':method'] === 'CONNECT');
    t.truthy(connect, JSON.stringify(headers));
    t.is(connect?.[':protocol'], 'websocket');
    t.is(connect?.[':path'], '/keylog-path');
    t.true(headers.some((h) => h[':status'] === '200'));
    // the WebSocket bytes in the DATA frames: the client's masked text and the echo
    const data = wsPayloads(fields(pcap, keys, 'http3.frame_type == 0', 'http3.frame_payload'));
    t.true(data.filter((d) => d === PROBE).length >= 2, JSON.stringify(data));
    // without the key log nothing of it can be read
    t.deepEqual(
      fields(pcap, join(dir, 'none.log'), 'http3.frame_type == 1', 'http3.frame_payload'),
      [],
    );
  },
);

test.serial(
  'HTTP/2 over TLS: tshark decrypts the capture with the key log of node:tls and finds the extended CONNECT',
  async (t) => {
    if (missing(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'omniws-keylog-h2-'));
    const keys = join(dir, 'keys.log');
    const pcap = join(dir, 'h2.pcapng');
    const srv = await listenH2({
      tls: { cert: certs.cert, key: certs.key },
      route: () => ({ handler: echo, state: null }),
      keylog: keys,
    });
    const ts = await capture(`tcp port ${srv.port}`, pcap);
    try {
      let got!: (d: unknown) => void;
      const echoed = new Promise((r) => {
        got = r;
      });
      const s = await connectH2(`wss://localhost:${srv.port}/keylog-h2`, {
        handler: {
          handleIn: (m, st) => {
            got(m.data);
            return ok(st);
          },
        },
        state: null,
        tls: { ca: certs.ca },
      });
      s.send(PROBE);
      t.is(await echoed, PROBE);
      s.close(1000);
      await s.closed;
    } finally {
      await stop(ts);
      closeH2Sessions();
      await srv.close();
    }
    const log = await readFile(keys, 'utf8');
    t.regex(log, /^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64,96}$/m);
    // tshark decodes HPACK: the extended CONNECT's pseudo-header fields by name
    const names = fields(pcap, keys, 'http2.type == 1', 'http2.header.name');
    const values = fields(pcap, keys, 'http2.type == 1', 'http2.header.value');
    t.true(names.includes(':protocol'), JSON.stringify(names));
    t.true(values.includes('websocket'));
    t.true(values.includes('/keylog-h2'));
    const data = wsPayloads(fields(pcap, keys, 'http2.type == 0', 'http2.data.data'));
    t.true(data.filter((d) => d === PROBE).length >= 2, JSON.stringify(data));
  },
);
