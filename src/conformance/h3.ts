// PeerDrivers over HTTP/3 (RFC 9220): a raw HTTP/3 peer built from our QUIC layer
// (src/h3/quic.ts) and the frame and QPACK codecs, as test/h3/connection.test.ts does —
// not from H3Connection, so the implementation's HTTP/3 layer is not on both sides.
//   server: our listenH3() with an echo route; the peer is one raw QUIC connection
//           (control stream with SETTINGS) that opens a request stream per case, sends
//           the extended CONNECT in a HEADERS frame and checks the 200.
//   client: our connectH3() with an echo handler; the peer is a raw QUIC server that
//           sends SETTINGS (ENABLE_CONNECT_PROTOCOL = 1), checks the CONNECT and answers 200.
// The WebSocket bytes ride in DATA frames, one per write.
//
// Transport mapping (RFC 9220 §3, RFC 8441 §4): the TCP FIN of RFC 6455 is the QUIC
// stream's FIN, a TCP RST is RESET_STREAM (or STOP_SENDING). "The server closes the
// TCP connection" is the server's FIN; `ended` resolves on the implementation's FIN;
// `reset()` is a RESET_STREAM or STOP_SENDING from it. The peer answers the
// implementation's FIN with its own, as a TCP socket without allowHalfOpen does.

import {
  tempCerts as makeCerts,
  removeTempCerts as removeCerts,
  type TempCerts as TestCerts,
} from '../dev/certs.js';
import { closeH3Connections, connectH3 } from '../h3/client.js';
import { H3_NO_ERROR, H3_REQUEST_CANCELLED } from '../h3/errors.js';
import {
  encodeDataHeader,
  encodeHeadersFrame,
  encodeSettings,
  FrameDecoder,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
} from '../h3/frames.js';
import { decodeFieldSection, encodeFieldSection, type Header } from '../h3/qpack.js';
import type { QuicConnection, QuicConnectionHandler } from '../h3/quic.js';
import { connectQuic } from '../h3/quic-client.js';
import { listenQuic } from '../h3/quic-server.js';
import { listenH3 } from '../server/h3-server.js';
import { type Tracker, trackedEcho, tracker } from './h1.js';
import { prefixInteger } from './h2-raw.js';
import { implOptions, offersDeflate, type PeerDriver, type PeerStream } from './peer.js';

export const QUIC = {
  maxIdleTimeout: 30_000,
  maxStreamsBidi: 1000,
  initialMaxStreamData: 4 * 1024 * 1024,
  initialMaxData: 64 * 1024 * 1024,
};

/** One raw request stream: HTTP/3 frames in, the HEADERS first, then DATA for the runner. */
export class RawStream {
  readonly decoder = new FrameDecoder();
  headers: Header[] | null = null;
  onHeaders: ((h: Header[]) => void) | null = null;
  sink: ((c: Buffer) => void) | null = null;
  early: Buffer[] = [];
  theirFin = false;
  ourFin = false;
  wasReset = false;
  gone = false;
  drained: (() => void)[] = [];
  endWaiters: (() => void)[] = [];
  closeWaiters: (() => void)[] = [];

  constructor(
    readonly conn: QuicConnection,
    readonly id: number,
  ) {}

  data(chunk: Uint8Array, fin: boolean): void {
    let events: ReturnType<FrameDecoder['push']>;
    try {
      events = this.decoder.push(chunk);
    } catch {
      this.reset();
      return;
    }
    for (const e of events) {
      if (e.type === 'headers' && this.headers === null) {
        this.headers = decodeFieldSection(e.fieldSection, 1 << 20);
        this.onHeaders?.(this.headers);
      } else if (e.type === 'data' && e.chunk.length > 0) {
        const b = Buffer.from(e.chunk);
        if (this.sink) this.sink(b);
        else this.early.push(b);
      }
    }
    if (fin) {
      this.theirFin = true;
      // a TCP socket without allowHalfOpen answers a FIN with its own
      this.end();
      this.settle();
    }
  }

