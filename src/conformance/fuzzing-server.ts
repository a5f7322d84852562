// `omniws conformance client`: the case table served to WebSocket clients, like
// Autobahn's fuzzingserver and with its URL protocol, over HTTP/1.1 (ws:// on the plain
// port, wss:// on the TLS port), HTTP/2 (TLS, ALPN h2, RFC 8441) and HTTP/3 (UDP on the
// TLS port number, advertised with Alt-Svc; RFC 9220):
//   /getCaseCount                 a text message with the number of cases, then close 1000
//   /getCaseInfo?case=N           a text message {"id", "description"}
//   /runCase?case=N&agent=A       case N (1-based) run against the client, which echoes
//   /updateReports?agent=A        writes A's reports, then close 1000
// and over plain HTTP: / (a page that drives a browser through every case and shows its
// report), /report/ (every agent's summary), /report/KEY (one report), /results.json.
// Results are kept per agent and per transport seen (`chromium@h2`), so one browser run
// over each origin gives one report per HTTP version.

import { once } from 'node:events';
import http2, { type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { H3_NO_ERROR } from '../h3/errors.js';
import {
  encodeDataHeader,
  encodeHeadersFrame,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
} from '../h3/frames.js';
import { encodeFieldSection, type Header } from '../h3/qpack.js';
import { listenQuic, type QuicServer } from '../h3/quic-server.js';
import type { Case } from './cases.js';
import { parseResponse } from './deflate.js';
import { accept, parseHeaders, readHead, socketStream } from './h1.js';
import { h2Stream } from './h2.js';
import { controlStream, mux, QUIC, type RawStream } from './h3.js';
import { fuzzingPage } from './page.js';
import { encodePeerFrame, offersDeflate, type PeerDriver, type PeerStream } from './peer.js';
import { renderHtml, summaryLine, writeReport } from './report.js';
import { answerBreaksOffer } from './runner.js';
import { type CaseResult, runOne, type SuiteResult, summarize } from './suite.js';

export interface FuzzingServerOptions {
  host?: string;
  /** Plain HTTP/1.1 (ws://, the page over http://); 0 picks one. */
  port?: number;
  /** TLS (h2 and http/1.1 by ALPN) and, on the same number over UDP, HTTP/3; 0 picks one. */
  tlsPort?: number;
  cert: Buffer;
  key: Buffer;
  http3?: boolean;
  cases: readonly Case[];
  /** Where /updateReports writes (DIR/KEY/index.html and DIR/index.html); none: kept in memory. */
  reportDir?: string | undefined;
  tool: string;
  /** A case finished. */
  onCase?: (key: string, r: CaseResult, total: number) => void;
}

export interface FuzzingServer {
  readonly port: number;
  readonly tlsPort: number;
  /** Results so far, by `agent@transport`. */
  readonly results: ReadonlyMap<string, CaseResult[]>;
  /** The SuiteResult of one agent@transport. */
  result(key: string): SuiteResult | undefined;
  close(): Promise<void>;
}

type Transport = 'h1' | 'h2' | 'h3';

/** What the raw side of each HTTP version asks of the fuzzing logic. */
interface Answer {
  status: number;
  extensions?: string | undefined;
  run?: (s: PeerStream) => Promise<void>;
}

const TEXT = 0x1;
const CLOSE = 0x8;

function closeFrame(code: number): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return encodePeerFrame({ op: CLOSE, data: p }, false);
}

/** Send a text message and close 1000, as Autobahn's service endpoints do. */
async function sayAndClose(s: PeerStream, text: string | null): Promise<void> {
  if (text !== null) await s.write(encodePeerFrame({ op: TEXT, data: text }, false));
  await s.write(closeFrame(1000));
  const done = new Promise<void>((r) => s.onData(() => r()));
  await Promise.race([done, new Promise((r) => setTimeout(r, 1000))]);
  s.end();
}

/** A driver that hands the runner the WebSocket the client opened. */
function oneShot(transport: Transport, s: PeerStream): PeerDriver {
  return {
    transport,
    implRole: 'client',
    foreign: true,
    open: async () => s,
    close: async () => {},
  };
}

