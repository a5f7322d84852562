// qlog (quic.qlogDir, QLOGDIR, --qlog DIR): one JSON-SEQ file per connection, checked
// against the main schema of draft-ietf-quic-qlog in its 0.3 form (what qvis reads):
// RFC 7464 records (RS, JSON, LF); a header record with qlog_version, qlog_format,
// trace.vantage_point and common_fields (ODCID, time_format, reference_time); then events
// { time, name: "category:event", data } with relative times that never go back, names
// from the QUIC and HTTP/3 event definitions, and the fields each of them requires.
// Then what the events say: the extended CONNECT, its 200, the WebSocket's DATA, the
// settings both ways, the recovery metrics and the end, seen from both sides.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { Agent } from '../../src/client/agent.js';
import { connect } from '../../src/client/connect.js';
import { listenH3 } from '../../src/server/h3-server.js';
import { type Handler, ok, reply } from '../../src/ws/handler.js';
import { makeCerts, removeCerts } from '../certs.js';
import { until } from '../helpers.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'omniws.js');

interface Event {
  time: number;
  name: string;
  data: Record<string, unknown>;
}

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** The fields each event we write must carry, as the qlog drafts define them. */
const EVENTS: Record<string, (d: Record<string, unknown>) => string | null> = {
  'connectivity:connection_started': (d) =>
    ['ipv4', 'ipv6'].includes(d.ip_version as string) &&
    isInt(d.src_port) &&
    isInt(d.dst_port) &&
    typeof d.src_ip === 'string' &&
    typeof d.dst_ip === 'string'
      ? null
      : 'addresses',
  'connectivity:connection_state_updated': (d) => (typeof d.new === 'string' ? null : 'new'),
  'connectivity:connection_closed': (d) =>
    ['local', 'remote'].includes(d.owner as string) &&
    (isInt(d.application_code) || isInt(d.connection_code))
      ? null
      : 'owner and code',
  'transport:parameters_set': (d) =>
    ['local', 'remote'].includes(d.owner as string) &&
    isInt(d.initial_max_data) &&
    isInt(d.max_idle_timeout)
      ? null
      : 'owner, parameters',
  'transport:datagrams_sent': (d) =>
    isInt(d.count) &&
    Array.isArray(d.raw) &&
    (d.raw as { length: unknown }[]).every((r) => isInt(r.length))
      ? null
      : 'count, raw[].length',
  'transport:datagrams_received': (d) =>
    isInt(d.count) &&
    Array.isArray(d.raw) &&
    (d.raw as { length: unknown }[]).every((r) => isInt(r.length))
      ? null
      : 'count, raw[].length',
  'recovery:metrics_updated': (d) =>
    Object.keys(d).length > 0 &&
    Object.entries(d).every(
      ([k, v]) =>
        [
          'smoothed_rtt',
          'min_rtt',
          'latest_rtt',
          'rtt_variance',
          'congestion_window',
          'bytes_in_flight',
          'ssthresh',
          'packets_in_flight',
          'pacing_rate',
          'pto_count',
        ].includes(k) && isNum(v),
    )
      ? null
      : 'metric names and numbers',
  'http:parameters_set': (d) => (['local', 'remote'].includes(d.owner as string) ? null : 'owner'),
  'http:stream_type_set': (d) =>
    isInt(d.stream_id) &&
    ['local', 'remote'].includes(d.owner as string) &&
    ['control', 'request', 'push', 'qpack_encode', 'qpack_decode', 'unknown'].includes(
      d.new as string,
    )
      ? null
      : 'stream_id, owner, new',
  'http:frame_created': (d) => frameProblem(d),
  'http:frame_parsed': (d) => frameProblem(d),
  'qpack:headers_encoded': (d) =>
    isInt(d.stream_id) && headersOk(d.headers) && isInt(d.length)
      ? null
      : 'stream_id, headers, length',
  'qpack:headers_decoded': (d) =>
    isInt(d.stream_id) && headersOk(d.headers) && isInt(d.length)
      ? null
      : 'stream_id, headers, length',
};