  end(): void {
    if (this.ourFin || this.gone) return;
    this.ourFin = true;
    this.conn.write(this.id, [], true);
    this.settle();
  }

  reset(): void {
    if (this.gone) return;
    this.conn.resetStream(this.id, H3_REQUEST_CANCELLED);
    this.conn.stopSending(this.id, H3_REQUEST_CANCELLED);
    this.die();
  }

  die(): void {
    this.gone = true;
    this.settle();
  }

  settle(): void {
    if (this.theirFin || this.gone) for (const f of this.endWaiters.splice(0)) f();
    if ((this.theirFin && this.ourFin) || this.gone) {
      for (const f of this.closeWaiters.splice(0)) f();
      for (const f of this.drained.splice(0)) f();
    }
  }

  peerStream(t: Tracker | undefined, extensions: string | undefined): PeerStream {
    const ended = new Promise<void>((r) => {
      this.endWaiters.push(r);
      this.settle();
    });
    const closed = new Promise<void>((r) => {
      this.closeWaiters.push(r);
      this.settle();
    });
    return {
      write: (b) =>
        new Promise<void>((resolve) => {
          if (this.ourFin || this.gone || this.conn.closed) {
            resolve();
            return;
          }
          this.conn.write(this.id, [encodeDataHeader(b.length), Buffer.from(b)]);
          if (this.conn.bufferedAmount(this.id) === 0) resolve();
          else this.drained.push(resolve);
        }),
      onData: (cb) => {
        this.sink = cb;
        for (const e of this.early.splice(0)) cb(e);
      },
      end: () => this.end(),
      destroy: () => this.reset(),
      ended,
      closed,
      extensions,
      reset: () => this.wasReset,
      ...(t && { impl: { terminated: t.terminated, terminateCalls: () => t.calls } }),
    };
  }
}

/** A QUIC handler that hands each bidirectional stream's events to its RawStream. */
export function mux(
  conn: () => QuicConnection,
  streams: Map<number, RawStream>,
  onNewStream?: (s: RawStream) => void,
  onUni?: (id: number, data: Uint8Array) => void,
): QuicConnectionHandler {
  return {
    onStreamData(id, data, fin) {
      if ((id & 2) !== 0) {
        // control and QPACK streams: only the handshake cases read them (the SETTINGS)
        onUni?.(id, data);
        return;
      }
      let s = streams.get(id);
      if (s === undefined) {
        s = new RawStream(conn(), id);
        streams.set(id, s);
        onNewStream?.(s);
      }
      s.data(data, fin);
    },
    onStreamReset(id) {
      const s = streams.get(id);
      if (s) {
        s.wasReset = true;
        s.die();
      }
    },
    onStreamStopped(id, code) {
      // STOP_SENDING aborts our direction only: what the implementation still sends (a
      // response before it stops reading, RFC 9114 §4.1) is read to its FIN or reset
      const s = streams.get(id);
      if (s && code !== null) {
        s.wasReset = true;
        s.ourFin = true;
        s.settle();
      }
    },
    onStreamDrain(id) {
      const s = streams.get(id);
      if (s) for (const f of s.drained.splice(0)) f();
    },
    onClose() {
      for (const s of streams.values()) s.die();
      streams.clear();
    },
  };
}

export function controlStream(conn: QuicConnection, settings: [number, number][]): void {
  const id = conn.openStream('uni');
  if (id !== null) conn.write(id, [Uint8Array.of(0x00), encodeSettings(settings)]);
}

