// What only WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) have, for a server
// under test: group 20, the extended CONNECT itself (the setting, the pseudo-header
// rules, fields HTTP/2 and HTTP/3 forbid, Sec-WebSocket-Version, a foreign :protocol),
// sent raw so that broken requests can be sent at all; group 21, the stream under the
// WebSocket (many on one connection, END_STREAM/FIN without a close frame, a reset that
// must stay local to its stream, a reader that lags, GOAWAY).
// Each case returns a CaseResult like the frame-level ones, naming what it checks.

import http2 from 'node:http2';
import { isIP } from 'node:net';
import { H3_NO_ERROR } from '../h3/errors.js';
import {
  FrameDecoder,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
} from '../h3/frames.js';
import type { Header } from '../h3/qpack.js';
import type { QuicConnection } from '../h3/quic.js';
import { connectQuic } from '../h3/quic-client.js';
import { h2Settings, openH2WebSocket } from './h2.js';
import { rawH2Request, SETTINGS_ENABLE_CONNECT_PROTOCOL_H2 } from './h2-raw.js';
import {
  controlStream,
  h3ConnectFields,
  h3Request,
  literalFieldSection,
  mux,
  openH3WebSocket,
  QUIC,
  type RawStream,
} from './h3.js';
import { encodePeerFrame, FrameReader, type PeerStream } from './peer.js';
import type { RemoteTarget } from './remote.js';
import type { Verdict } from './runner.js';
import type { CaseResult } from './suite.js';

interface Outcome {
  verdict: Verdict;
  observed: string[];
}

interface ConnectCase {
  id: string;
  description: string;
  rfc: string[];
  expected: string;
  /** Only over this version. */
  only?: 2 | 3;
  run(p: Probe): Promise<Outcome>;
}

/** What a case gets: raw requests and WebSockets on the target, over its HTTP version. */
interface Probe {
  http: 2 | 3;
  /** The server's SETTINGS (identifier → value). */
  settings(): Promise<Map<number, number>>;
  /** A raw request; the answer's status, or the stream error code. */
  request(fields: [string, string][]): Promise<{ status?: number; reset?: number; note: string }>;
  /** A connection for several WebSockets. */
  connection(): Promise<{ open(): Promise<PeerStream>; goaway?(): void; close(): void }>;
  goodFields(): [string, string][];
}

// ── the peer's WebSocket moves ──

const mask = (op: number, data: string | Buffer) => encodePeerFrame({ op, data }, true);