function headersOk(h: unknown): boolean {
  return (
    Array.isArray(h) && h.every((x) => typeof x?.name === 'string' && typeof x?.value === 'string')
  );
}

function frameProblem(d: Record<string, unknown>): string | null {
  const f = d.frame as Record<string, unknown> | undefined;
  if (!isInt(d.stream_id) || f === undefined) return 'stream_id, frame';
  switch (f.frame_type) {
    case 'headers':
      return headersOk(f.headers) ? null : 'headers';
    case 'data':
      return null;
    case 'settings':
      return Array.isArray(f.settings) &&
        f.settings.every(
          (s: { name: unknown; value: unknown }) => typeof s.name === 'string' && isInt(s.value),
        )
        ? null
        : 'settings';
    case 'goaway':
      return isInt(f.id) ? null : 'id';
    default:
      return `frame_type ${String(f.frame_type)}`;
  }
}

/** Parse and check one .sqlog; its events. */
function checkQlog(
  t: ExecutionContext,
  text: string,
  vantage: 'client' | 'server',
): { odcid: string; events: Event[] } {
  t.true(text.startsWith('\x1e'), 'RFC 7464: each record begins with RS');
  const records = text.split('\x1e').slice(1);
  for (const r of records) t.true(r.endsWith('\n'), 'and ends with LF');
  const [head, ...rest] = records.map((r) => JSON.parse(r));
  t.is(head.qlog_version, '0.3');
  t.is(head.qlog_format, 'JSON-SEQ');
  t.is(head.trace.vantage_point.type, vantage);
  t.regex(head.trace.common_fields.ODCID, /^[0-9a-f]{8,40}$/);
  t.is(head.trace.common_fields.time_format, 'relative');
  t.true(isNum(head.trace.common_fields.reference_time));
  let last = 0;
  const problems: string[] = [];
  for (const e of rest as Event[]) {
    if (!(isNum(e.time) && e.time >= last)) problems.push(`time ${e.time} after ${last}`);
    last = e.time;
    if (!/^[a-z]+:[a-z_]+$/.test(e.name)) problems.push(`name ${e.name}`);
    const check = EVENTS[e.name];
    if (!check) problems.push(`an event the drafts do not define: ${e.name}`);
    else {
      const p = check(e.data);
      if (p) problems.push(`${e.name}: ${p} (${JSON.stringify(e.data)})`);
    }
  }
  t.deepEqual(problems, []);
  return { odcid: head.trace.common_fields.ODCID, events: rest as Event[] };
}

const named = (events: Event[], name: string) => events.filter((e) => e.name === name);