/** Our HTTP/3 server under test: one raw QUIC connection, a request stream per case. */
export async function h3ServerDriver(): Promise<PeerDriver> {
  const certs: TestCerts = await makeCerts('conformance-h3-server');
  const trackers = new Map<string, Tracker>();
  const srv = await listenH3({
    cert: certs.cert,
    key: certs.key,
    hosts: ['127.0.0.1'],
    quic: QUIC,
    route: (req) => {
      const t = trackers.get(req.pathname);
      if (t === undefined) return { status: 404 };
      trackers.delete(req.pathname);
      return { handler: trackedEcho, state: t, ...implOptions(t.opts) };
    },
  });
  const { streams, connection, current } = rawH3Peer({
    host: '127.0.0.1',
    port: srv.port,
    servername: 'localhost',
    ca: certs.ca,
  });
  let n = 0;
  return {
    transport: 'h3',
    implRole: 'server',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      trackers.set(path, t);
      const request = { authority: 'localhost', path, peerExtensions: opts.peerExtensions };
      return openH3WebSocket(await connection(), streams, request, t);
    },
    async close() {
      current()?.close(H3_NO_ERROR);
      await srv.close();
      await removeCerts(certs);
    },
  };
}

/** The extended CONNECT of a raw HTTP/3 peer (RFC 9220 §3). */
export interface H3Request {
  authority: string;
  path: string;
  peerExtensions?: string | undefined;
  /** Fields instead of the usual ones (the handshake cases send broken requests). */
  fields?: Header[];
}

/** The fields of a well-formed extended CONNECT for a WebSocket (RFC 9220 §3). */
export function h3ConnectFields(r: H3Request): Header[] {
  return [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'https'],
    [':authority', r.authority],
    [':path', r.path],
    ['sec-websocket-version', '13'],
    ...(r.peerExtensions !== undefined
      ? [['sec-websocket-extensions', r.peerExtensions] as const]
      : []),
  ];
}

/** Send a request on a new stream of `c`; resolves with the response fields and the stream. */
export async function h3Request(
  c: QuicConnection,
  streams: Map<number, RawStream>,
  fields: Header[],
  /** The field section as is (a request our encoder would refuse to write). */
  encoded?: Uint8Array,
): Promise<{ stream: RawStream; fields: Header[] }> {
  const id = c.openStream('bidi');
  if (id === null) throw new Error('no request stream left');
  const s = new RawStream(c, id);
  streams.set(id, s);
  const head = new Promise<Header[]>((resolve, reject) => {
    s.onHeaders = resolve;
    s.endWaiters.push(() =>
      reject(new Error('the request stream ended (or was reset) before a response')),
    );
  });
  c.write(id, encodeHeadersFrame(encoded ?? encodeFieldSection(fields)));
  const got = await head;
  s.endWaiters.length = 0;
  return { stream: s, fields: got };
}

/** Open a WebSocket with a raw extended CONNECT; throws unless the answer is 200. */
export async function openH3WebSocket(
  c: QuicConnection,
  streams: Map<number, RawStream>,
  request: H3Request,
  t: Tracker | undefined,
): Promise<PeerStream> {
  const { stream: s, fields } = await h3Request(
    c,
    streams,
    request.fields ?? h3ConnectFields(request),
  );
  const status = fields.find(([k]) => k === ':status')?.[1];
  if (status !== '200') {
    s.reset();
    throw new Error(`no WebSocket: the answer to the CONNECT was ${status ?? 'without a status'}`);
  }
  return s.peerStream(t, fields.find(([k]) => k === 'sec-websocket-extensions')?.[1]);
}

