// PeerDrivers over HTTP/2 (RFC 8441): node's bare http2 on the peer's side, the
// WebSocket bytes written raw into the extended-CONNECT stream.
//   server: our listenH2() (h2c) with an echo route; the peer is a raw http2 client that
//           opens one session per case, sends the CONNECT and checks the 200.
//   client: our connectH2() (h2c, prior knowledge) with an echo handler; the peer is a
//           raw http2 server (enableConnectProtocol) that checks the CONNECT and answers 200.
//
// Transport mapping (RFC 8441 §4): the TCP FIN of RFC 6455 is END_STREAM, a TCP RST is
// RST_STREAM. "The server closes the TCP connection" is the server's END_STREAM; `ended`
// resolves on END_STREAM from the implementation; `reset()` is a RST_STREAM with a code
// other than NO_ERROR. Like a TCP socket without allowHalfOpen, the peer answers the
// implementation's END_STREAM with its own, so the stream closes.

import { once } from 'node:events';
import http2, {
  type ClientHttp2Stream,
  constants,
  type Http2Stream,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { closeH2Sessions, connectH2 } from '../h2/client.js';
import { listenH2 } from '../server/h2-server.js';
import { type Tracker, trackedEcho, tracker } from './h1.js';
import { implOptions, offersDeflate, type PeerDriver, type PeerStream } from './peer.js';

/** The raw stream after the 2xx as the runner sees it. */
export function h2Stream(
  s: Http2Stream,
  t: Tracker | undefined,
  extensions: () => string | undefined,
  onClosed?: () => void,
): PeerStream {
  let sink: ((c: Buffer) => void) | null = null;
  const early: Buffer[] = [];
  s.on('data', (d: Buffer) => {
    if (sink) sink(d);
    else early.push(d);
  });
  s.on('error', () => {});
  // a RST_STREAM (the session still up when the stream closed), as opposed to the whole
  // connection going away under it
  let rstSeen = false;
  // the connection went away in order (GOAWAY NO_ERROR or just its end, no error)
  let connectionEnded = false;
  const session = s.session;
  const health = session && sessionHealth(session);
  s.once('close', () => {
    rstSeen = session !== undefined && !session.destroyed;
    connectionEnded = !rstSeen && health?.failed !== true;
  });
  const closed = new Promise<void>((r) =>
    s.once('close', () => {
      onClosed?.();
      r();
    }),
  );
  const ended = new Promise<void>((r) => {
    s.once('end', () => {
      // a TCP socket without allowHalfOpen answers a FIN with its own
      if (!s.writableEnded && !s.destroyed) s.end();
      r();
    });
    closed.then(r);
  });
  return {
    write: (b) =>
      new Promise<void>((resolve) => {
        if (s.destroyed || s.closed || s.writableEnded) {
          resolve();
          return;
        }
        s.write(b, () => resolve());
      }),
    onData(cb) {
      sink = cb;
      for (const e of early.splice(0)) cb(e);
    },
    end: () => {
      if (!s.destroyed && !s.writableEnded) s.end();
    },
    destroy: () => {
      if (!s.destroyed) s.close(constants.NGHTTP2_CANCEL);
    },
    ended,
    closed,
    get extensions() {
      return extensions();
    },
    reset: () =>
      s.rstCode !== undefined && s.rstCode !== constants.NGHTTP2_NO_ERROR && !connectionEnded,
    resetHow: () =>
      rstSeen
        ? `RST_STREAM ${rstName(s.rstCode)}`
        : 'the HTTP/2 connection failed under the stream',
    endedWithConnection: () => connectionEnded,
    ...(t && { impl: { terminated: t.terminated, terminateCalls: () => t.calls } }),
  };
}

/** Our HTTP/2 server under test: a raw http2 client session per case. */
export async function h2ServerDriver(): Promise<PeerDriver> {
  const trackers = new Map<string, Tracker>();
  const srv = await listenH2({
    route: (req) => {
      const t = trackers.get(req.pathname);
      if (t === undefined) return { status: 404 };
      trackers.delete(req.pathname);
      return { handler: trackedEcho, state: t, ...implOptions(t.opts) };
    },
    // the 16 MiB cases of group 9 write faster than a 256 KiB window drains
    initialWindowSize: 1024 * 1024,
  });
  const sessions = new Set<http2.ClientHttp2Session>();
  let n = 0;
  return {
    transport: 'h2',
    implRole: 'server',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      trackers.set(path, t);
      const session = http2.connect(`http://127.0.0.1:${srv.port}`, {
        settings: { initialWindowSize: 1024 * 1024 },
      });
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      const request = { scheme: 'http', authority: `127.0.0.1:${srv.port}`, path };
      return openH2WebSocket(session, { ...request, peerExtensions: opts.peerExtensions }, t);
    },
    async close() {
      for (const s of sessions) s.destroy();
      await srv.close();
    },
  };
}