export async function startFuzzingServer(opts: FuzzingServerOptions): Promise<FuzzingServer> {
  const host = opts.host ?? '127.0.0.1';
  const results = new Map<string, CaseResult[]>();
  const started = new Map<string, string>();
  const cases = opts.cases;
  let tlsPort = 0;

  const suiteOf = (key: string): SuiteResult | undefined => {
    const list = results.get(key);
    if (list === undefined) return undefined;
    const [agent, http] = key.split('@') as [string, string];
    return {
      tool: opts.tool,
      mode: 'client',
      target: agent,
      agent,
      http: http === 'h1' ? '1.1' : http.slice(1),
      started: started.get(key) ?? '',
      finished: new Date().toISOString(),
      summary: summarize(list),
      cases: [...list].sort(
        (a, b) => cases.findIndex((c) => c.id === a.id) - cases.findIndex((c) => c.id === b.id),
      ),
    };
  };

  const writeReports = async (agent: string | null) => {
    if (opts.reportDir === undefined) return;
    for (const key of results.keys()) {
      if (agent !== null && !key.startsWith(`${agent}@`)) continue;
      await writeReport(join(opts.reportDir, key.replace(/[^\w@.-]/g, '_')), suiteOf(key)!);
    }
  };

  /** The WebSocket endpoints (Autobahn's URLs). */
  const onWebSocket = (t: Transport, target: string, offered: string | undefined): Answer => {
    const u = new URL(target, 'http://x');
    const agent = (u.searchParams.get('agent') ?? 'agent').slice(0, 64);
    switch (u.pathname) {
      case '/getCaseCount':
        return { status: 200, run: (s) => sayAndClose(s, String(cases.length)) };
      case '/getCaseInfo': {
        const c = cases[Number(u.searchParams.get('case')) - 1];
        if (c === undefined) return { status: 404 };
        const info = JSON.stringify({ id: c.id, description: c.description });
        return { status: 200, run: (s) => sayAndClose(s, info) };
      }
      case '/updateReports':
        return {
          status: 200,
          run: async (s) => {
            await writeReports(u.searchParams.has('agent') ? agent : null);
            await sayAndClose(s, null);
          },
        };
      case '/runCase': {
        const c = cases[Number(u.searchParams.get('case')) - 1];
        if (c === undefined) return { status: 404 };
        const key = `${agent}@${t}`;
        // the answer of the case (12.x / 13.x), when the client offered something it fits
        let extensions: string | undefined;
        const answer = c.impl?.peerExtensions;
        if (c.deflate && answer !== undefined && offersDeflate(offered)) {
          const agreed = parseResponse(answer);
          if (typeof agreed !== 'string' && answerBreaksOffer(offered, agreed) === null) {
            extensions = answer;
          }
        }
        return {
          status: 200,
          extensions,
          run: async (s) => {
            if (!started.has(key)) started.set(key, new Date().toISOString());
            const r = await runOne(oneShot(t, s), c);
            const list = results.get(key) ?? [];
            const i = list.findIndex((x) => x.id === r.id);
            if (i >= 0) list[i] = r;
            else list.push(r);
            results.set(key, list);
            opts.onCase?.(key, r, cases.length);
          },
        };
      }
      default:
        return { status: 404 };
    }
  };

  /** Plain GETs: the page, the reports. */
  const onGet = (target: string): { status: number; type: string; body: string } => {
    const u = new URL(target, 'http://x');
    if (u.pathname === '/') {
      return { status: 200, type: 'text/html; charset=utf-8', body: fuzzingPage(cases) };
    }
    if (u.pathname === '/results.json') {
      const all = Object.fromEntries([...results.keys()].map((k) => [k, suiteOf(k)]));
      return { status: 200, type: 'application/json', body: JSON.stringify(all) };
    }
    if (u.pathname === '/report/' || u.pathname === '/report') {
      const rows = [...results.keys()]
        .map(
          (k) =>
            `<li><a href="/report/${encodeURIComponent(k)}">${k}</a>: ${summaryLine(suiteOf(k)!)}</li>`,
        )
        .join('');
      return {
        status: 200,
        type: 'text/html; charset=utf-8',
        body: `<!doctype html><meta charset="utf-8"><title>reports</title><ul>${rows}</ul>`,
      };
    }
    if (u.pathname.startsWith('/report/')) {
      const r = suiteOf(decodeURIComponent(u.pathname.slice('/report/'.length)));
      if (r) return { status: 200, type: 'text/html; charset=utf-8', body: renderHtml(r) };
    }
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  };

  const altSvc = () => (opts.http3 !== false ? { 'alt-svc': `h3=":${tlsPort}"; ma=86400` } : {});

  // ── HTTP/1.1 (plain, and TLS with ALPN http/1.1) ──
  const sockets = new Set<net.Socket>();
  const h1 = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    readHead(socket).then(
      ({ head, rest }) => {
        const [line, ...lines] = head.split('\r\n');
        const [method, target = '/', version] = (line ?? '').split(' ');
        const h = parseHeaders(lines);
        const key = h.get('sec-websocket-key') ?? '';
        const upgrade = /(^|,)\s*websocket\s*(,|$)/i.test(h.get('upgrade') ?? '');
        if (!upgrade) {
          const g =
            method === 'GET' ? onGet(target) : { status: 405, type: 'text/plain', body: '' };
          const body = Buffer.from(g.body);
          const extra = socket instanceof tls.TLSSocket ? altSvc() : {};
          socket.write(
            `HTTP/1.1 ${g.status} ${g.status === 200 ? 'OK' : 'Not Found'}\r\nContent-Type: ${g.type}\r\n` +
              `Content-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n` +
              Object.entries(extra)
                .map(([k, v]) => `${k}: ${v}\r\n`)
                .join('') +
              '\r\n',
          );
          socket.end(body);
          return;
        }
        // RFC 6455 §4.1: what a client's opening handshake must contain
        const good =
          method === 'GET' &&
          version === 'HTTP/1.1' &&
          h.has('host') &&
          /(^|,)\s*upgrade\s*(,|$)/i.test(h.get('connection') ?? '') &&
          h.get('sec-websocket-version') === '13' &&
          Buffer.from(key, 'base64').length === 16;
        const a: Answer = good
          ? onWebSocket('h1', target, h.get('sec-websocket-extensions'))
          : { status: 400 };
        if (a.status !== 200 || a.run === undefined) {
          socket.end(
            `HTTP/1.1 ${a.status} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
          );
          return;
        }
        socket.setNoDelay(true);
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept(key)}\r\n` +
            (a.extensions !== undefined ? `Sec-WebSocket-Extensions: ${a.extensions}\r\n` : '') +
            '\r\n',
        );
        void a.run(socketStream(socket, rest, undefined, a.extensions)).finally(() => {
          if (!socket.destroyed) socket.destroy();
        });
      },
      () => socket.destroy(),
    );
  };
  const plain = net.createServer(h1);
  plain.listen(opts.port ?? 0, host);
  await once(plain, 'listening');
  const port = (plain.address() as net.AddressInfo).port;

  // ── HTTP/2 (TLS, ALPN h2) ──
  const h2 = http2.createServer({
    settings: { enableConnectProtocol: true, initialWindowSize: 1024 * 1024 },
  });
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (s: http2.ServerHttp2Session) => {
    h2Sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => h2Sessions.delete(s));
  });
  h2.on('stream', (stream: ServerHttp2Stream, h: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {});
    const target = h[':path'] ?? '/';
    if (h[':method'] !== 'CONNECT') {
      const g =
        h[':method'] === 'GET' ? onGet(target) : { status: 405, type: 'text/plain', body: '' };
      stream.respond({
        ':status': g.status,
        'content-type': g.type,
        'cache-control': 'no-store',
        ...altSvc(),
      });
      stream.end(g.body);
      return;
    }
    // RFC 8441 §4 / §5: what the client's extended CONNECT must contain
    const good =
      h[':protocol'] === 'websocket' &&
      h[':scheme'] === 'https' &&
      h[':authority'] !== undefined &&
      h['sec-websocket-version'] === '13' &&
      h['sec-websocket-key'] === undefined;
    const offered = h['sec-websocket-extensions'] as string | undefined;
    const a: Answer = good ? onWebSocket('h2', target, offered) : { status: 400 };
    if (a.status !== 200 || a.run === undefined) {
      stream.respond({ ':status': a.status }, { endStream: true });
      return;
    }
    stream.respond({
      ':status': 200,
      ...(a.extensions !== undefined && { 'sec-websocket-extensions': a.extensions }),
    });
    const ext = a.extensions;
    void a.run(h2Stream(stream, undefined, () => ext));
  });
  const secure = tls.createServer(
    { cert: opts.cert, key: opts.key, ALPNProtocols: ['h2', 'http/1.1'] },
    (socket) => {
      if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else h1(socket);
    },
  );
  secure.on('tlsClientError', () => {});
  secure.listen(opts.tlsPort ?? 0, host);
  await once(secure, 'listening');
  tlsPort = (secure.address() as net.AddressInfo).port;

  // ── HTTP/3 (UDP on the TLS port number) ──
  let quic: QuicServer | null = null;
  if (opts.http3 !== false) {
    const onRequest = (s: RawStream) => {
      s.onHeaders = (fields) => {
        const f = new Map<string, string>();
        for (const [k, v] of fields) f.set(k, v);
        const target = f.get(':path') ?? '/';
        const respond = (hs: Header[], fin: boolean) =>
          s.conn.write(s.id, encodeHeadersFrame(encodeFieldSection(hs)), fin);
        if (f.get(':method') !== 'CONNECT') {
          const g =
            f.get(':method') === 'GET'
              ? onGet(target)
              : { status: 405, type: 'text/plain', body: '' };
          const body = Buffer.from(g.body);
          respond(
            [
              [':status', String(g.status)],
              ['content-type', g.type],
              ['cache-control', 'no-store'],
            ],
            false,
          );
          s.conn.write(s.id, [encodeDataHeader(body.length), body], true);
          return;
        }
        // RFC 9220 §3 (RFC 8441 §4 / §5 on HTTP/3)
        const good =
          f.get(':protocol') === 'websocket' &&
          f.get(':scheme') === 'https' &&
          f.has(':authority') &&
          f.get('sec-websocket-version') === '13' &&
          !f.has('sec-websocket-key');
        const a: Answer = good
          ? onWebSocket('h3', target, f.get('sec-websocket-extensions'))
          : { status: 400 };
        if (a.status !== 200 || a.run === undefined) {
          respond([[':status', String(a.status)]], true);
          return;
        }
        const answer: Header[] = [[':status', '200']];
        if (a.extensions !== undefined) answer.push(['sec-websocket-extensions', a.extensions]);
        respond(answer, false);
        void a.run(s.peerStream(undefined, a.extensions));
      };
    };
    quic = await listenQuic({
      // Chromium tries ::1 first for localhost
      hosts: host === '127.0.0.1' ? ['127.0.0.1', '::1'] : [host],
      port: tlsPort,
      cert: opts.cert,
      key: opts.key,
      alpn: ['h3'],
      internalErrorCode: 0x102,
      settings: QUIC,
      onConnection(q) {
        controlStream(q, [
          [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
          [SETTINGS_ENABLE_CONNECT_PROTOCOL, 1],
        ]);
        return mux(() => q, new Map(), onRequest);
      },
    });
  }

  return {
    port,
    tlsPort,
    results,
    result: suiteOf,
    async close() {
      for (const s of sockets) s.destroy();
      for (const s of h2Sessions) s.destroy();
      await Promise.all([
        new Promise<void>((r) => plain.close(() => r())),
        new Promise<void>((r) => secure.close(() => r())),
        quic?.close(H3_NO_ERROR, 200),
      ]);
    },
  };
}