/** Our HTTP/3 client under test: a raw QUIC server that answers the CONNECT itself. */
export async function h3ClientDriver(): Promise<PeerDriver> {
  const certs: TestCerts = await makeCerts('conformance-h3-client');
  const waiting = new Map<
    string,
    { done: (s: RawStream, ext?: string) => void; answer?: string }
  >();
  const onRequest = (s: RawStream) => {
    s.onHeaders = (h) => {
      const f = new Map<string, string>();
      for (const [k, v] of h) f.set(k, v);
      const path = f.get(':path') ?? '';
      // RFC 9220 §3 (RFC 8441 §4 / §5 on HTTP/3): what the extended CONNECT must contain
      const good =
        f.get(':method') === 'CONNECT' &&
        f.get(':protocol') === 'websocket' &&
        f.get(':scheme') === 'https' &&
        f.has(':authority') &&
        f.get('sec-websocket-version') === '13' &&
        !f.has('sec-websocket-key') &&
        !f.has('upgrade');
      const w = waiting.get(path);
      if (!good || w === undefined) {
        s.conn.write(s.id, encodeHeadersFrame(encodeFieldSection([[':status', '400']])), true);
        return;
      }
      waiting.delete(path);
      const offered = f.get('sec-websocket-extensions');
      const ext = w.answer !== undefined && offersDeflate(offered) ? w.answer : undefined;
      const answer: Header[] = [[':status', '200']];
      if (ext !== undefined) answer.push(['sec-websocket-extensions', ext]);
      s.conn.write(s.id, encodeHeadersFrame(encodeFieldSection(answer)));
      w.done(s, ext);
    };
  };
  const conns = new Set<QuicConnection>();
  const server = await listenQuic({
    hosts: ['127.0.0.1'],
    cert: certs.cert,
    key: certs.key,
    alpn: ['h3'],
    internalErrorCode: 0x102,
    settings: QUIC,
    onConnection(q) {
      conns.add(q);
      controlStream(q, [
        [SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0],
        [SETTINGS_ENABLE_CONNECT_PROTOCOL, 1],
      ]);
      return mux(() => q, new Map(), onRequest);
    },
  });
  let n = 0;
  return {
    transport: 'h3',
    implRole: 'client',
    async open(opts) {
      const path = `/case/${++n}`;
      const t = tracker(opts);
      const accepted = new Promise<PeerStream>((resolve) => {
        waiting.set(path, {
          done: (s, ext) => resolve(s.peerStream(t, ext)),
          ...(opts.peerExtensions !== undefined && { answer: opts.peerExtensions }),
        });
      });
      const session = connectH3(`wss://127.0.0.1:${server.port}${path}`, {
        handler: trackedEcho,
        state: t,
        tls: { ca: certs.ca, servername: 'localhost' },
        quic: QUIC,
        ...implOptions(opts),
      });
      const [stream] = await Promise.all([accepted, session]);
      return stream;
    },
    async close() {
      closeH3Connections();
      await server.close(H3_NO_ERROR, 500);
      conns.clear();
      await removeCerts(certs);
    },
  };
}

/**
 * A QPACK field section of literal names and values, byte for byte as given (RFC 9204
 * §4.5.6, no Huffman, no table): what the handshake cases need to send names that a
 * real encoder would lower-case or refuse.
 */
export function literalFieldSection(fields: readonly (readonly [string, string])[]): Uint8Array {
  const out: number[] = [0x00, 0x00];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    out.push(...prefixInteger(n.length, 3, 0x20), ...n, ...prefixInteger(v.length, 7, 0x00), ...v);
  }
  return Uint8Array.from(out);
}

/**
 * A raw HTTP/3 peer's side toward a server: one QUIC connection at a time (a new one once
 * its request streams are spent), our control stream with SETTINGS, the request streams
 * in `streams`.
 */
export function rawH3Peer(to: {
  host: string;
  port: number;
  servername: string | null;
  ca?: string | Uint8Array | undefined;
  verify?: boolean;
}): {
  streams: Map<number, RawStream>;
  connection: () => Promise<QuicConnection>;
  current: () => QuicConnection | null;
} {
  const streams = new Map<number, RawStream>();
  let conn: QuicConnection | null = null;
  const connection = async (): Promise<QuicConnection> => {
    if (conn !== null && !conn.closed && conn.streamsLeft('bidi') > 0) return conn;
    conn?.close(H3_NO_ERROR);
    const c = await connectQuic({
      host: to.host,
      port: to.port,
      servername: to.servername,
      ...(to.ca !== undefined && { ca: to.ca }),
      verify: to.verify !== false,
      alpn: ['h3'],
      internalErrorCode: 0x102,
      timeout: 5000,
      settings: QUIC,
      onEstablished: (q) => mux(() => q, streams),
    });
    controlStream(c, [[SETTINGS_QPACK_MAX_TABLE_CAPACITY, 0]]);
    conn = c;
    return c;
  };
  return { streams, connection, current: () => conn };
}
