// H3Connection without sockets: a fake QuicConnection records what the HTTP/3 layer
// asks of QUIC, so the exact codes and bytes are visible even where quiche would hide
// them on the wire (a stopped unidirectional stream is forgotten at once; our QUIC
// client never lets a server open a bidirectional stream).

import test from 'ava';
import { H3Connection } from '../../src/h3/connection.js';
import {
  H3_FRAME_UNEXPECTED,
  H3_REQUEST_INCOMPLETE,
  H3_STREAM_CREATION_ERROR,
} from '../../src/h3/errors.js';
import {
  encodeDataHeader,
  encodeHeadersFrame,
  encodeSettings,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
} from '../../src/h3/frames.js';
import { encodeFieldSection } from '../../src/h3/qpack.js';
import type { QuicConnection, QuicStats, StreamKind } from '../../src/h3/quic.js';
import { framesOf } from './helpers.js';

type Call = [string, ...unknown[]];

class FakeQuic implements QuicConnection {
  readonly role: 'client' | 'server';
  readonly localAddress = '127.0.0.1';
  readonly localPort = 1;
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 2;
  readonly established = true;
  earlyData = false;
  closed = false;
  readonly alpn = 'h3';
  readonly calls: Call[] = [];
  readonly written = new Map<number, Buffer[]>();
  #next: Record<StreamKind, number>;
  handler: H3Connection | null = null;

  constructor(role: 'client' | 'server') {
    this.role = role;
    const s = role === 'server' ? 1 : 0;
    this.#next = { bidi: s, uni: 2 | s };
  }
  streamsLeft(): number {
    return 100;
  }
  openStream(kind: StreamKind): number {
    const id = this.#next[kind];
    this.#next[kind] += 4;
    return id;
  }
  write(stream: number, data: Uint8Array | readonly Uint8Array[], fin = false): void {
    const list = this.written.get(stream) ?? [];
    for (const d of data instanceof Uint8Array ? [data] : data) list.push(Buffer.from(d));
    this.written.set(stream, list);
    if (fin) this.calls.push(['fin', stream]);
  }
  bytes(stream: number): Buffer {
    return Buffer.concat(this.written.get(stream) ?? []);
  }
  bufferedAmount(): number {
    return 0;
  }
  pauseStream(): void {}
  resumeStream(): void {}
  resetStream(stream: number, code: number): void {
    this.calls.push(['reset', stream, code]);
  }
  stopSending(stream: number, code: number): void {
    this.calls.push(['stop', stream, code]);
  }
  setKeepAlive(): void {}
  stats(): QuicStats {
    throw new Error('no QUIC under this fake');
  }
  session(): Uint8Array | null {
    return null;
  }
  ref(): void {}
  unref(): void {}
  close(code: number, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.push(['close', code]);
    this.handler?.onClose({ by: 'local', app: true, code, reason });
  }
  closeWhenFlushed(code: number, reason?: string): void {
    this.close(code, reason);
  }
  destroy(): void {
    this.closed = true;
  }
  whenGone(): Promise<void> {
    return Promise.resolve();
  }
}

function setup(role: 'client' | 'server', enableConnectProtocol = false) {
  const quic = new FakeQuic(role);
  const requests: number[] = [];
  const h3 = new H3Connection(
    quic,
    { role, enableConnectProtocol },
    {
      onRequest(s) {
        requests.push(s.id);
      },
    },
  );
  quic.handler = h3;
  return { quic, h3, requests };
}

test('the control stream is opened first with SETTINGS; no QPACK stream of ours', (t) => {
  const { quic } = setup('server', true);
  t.deepEqual([...quic.written.keys()], [3]);
  const bytes = quic.bytes(3);
  t.is(bytes[0], 0x00);
  const [settings] = framesOf(bytes, 1);
  t.true(
    settings?.type === 'settings' && settings.settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) === 1,
  );
});

test('an unknown (reserved) stream type gets STOP_SENDING H3_STREAM_CREATION_ERROR', (t) => {
  const { quic, h3 } = setup('server');
  h3.onStreamData(2, Uint8Array.of(0x40, 0x21, 1, 2, 3), false);
  t.deepEqual(quic.calls, [['stop', 2, H3_STREAM_CREATION_ERROR]]);
  h3.onStreamData(2, Uint8Array.of(4, 5), true);
  t.false(quic.closed);
});

test('a server-initiated bidirectional stream is H3_STREAM_CREATION_ERROR for a client', (t) => {
  const { quic, h3 } = setup('client');
  h3.onStreamData(1, encodeHeadersFrame(encodeFieldSection([[':status', '200']])), false);
  t.deepEqual(quic.calls, [['close', H3_STREAM_CREATION_ERROR]]);
});

test('GOAWAY carries the first request ID not seen; later requests are refused', (t) => {
  const { quic, h3, requests } = setup('server');
  const headers = encodeHeadersFrame(
    encodeFieldSection([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':authority', 'x'],
      [':path', '/'],
    ]),
  );
  h3.onStreamData(8, headers, false);
  h3.onStreamData(0, headers, false); // out of order is fine
  h3.goaway();
  const frames = framesOf(quic.bytes(3), 1);
  t.deepEqual(frames.at(-1), { type: 'goaway', id: 12n });
  h3.onStreamData(4, headers, false); // below the GOAWAY ID: still served
  h3.onStreamData(12, headers, false);
  t.deepEqual(requests, [8, 0, 4]);
  t.deepEqual(quic.calls, [
    ['reset', 12, 0x10b],
    ['stop', 12, 0x10b],
  ]);
});

test('stream errors reset the stream; connection errors close the connection', (t) => {
  const { quic, h3 } = setup('server');
  h3.onStreamData(0, new Uint8Array(0), true);
  t.deepEqual(quic.calls, [
    ['reset', 0, H3_REQUEST_INCOMPLETE],
    ['stop', 0, H3_REQUEST_INCOMPLETE],
  ]);
  h3.onStreamData(4, Buffer.concat([encodeDataHeader(1), Buffer.from('x')]), false);
  t.deepEqual(quic.calls.at(-1), ['close', H3_FRAME_UNEXPECTED]);
  t.true(h3.closed);
});

test('the peer SETTINGS are read; ENABLE_CONNECT_PROTOCOL decides peerEnablesConnectProtocol', (t) => {
  const { h3 } = setup('client');
  t.false(h3.peerEnablesConnectProtocol);
  h3.onStreamData(
    3,
    Buffer.concat([Uint8Array.of(0), encodeSettings([[SETTINGS_ENABLE_CONNECT_PROTOCOL, 1]])]),
    false,
  );
  t.true(h3.peerEnablesConnectProtocol);
});
