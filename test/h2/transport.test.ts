// H2Transport on real Http2Streams (node:http2 both sides, h2c behind a sniffing
// proxy): what each Transport call puts on the wire, and what the sink hears.

import http2, { constants, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { H2Transport } from '../../src/h2/transport.js';
import type { TransportSink } from '../../src/ws/transport.js';
import { END_STREAM, H2, rawSession, sniffingProxy, until } from './helpers.js';

class RecordingSink implements TransportSink {
  readonly events: string[] = [];
  readonly data: Buffer[] = [];
  onData(chunk: Uint8Array): void {
    this.data.push(Buffer.from(chunk));
    this.events.push('data');
  }
  onEnd(): void {
    this.events.push('end');
  }
  onError(err: Error): void {
    this.events.push(`error: ${err.message}`);
  }
  onDrain(): void {
    this.events.push('drain');
  }
  onClose(): void {
    this.events.push('close');
  }
}

/** A raw server whose streams become H2Transports; a raw client opens one stream through a proxy. */
async function pair() {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } });
  const streams: ServerHttp2Stream[] = [];
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    streams.push(stream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = await sniffingProxy((server.address() as AddressInfo).port);
  const session = await rawSession(proxy.origin);
  const client = session.request(
    {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':path': '/t',
      'sec-websocket-version': '13',
    },
    { endStream: false },
  );
  client.on('error', () => {});
  await until(() => streams.length === 1);
  const sink = new RecordingSink();
  const transport = new H2Transport(streams[0]!, false);
  return {
    transport,
    sink,
    client,
    proxy,
    id: streams[0]!.id!,
    async close() {
      session.destroy();
      await proxy.close();
      await new Promise((r) => server.close(r));
    },
  };
}

test('info says HTTP/2 and carries the peer address', async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  t.is(p.transport.info.http, '2');
  t.false(p.transport.info.secure);
  t.is(p.transport.info.remoteAddress, '127.0.0.1');
  t.is(typeof p.transport.info.remotePort, 'number');
});

test('bytes both ways; end() is END_STREAM and the stream closes without RST_STREAM', async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  p.transport.attach(p.sink);
  p.client.write('from client');
  await until(() => p.sink.data.length > 0);
  t.is(Buffer.concat(p.sink.data).toString(), 'from client');
  const got: Buffer[] = [];
  p.client.on('data', (d: Buffer) => got.push(d));
  t.true(p.transport.write([Buffer.from('from '), Buffer.from('server')]));
  p.transport.end();
  await new Promise((r) => p.client.once('end', r));
  t.is(Buffer.concat(got).toString(), 'from server');
  p.client.end();
  await until(() => p.sink.events.includes('close'));
  t.deepEqual(p.sink.events, ['data', 'end', 'close']);
  const ours = p.proxy.fromServer.filter((f) => f.streamId === p.id);
  t.true(ours.some((f) => f.type === H2.DATA && (f.flags & END_STREAM) !== 0));
  t.false(ours.some((f) => f.type === H2.RST_STREAM));
});

test("abort('cancel') is RST_STREAM CANCEL alone: no END_STREAM first, no error to the sink", async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  p.transport.attach(p.sink);
  const aborted = new Promise((r) => p.client.once('aborted', r));
  p.transport.abort('cancel');
  await aborted;
  await until(() => p.sink.events.includes('close'));
  t.is(p.client.rstCode, constants.NGHTTP2_CANCEL);
  await until(() =>
    p.proxy.fromServer.some((f) => f.streamId === p.id && f.type === H2.RST_STREAM),
  );
  const ours = p.proxy.fromServer.filter((f) => f.streamId === p.id);
  t.deepEqual(
    ours.map((f) => [f.type, f.flags & END_STREAM, f.code]),
    [[H2.HEADERS, 0, ours[0]!.code]].concat([[H2.RST_STREAM, 0, constants.NGHTTP2_CANCEL]]),
  );
  t.false(p.sink.events.some((e) => e.startsWith('error')));
  t.is(p.sink.events.filter((e) => e === 'close').length, 1);
  t.false(p.transport.write(Buffer.from('late')), 'writes after abort are refused');
});

test("the peer's reset reaches the sink as an error naming the code, then one close", async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  p.transport.attach(p.sink);
  // node's close(code) sends END_STREAM just before the RST_STREAM
  p.client.close(constants.NGHTTP2_CANCEL);
  await until(() => p.sink.events.includes('close'));
  t.true(p.sink.events.includes('error: HTTP/2 stream reset (RST_STREAM code 8)'));
  t.is(p.sink.events.at(-1), 'close');
  t.is(p.sink.events.filter((e) => e === 'close').length, 1);
});

test('write() returns false above the high-water mark and drain follows', async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  p.transport.attach(p.sink);
  p.client.pause(); // the peer reads nothing: flow control backs up into our buffer
  const chunk = Buffer.alloc(64 * 1024);
  let writes = 0;
  while (p.transport.write(chunk) && writes < 1000) writes++;
  t.true(writes < 1000, 'write() eventually reported a full buffer');
  t.true(p.transport.bufferedAmount() > 0);
  p.client.resume();
  await until(() => p.sink.events.includes('drain'));
  t.pass();
});

test('attach after the stream already closed reports close once', async (t) => {
  const p = await pair();
  t.teardown(() => p.close());
  p.client.close(constants.NGHTTP2_CANCEL);
  await until(() => p.transport.stream.destroyed);
  p.transport.attach(p.sink);
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(
    p.sink.events.filter((e) => e === 'close'),
    ['close'],
  );
});