test.serial(
  'a WebSocket over HTTP/3 with qlogs on both sides: valid JSON-SEQ qlog 0.3, and they tell the session',
  async (t) => {
    const certs = await makeCerts('qlog');
    const dir = await mkdtemp(join(tmpdir(), 'omniws-qlog-'));
    const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
    const srv = await listenH3({
      cert: certs.cert,
      key: certs.key,
      hosts: ['127.0.0.1'],
      quic: { qlogDir: join(dir, 'server') },
      route: () => ({ handler: echo, state: null }),
    });
    const agent = new Agent({ idleTimeout: 10 });
    try {
      let got!: () => void;
      const back = new Promise<void>((r) => {
        got = r;
      });
      const s = await connect(`wss://127.0.0.1:${srv.port}/qlogged`, {
        http: 3,
        agent,
        state: null,
        tls: { ca: certs.ca, servername: 'localhost' },
        quic: { qlogDir: join(dir, 'client') },
        handler: {
          handleIn: (_m, st) => {
            got();
            return ok(st);
          },
        },
      });
      s.send(Buffer.alloc(300_000, 1));
      await back;
      s.close(1000);
      await s.closed;
      await until(() => agent.size === 0, 3000, 'the connection to close');
    } finally {
      agent.close();
      await srv.close();
      await removeCerts(certs);
    }
    const [cf] = await readdir(join(dir, 'client'));
    const [sf] = await readdir(join(dir, 'server'));
    t.regex(cf!, /^[0-9a-f]+_client\.sqlog$/);
    const client = checkQlog(t, await readFile(join(dir, 'client', cf!), 'utf8'), 'client');
    const server = checkQlog(t, await readFile(join(dir, 'server', sf!), 'utf8'), 'server');
    // one connection, one original DCID, as each side names it
    t.is(client.odcid, server.odcid);
    t.is(sf, `${server.odcid}_server.sqlog`);
    for (const side of [client.events, server.events]) {
      t.is(named(side, 'connectivity:connection_started').length, 1);
      t.is(
        named(side, 'connectivity:connection_state_updated')[0]?.data.new,
        'handshake_completed',
      );
      t.deepEqual(
        named(side, 'transport:parameters_set').map((e) => e.data.owner),
        ['local', 'remote'],
      );
      t.true(named(side, 'recovery:metrics_updated').length >= 1);
      t.is(named(side, 'connectivity:connection_closed').length, 1);
      // settings both ways, the extended CONNECT allowed by the server's
      t.deepEqual(
        named(side, 'http:parameters_set')
          .map((e) => e.data.owner)
          .sort(),
        ['local', 'remote'],
      );
    }
    const serverSettings = named(client.events, 'http:parameters_set').find(
      (e) => e.data.owner === 'remote',
    );
    t.is(serverSettings?.data.extended_connect, 1);
    const encoded = named(client.events, 'qpack:headers_encoded')[0]!.data.headers as {
      name: string;
      value: string;
    }[];
    t.deepEqual(
      encoded.find((h) => h.name === ':protocol'),
      { name: ':protocol', value: 'websocket' },
    );
    t.deepEqual(
      encoded.find((h) => h.name === ':path'),
      { name: ':path', value: '/qlogged' },
    );
    const decoded = named(server.events, 'qpack:headers_decoded')[0]!.data.headers as {
      name: string;
      value: string;
    }[];
    t.deepEqual(decoded, encoded);
    const status = named(client.events, 'http:frame_parsed').find(
      (e) => (e.data.frame as { frame_type: string }).frame_type === 'headers',
    );
    t.deepEqual((status!.data.frame as { headers: unknown }).headers, [
      { name: ':status', value: '200' },
    ]);
    // the 300 KB message and its echo in DATA frames (plus the WebSocket framing and close)
    const dataBytes = (events: Event[], name: string) =>
      named(events, name)
        .filter((e) => (e.data.frame as { frame_type: string }).frame_type === 'data')
        .reduce((n, e) => n + (e.data.length as number), 0);
    t.true(dataBytes(client.events, 'http:frame_created') > 300_000);
    t.true(dataBytes(client.events, 'http:frame_parsed') > 300_000);
    t.true(dataBytes(server.events, 'http:frame_parsed') > 300_000);
    const sent = named(client.events, 'transport:datagrams_sent').reduce(
      (n, e) => n + (e.data.raw as { length: number }[])[0]!.length,
      0,
    );
    t.true(sent > 300_000);
  },
);

test.serial('omniws connect --http3 --qlog DIR writes a valid qlog', async (t) => {
  const certs = await makeCerts('qlog-cli');
  const dir = await mkdtemp(join(tmpdir(), 'omniws-qlog-cli-'));
  const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };
  const srv = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    route: () => ({ handler: echo, state: null }),
  });
  try {
    const p = spawn(
      process.execPath,
      [
        bin,
        'connect',
        `wss://localhost:${srv.port}/`,
        '--http3',
        '--ca',
        join(certs.dir, 'ca.pem'),
        '--qlog',
        dir,
        '--linger',
        '200',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stdin.end('over h3\n');
    const code = await new Promise((r) => p.once('exit', r));
    t.is(code, 0);
    t.is(out, 'over h3\n');
  } finally {
    await srv.close();
    await removeCerts(certs);
  }
  const files = await readdir(dir);
  t.is(files.length, 1);
  const { events } = checkQlog(t, await readFile(join(dir, files[0]!), 'utf8'), 'client');
  t.true(named(events, 'qpack:headers_encoded').length >= 1);
});