function reader(s: PeerStream) {
  const r = new FrameReader();
  const frames: { op: number; payload: Buffer }[] = [];
  let wake: (() => void) | null = null;
  s.onData((c) => {
    for (const f of r.push(c)) frames.push(f);
    wake?.();
  });
  return async (ms: number): Promise<{ op: number; payload: Buffer } | null> => {
    const deadline = Date.now() + ms;
    while (frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return frames.shift()!;
  };
}

async function echoOnce(
  s: PeerStream,
  next: ReturnType<typeof reader>,
  text: string,
): Promise<boolean> {
  await s.write(mask(0x1, text));
  const f = await next(3000);
  return f !== null && f.op === 0x1 && f.payload.toString() === text;
}

async function closeCleanly(s: PeerStream, next: ReturnType<typeof reader>): Promise<boolean> {
  const p = Buffer.from([0x03, 0xe8]);
  await s.write(mask(0x8, p));
  const f = await next(3000);
  s.end();
  const closed = await Promise.race([s.closed.then(() => true), delay(3000).then(() => false)]);
  return f !== null && f.op === 0x8 && closed && !s.reset();
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ── the cases ──

const refused = (r: { status?: number; reset?: number }) =>
  r.reset !== undefined || (r.status !== undefined && r.status >= 400);

function malformed(
  id: string,
  what: string,
  rfc: string[],
  change: (f: [string, string][]) => [string, string][],
): ConnectCase {
  return {
    id,
    description: `An extended CONNECT ${what}: a malformed request, refused (a stream error, or 400).`,
    rfc,
    expected: 'RST_STREAM PROTOCOL_ERROR / H3_MESSAGE_ERROR, or a 4xx; never a WebSocket',
    async run(p) {
      const r = await p.request(change(p.goodFields()));
      if (refused(r)) return { verdict: 'OK', observed: [r.note] };
      return { verdict: 'FAILED', observed: [r.note] };
    },
  };
}

const without = (name: string) => (f: [string, string][]) => f.filter(([k]) => k !== name);
const plus = (name: string, value: string) => (f: [string, string][]) => [
  ...f,
  [name, value] as [string, string],
];

const CASES: ConnectCase[] = [
  {
    id: '20.1',
    description:
      'The server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (0x08) in its SETTINGS.',
    rfc: ['RFC 8441 §3', 'RFC 9220 §3'],
    expected: 'setting 0x08 = 1',
    async run(p) {
      const s = await p.settings();
      const v = s.get(
        p.http === 2 ? SETTINGS_ENABLE_CONNECT_PROTOCOL_H2 : SETTINGS_ENABLE_CONNECT_PROTOCOL,
      );
      return {
        verdict: v === 1 ? 'OK' : 'FAILED',
        observed: [`SETTINGS: ${[...s].map(([k, x]) => `0x${k.toString(16)}=${x}`).join(', ')}`],
      };
    },
  },
  {
    id: '20.2',
    description:
      'A well-formed extended CONNECT for a WebSocket is accepted with 200, without Sec-WebSocket-Accept.',
    rfc: ['RFC 8441 §5', 'RFC 9220 §3'],
    expected: ':status 200 (another 2xx is NON-STRICT), no sec-websocket-accept',
    async run(p) {
      const r = await p.request(p.goodFields());
      if (r.status === 200 && !/sec-websocket-accept/.test(r.note))
        return { verdict: 'OK', observed: [r.note] };
      if (r.status !== undefined && r.status >= 200 && r.status < 300) {
        return { verdict: 'NON-STRICT', observed: [r.note] };
      }
      return { verdict: 'FAILED', observed: [r.note] };
    },
  },
  {
    id: '20.3',
    description:
      'An extended CONNECT for a protocol the server does not speak (:protocol x-not-websocket) is refused.',
    rfc: ['RFC 8441 §4'],
    expected: '501 (customary); another 4xx/5xx is NON-STRICT; never 2xx',
    async run(p) {
      const f = p
        .goodFields()
        .map(([k, v]) => [k, k === ':protocol' ? 'x-not-websocket' : v] as [string, string]);
      const r = await p.request(f);
      if (r.status === 501) return { verdict: 'OK', observed: [r.note] };
      if (refused(r)) return { verdict: 'NON-STRICT', observed: [r.note] };
      return { verdict: 'FAILED', observed: [r.note] };
    },
  },
  malformed(
    '20.4',
    'without :scheme',
    ['RFC 8441 §4', 'RFC 9113 §8.3.1', 'RFC 9114 §4.3.1'],
    without(':scheme'),
  ),
  malformed(
    '20.5',
    'without :path',
    ['RFC 8441 §4', 'RFC 9113 §8.3.1', 'RFC 9114 §4.3.1'],
    without(':path'),
  ),
  malformed(
    '20.6',
    'without :authority',
    ['RFC 8441 §4', 'RFC 9113 §8.5', 'RFC 9114 §4.4'],
    without(':authority'),
  ),
  malformed(
    '20.7',
    'with a connection: upgrade field',
    ['RFC 9113 §8.2.2', 'RFC 9114 §4.2'],
    plus('connection', 'upgrade'),
  ),
  malformed(
    '20.8',
    'with an upgrade: websocket field',
    ['RFC 9113 §8.2.2', 'RFC 9114 §4.2'],
    plus('upgrade', 'websocket'),
  ),
  malformed(
    '20.9',
    'with an upper-case field name (Sec-WebSocket-Version)',
    ['RFC 9113 §8.2.1', 'RFC 9114 §4.2'],
    (f) =>
      f.map(
        ([k, v]) =>
          [k === 'sec-websocket-version' ? 'Sec-WebSocket-Version' : k, v] as [string, string],
      ),
  ),
  malformed(
    '20.10',
    'whose :method is GET (a :protocol on a request other than CONNECT)',
    ['RFC 8441 §4', 'RFC 9113 §8.1.1'],
    (f) => f.map(([k, v]) => [k, k === ':method' ? 'GET' : v] as [string, string]),
  ),
  {
    id: '20.11',
    description: 'An extended CONNECT without Sec-WebSocket-Version is refused.',
    rfc: ['RFC 8441 §5', 'RFC 6455 §4.2.1', '§4.4'],
    expected: 'a 4xx (400 or 426); never a WebSocket',
    async run(p) {
      const r = await p.request(without('sec-websocket-version')(p.goodFields()));
      if (r.status === 426 || r.status === 400) return { verdict: 'OK', observed: [r.note] };
      if (refused(r)) return { verdict: 'NON-STRICT', observed: [r.note] };
      return { verdict: 'FAILED', observed: [r.note] };
    },
  },
  {
    id: '20.12',
    description:
      'An extended CONNECT with Sec-WebSocket-Version: 8 is refused with a 4xx that names the versions the server speaks.',
    rfc: ['RFC 8441 §5', 'RFC 6455 §4.2.2', '§4.4'],
    // RFC 6455's "such as 426 Upgrade Required" names an Upgrade that HTTP/2 and HTTP/3
    // forbid (RFC 9113 §8.6, RFC 9114 §4.2): what is required is the error and the field
    expected: 'a 4xx with sec-websocket-version: 13 (without the field: NON-STRICT)',
    async run(p) {
      const f = p
        .goodFields()
        .map(([k, v]) => [k, k === 'sec-websocket-version' ? '8' : v] as [string, string]);
      const r = await p.request(f);
      const fourxx = r.status !== undefined && r.status >= 400 && r.status < 500;
      if (fourxx && /sec-websocket-version: 13/.test(r.note)) {
        return { verdict: 'OK', observed: [r.note] };
      }
      if (refused(r)) return { verdict: 'NON-STRICT', observed: [r.note] };
      return { verdict: 'FAILED', observed: [r.note] };
    },
  },
  {
    id: '21.1',
    description:
      'Ten WebSockets on one connection, opened together, each echoes its own messages and closes cleanly.',
    rfc: ['RFC 8441 §5', 'RFC 9220 §3'],
    expected: 'ten echoes on the right streams; ten clean closes',
    async run(p) {
      const c = await p.connection();
      try {
        const streams = await Promise.all(Array.from({ length: 10 }, () => c.open()));
        const nexts = streams.map(reader);
        const echoes = await Promise.all(
          streams.map((s, i) => echoOnce(s, nexts[i]!, `stream ${i}`)),
        );
        const closes = await Promise.all(streams.map((s, i) => closeCleanly(s, nexts[i]!)));
        const ok = echoes.every(Boolean) && closes.every(Boolean);
        return {
          verdict: ok ? 'OK' : 'FAILED',
          observed: [
            `echoes ${echoes.filter(Boolean).length}/10, clean closes ${closes.filter(Boolean).length}/10`,
          ],
        };
      } finally {
        c.close();
      }
    },
  },
  {
    id: '21.2',
    description:
      'The peer ends its stream (END_STREAM / FIN) without a close frame: the server ends its side too.',
    rfc: ['RFC 8441 §4', 'RFC 9220 §3', 'RFC 6455 §7.1.1'],
    expected: 'END_STREAM / FIN from the server within 3 s (a reset is NON-STRICT)',
    async run(p) {
      const c = await p.connection();
      try {
        const s = await c.open();
        const next = reader(s);
        await echoOnce(s, next, 'before the end');
        s.end();
        const ended = await Promise.race([
          s.closed.then(() => true),
          delay(3000).then(() => false),
        ]);
        if (!ended) return { verdict: 'FAILED', observed: ['the stream stayed open'] };
        return s.reset()
          ? {
              verdict: 'NON-STRICT',
              observed: [`the server reset the stream: ${s.resetHow?.() ?? ''}`],
            }
          : { verdict: 'OK', observed: ['the server ended its side'] };
      } finally {
        c.close();
      }
    },
  },
  {
    id: '21.3',
    description:
      'The peer resets one WebSocket (RST_STREAM / RESET_STREAM): another on the same connection keeps working.',
    rfc: ['RFC 8441 §4', 'RFC 9220 §3'],
    expected: 'the other WebSocket still echoes and closes cleanly',
    async run(p) {
      const c = await p.connection();
      try {
        const [a, b] = await Promise.all([c.open(), c.open()]);
        const nb = reader(b);
        reader(a);
        a.destroy();
        await delay(100);
        const echoed = await echoOnce(b!, nb, 'still here');
        const closed = echoed && (await closeCleanly(b!, nb));
        return {
          verdict: echoed && closed ? 'OK' : 'FAILED',
          observed: [`echo after the reset: ${echoed}; clean close: ${closed}`],
        };
      } finally {
        c.close();
      }
    },
  },
  {
    id: '21.4',
    description:
      'A 4 MiB binary message is echoed while the peer reads nothing for 500 ms (flow control holds it, nothing is lost).',
    rfc: ['RFC 9113 §5.2', 'RFC 9000 §4', 'RFC 6455 §5.6'],
    expected: 'the echo, byte for byte',
    async run(p) {
      const c = await p.connection();
      try {
        const s = await c.open();
        const data = Buffer.alloc(4 << 20);
        for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
        const chunks: Buffer[] = [];
        let got = 0;
        const write = s.write(mask(0x2, data));
        await delay(500);
        const r = new FrameReader();
        const done = new Promise<boolean>((resolve) => {
          s.onData((d) => {
            for (const f of r.push(d)) {
              chunks.push(f.payload);
              got += f.payload.length;
              if (f.fin) resolve(true);
            }
          });
          setTimeout(() => resolve(false), 15_000);
        });
        const whole = await done;
        await write;
        const ok = whole && Buffer.concat(chunks).equals(data);
        return {
          verdict: ok ? 'OK' : 'FAILED',
          observed: [`${got} of ${data.length} bytes echoed${ok ? ', identical' : ''}`],
        };
      } finally {
        c.close();
      }
    },
  },
  {
    id: '21.5',
    only: 2,
    description:
      'The peer sends GOAWAY while a WebSocket is open: that WebSocket keeps working to its close.',
    rfc: ['RFC 9113 §6.8'],
    expected: 'an echo after the GOAWAY, then a clean close',
    async run(p) {
      const c = await p.connection();
      try {
        const s = await c.open();
        const next = reader(s);
        c.goaway?.();
        await delay(100);
        const echoed = await echoOnce(s, next, 'after goaway');
        const closed = echoed && (await closeCleanly(s, next));
        return {
          verdict: echoed && closed ? 'OK' : 'FAILED',
          observed: [`echo: ${echoed}; clean close: ${closed}`],
        };
      } finally {
        c.close();
      }
    },
  },
];

// ── probes over each version ──

function h2Probe(t: RemoteTarget): Probe {
  const { url } = t;
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port !== '' ? Number(url.port) : secure ? 443 : 80;
  const tlsOpts = secure ? { ...(isIP(host) === 0 && { servername: host }), ...t.tls } : undefined;
  const target = { host, port, tls: tlsOpts };
  const path = `${url.pathname || '/'}${url.search}`;
  return {
    http: 2,
    goodFields: () => [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', secure ? 'https' : 'http'],
      [':authority', url.host],
      [':path', path],
      ['sec-websocket-version', '13'],
    ],
    async settings() {
      return (await rawH2Request(target, null)).settings;
    },
    async request(fields) {
      const r = await rawH2Request(target, fields);
      const note =
        r.status !== undefined
          ? `:status ${r.status}${r.fields.length ? `; ${r.fields.map(([k, v]) => `${k}: ${v}`).join('; ')}` : ''}`
          : r.rst !== undefined
            ? `RST_STREAM code ${r.rst}`
            : r.goaway !== undefined
              ? `GOAWAY code ${r.goaway}`
              : 'no answer';
      return {
        ...(r.status !== undefined && { status: r.status }),
        ...((r.rst ?? r.goaway) !== undefined && { reset: (r.rst ?? r.goaway)! }),
        note,
      };
    },
    async connection() {
      const session = http2.connect(`${secure ? 'https' : 'http'}://${url.host}`, {
        ...tlsOpts,
        settings: { initialWindowSize: 1024 * 1024 },
      });
      await h2Settings(session);
      const request = { scheme: secure ? 'https' : 'http', authority: url.host, path };
      return {
        open: () => openH2WebSocket(session, request, undefined, false),
        goaway: () => session.goaway(),
        close: () => session.destroy(),
      };
    },
  };
}

async function h3Probe(t: RemoteTarget): Promise<Probe> {
  const { url } = t;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port !== '' ? Number(url.port) : 443;
  const { lookup } = await import('node:dns/promises');
  const ip = isIP(host) !== 0 ? host : (await lookup(host)).address;
  const path = `${url.pathname || '/'}${url.search}`;
  const open = async () => {
    const streams = new Map<number, RawStream>();
    const settings = new Map<number, number>();
    let gotSettings: () => void = () => {};
    const settled = new Promise<void>((r) => {
      gotSettings = r;
    });
    const control = new Map<number, { type: number | null; dec: FrameDecoder }>();
    const conn: QuicConnection = await connectQuic({
      host: ip,
      port,
      servername: isIP(host) !== 0 ? null : (t.tls?.servername ?? host),
      ...(t.tls?.ca !== undefined && { ca: t.tls.ca as string | Uint8Array }),
      verify: t.tls?.rejectUnauthorized !== false,
      alpn: ['h3'],
      internalErrorCode: 0x102,
      timeout: 5000,
      settings: QUIC,
      onEstablished: (q) =>
        mux(
          () => q,
          streams,
          undefined,
          (id, data) => {
            let st = control.get(id);
            let bytes = data;
            if (st === undefined) {
              st = { type: data[0] ?? null, dec: new FrameDecoder() };
              control.set(id, st);
              bytes = data.subarray(1);
            }
            if (st.type !== 0x00) return;
            try {
              for (const e of st.dec.push(bytes)) {
                if (e.type === 'settings') {
                  for (const [k, v] of e.settings) settings.set(k, v);
                  gotSettings();
                }
              }
            } catch {
              // a broken control stream shows as missing settings
            }
          },
        ),
    });
    controlStream(conn, [[SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0]]);
    return { conn, streams, settings, settled };
  };
  const good = (): [string, string][] =>
    h3ConnectFields({ authority: url.host, path }).map(([k, v]) => [k, v] as [string, string]);
  return {
    http: 3,
    goodFields: good,
    async settings() {
      const c = await open();
      await Promise.race([c.settled, delay(3000)]);
      c.conn.close(H3_NO_ERROR);
      return c.settings;
    },
    async request(fields) {
      const c = await open();
      try {
        const r = await Promise.race([
          h3Request(c.conn, c.streams, fields as Header[], literalFieldSection(fields)).then(
            ({ stream, fields: got }) => {
              stream.reset();
              return got;
            },
            () => null,
          ),
          delay(3000).then(() => undefined),
        ]);
        if (r === undefined) return { note: 'no answer' };
        if (r === null)
          return { reset: 1, note: 'the request stream was reset (or the connection closed)' };
        const status = Number(r.find(([k]) => k === ':status')?.[1]);
        const rest = r.filter(([k]) => k !== ':status').map(([k, v]) => `${k}: ${v}`);
        return { status, note: `:status ${status}${rest.length ? `; ${rest.join('; ')}` : ''}` };
      } finally {
        c.conn.close(H3_NO_ERROR);
      }
    },
    async connection() {
      const c = await open();
      return {
        open: () => openH3WebSocket(c.conn, c.streams, { authority: url.host, path }, undefined),
        close: () => c.conn.close(H3_NO_ERROR),
      };
    },
  };
}

/** The cases of groups 20 and 21 for `target` (an HTTP/2 or HTTP/3 server). */
export function connectCaseIds(http: 2 | 3): { id: string; description: string }[] {
  return CASES.filter((c) => c.only === undefined || c.only === http).map(
    ({ id, description }) => ({ id, description }),
  );
}

export async function runConnectCases(
  target: RemoteTarget,
  take: (id: string) => boolean,
  onCase?: (r: CaseResult, i: number, total: number) => void,
): Promise<CaseResult[]> {
  if (target.http === 1) return [];
  const probe = target.http === 2 ? h2Probe(target) : await h3Probe(target);
  const cases = CASES.filter((c) => (c.only === undefined || c.only === target.http) && take(c.id));
  const out: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const started = performance.now();
    let o: Outcome;
    try {
      o = await c.run(probe);
    } catch (err) {
      o = { verdict: 'FAILED', observed: [`error: ${(err as Error).message}`] };
    }
    const r: CaseResult = {
      id: c.id,
      kind: 'connect',
      description: c.description,
      verdict: o.verdict,
      behavior: o.verdict,
      behaviorClose: 'OK',
      events: o.observed,
      implClose: null,
      closedByPeer: false,
      wasClean: true,
      implClosedTcp: true,
      violations: o.verdict === 'FAILED' ? o.observed : [],
      rfc: c.rfc,
      expected: c.expected,
      trace: [],
      ending: '',
      ms: Math.round(performance.now() - started),
    };
    out.push(r);
    onCase?.(r, i, cases.length);
  }
  return out;
}