/** Our HTTP/2 client under test: a raw http2 server that answers the CONNECT itself. */
export async function h2ClientDriver(): Promise<PeerDriver> {
  const waiting = new Map<
    string,
    { done: (s: ServerHttp2Stream, ext?: string) => void; answer?: string }
  >();
  const server = http2.createServer({
    settings: { enableConnectProtocol: true, initialWindowSize: 1024 * 1024 },
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('error', () => {});
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream: ServerHttp2Stream, h: http2.IncomingHttpHeaders) => {
    stream.on('error', () => {});
    const path = h[':path'] ?? '';
    // RFC 8441 §4 / §5: what the client's extended CONNECT must contain
    const good =
      h[':method'] === 'CONNECT' &&
      h[':protocol'] === 'websocket' &&
      h[':scheme'] === 'http' &&
      h[':authority'] !== undefined &&
      h['sec-websocket-version'] === '13' &&
      h['sec-websocket-key'] === undefined &&
      h.upgrade === undefined;
    const w = waiting.get(path);
    if (!good || w === undefined) {
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    waiting.delete(path);
    const offered = h['sec-websocket-extensions'] as string | undefined;
    const ext = w.answer !== undefined && offersDeflate(offered) ? w.answer : undefined;
    stream.respond({
      ':status': 200,
      ...(ext !== undefined && { 'sec-websocket-extensions': ext }),
    });
    w.done(stream, ext);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let n = 0;
  return {
    transport: 'h2',
    implRole: 'client',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      const accepted = new Promise<PeerStream>((resolve) => {
        waiting.set(path, {
          done: (s, ext) => resolve(h2Stream(s, t, () => ext)),
          ...(opts.peerExtensions !== undefined && { answer: opts.peerExtensions }),
        });
      });
      const session = connectH2(`ws://127.0.0.1:${port}${path}`, {
        handler: trackedEcho,
        state: t,
        initialWindowSize: 1024 * 1024,
        ...implOptions(opts),
      });
      const [stream] = await Promise.all([accepted, session]);
      return stream;
    },
    async close() {
      closeH2Sessions();
      for (const s of sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The extended CONNECT of a raw HTTP/2 peer (RFC 8441 §4). */
export interface H2Request {
  scheme: string;
  authority: string;
  path: string;
  peerExtensions?: string | undefined;
}

/**
 * A WebSocket over a new HTTP/2 session (one per WebSocket: the session closes with it).
 * Throws unless the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL and answers 200.
 */
export async function openH2WebSocket(
  session: http2.ClientHttp2Session,
  r: H2Request,
  t: Tracker | undefined,
  /** Close the session with the stream (default true: one WebSocket per session). */
  own = true,
): Promise<PeerStream> {
  // a shared session (own = false) has had its SETTINGS awaited by the caller
  if (own) await h2Settings(session);
  if (session.remoteSettings.enableConnectProtocol !== true) {
    session.destroy();
    throw new Error(
      'the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)',
    );
  }
  const stream: ClientHttp2Stream = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': r.scheme,
      ':authority': r.authority,
      ':path': r.path,
      'sec-websocket-version': '13',
      ...(r.peerExtensions !== undefined && { 'sec-websocket-extensions': r.peerExtensions }),
    },
    { endStream: false },
  );
  let extensions: string | undefined;
  const ps = h2Stream(stream, t, () => extensions, own ? () => session.close() : undefined);
  const [headers] = (await Promise.race([
    once(stream, 'response'),
    once(stream, 'close').then(() => {
      throw new Error(`the CONNECT stream was reset (code ${stream.rstCode}) before a response`);
    }),
  ])) as [http2.IncomingHttpHeaders];
  if (Number(headers[':status']) !== 200) {
    if (own) session.destroy();
    else stream.close(constants.NGHTTP2_CANCEL);
    throw new Error(`no WebSocket: the answer to the CONNECT was ${headers[':status']}`);
  }
  extensions = headers['sec-websocket-extensions'] as string | undefined;
  return ps;
}

/** Resolves once the server's first SETTINGS arrived; rejects if the session closes first. */
export async function h2Settings(session: http2.ClientHttp2Session): Promise<void> {
  session.on('error', () => {});
  await Promise.race([
    once(session, 'remoteSettings'),
    once(session, 'close').then(() => {
      throw new Error('the HTTP/2 connection closed before its SETTINGS');
    }),
  ]);
}

function rstName(code: number | undefined): string {
  const names: Record<number, string> = {
    0: 'NO_ERROR',
    1: 'PROTOCOL_ERROR',
    2: 'INTERNAL_ERROR',
    5: 'STREAM_CLOSED',
    7: 'REFUSED_STREAM',
    8: 'CANCEL',
  };
  return code === undefined ? 'without a code' : `${names[code] ?? 'code'} (${code})`;
}

const healths = new WeakMap<http2.Http2Session, { failed: boolean }>();

/** Whether a session failed (an error, or GOAWAY with an error code): watched once per session. */
function sessionHealth(session: http2.Http2Session): { failed: boolean } {
  let h = healths.get(session);
  if (h === undefined) {
    const health = { failed: false };
    h = health;
    healths.set(session, health);
    session.once('error', () => {
      health.failed = true;
    });
    session.on('goaway', (code: number) => {
      if (code !== constants.NGHTTP2_NO_ERROR) health.failed = true;
    });
  }
  return h;
}
