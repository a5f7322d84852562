// A WebSocketServer's sockets (omniws/ws on the server side): the peer's protocol errors
// as ws reports them, maxPayload, listeners that throw, the `WebSocket` option, pause,
// close codes; against the real `ws` client, omniws/ws's own client and a raw peer.

import { once } from 'node:events';
import net from 'node:net';
import test from 'ava';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { KEY, realClient, record, wsServer } from './helpers.js';

/** A raw client: the upgrade by hand, then whatever bytes the test writes. */
async function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    received = Buffer.concat([received, d]);
  });
  socket.on('end', () => socket.end());
  const closed = once(socket, 'close');
  return {
    socket,
    /** The close code of the close frame the server sent (after the 101). */
    async closeCode(): Promise<number> {
      await closed;
      const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
      // 0x88: FIN + close; the second byte is the (unmasked) payload length
      return body[0] === 0x88 ? body.readUInt16BE(2) : -1;
    },
  };
}

/** The server's next socket, with its events recorded. */
async function serverSocket(conns: ReturnType<typeof record>) {
  const [ws] = await conns.next<[WebSocket]>('connection');
  return Object.assign(ws, { ev: record(ws, ['message', 'close', 'error', 'ping', 'pong']) });
}

test('a peer’s protocol errors: ws’s codes on the server socket, the close code to the peer', async (t) => {
  const { wss, port } = await wsServer(t, { maxPayload: 10 });
  const conns = record(wss, ['connection']);
  const cases: [Buffer, string, number][] = [
    // an unmasked text frame from a client (RFC 6455 §5.1)
    [Buffer.from('8102686a', 'hex'), 'WS_ERR_EXPECTED_MASK', 1002],
    // 11 bytes, maxPayload is 10
    [
      Buffer.concat([Buffer.from('828b00000000', 'hex'), Buffer.alloc(11)]),
      'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
      1009,
    ],
    // invalid UTF-8 in a text frame
    [Buffer.from('818200000000c328', 'hex'), 'WS_ERR_INVALID_UTF8', 1007],
    // a reserved opcode
    [Buffer.from('838000000000', 'hex'), 'WS_ERR_INVALID_OPCODE', 1002],
    // a ping of 126 bytes
    [
      Buffer.concat([Buffer.from('89fe007e00000000', 'hex'), Buffer.alloc(126)]),
      'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
      1002,
    ],
    // a close code that may not be sent (1005)
    [Buffer.from('88820000000003ed', 'hex'), 'WS_ERR_INVALID_CLOSE_CODE', 1002],
  ];
  for (const [bytes, code, closeCode] of cases) {
    const peer = await rawClient(port);
    const ws = await serverSocket(conns);
    peer.socket.write(bytes);
    const [err] = await ws.ev.next<[Error & { code?: string }]>('error');
    t.is(err.code, code);
    t.is((await ws.ev.next<[number]>('close'))[0], 1006);
    t.is(await peer.closeCode(), closeCode, code);
  }
});

test('a listener that throws: the socket closes with 1011 and emits the error', async (t) => {
  const { wss, url } = await wsServer(t);
  const conns = record(wss, ['connection']);
  const client = realClient(url);
  const ws = await serverSocket(conns);
  const boom = new Error('listener failed');
  ws.on('message', () => {
    throw boom;
  });
  await client.opened;
  client.send('hi');
  const [err] = await ws.ev.next<[Error]>('error');
  t.is(err, boom);
  t.is((await client.ev.next<[number]>('close'))[0], 1011);
});

test('the WebSocket option: the server’s sockets are made with that class', async (t) => {
  class Custom extends WebSocket {
    greet(): string {
      return `hi from ${this.protocol || 'no protocol'}`;
    }
  }
  const { wss, url } = await wsServer(t, { WebSocket: Custom });
  const conns = record(wss, ['connection']);
  const client = realClient(url, ['p']);
  const [ws] = await conns.next<[Custom]>('connection');
  t.true(ws instanceof Custom);
  t.is(ws.greet(), 'hi from p');
  t.is(ws.url as string | undefined, undefined);
  await client.opened;
  client.close();
});

test('the server socket pings, is paused, and closes with or without a code', async (t) => {
  const { wss, url } = await wsServer(t);
  const conns = record(wss, ['connection']);
  const client = realClient(url);
  const ws = await serverSocket(conns);
  await client.opened;
  ws.ping('p');
  t.is(String((await ws.ev.next<[Buffer]>('pong'))[0]), 'p');
  const got: string[] = [];
  ws.on('message', (d: Buffer) => got.push(String(d)));
  ws.pause();
  client.send('held');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.deepEqual(got, []);
  ws.resume();
  await ws.ev.next('message');
  t.deepEqual(got, ['held']);
  // close() without a code: the engine sends 1000 (ws sends an empty close frame: 1005)
  ws.close();
  t.is((await client.ev.next<[number]>('close'))[0], 1000);
  t.is((await ws.ev.next<[number]>('close'))[0], 1000);
});

test('omniws/ws on both ends: text, binary and deflate; terminate gives 1006 to the peer', async (t) => {
  const { wss, url } = await wsServer(t, { perMessageDeflate: { threshold: 0 } });
  const conns = record(wss, ['connection']);
  const client = new WebSocket(url);
  const cev = record(client, ['open', 'message', 'close']);
  const ws = await serverSocket(conns);
  ws.on('message', (d: Buffer, isBinary: boolean) => ws.send(d, { binary: isBinary }));
  await cev.next('open');
  t.is(client.extensions, 'permessage-deflate');
  client.send('text');
  client.send(Buffer.from('bin'));
  t.deepEqual(await cev.next('message'), [Buffer.from('text'), false]);
  t.deepEqual(await cev.next('message'), [Buffer.from('bin'), true]);
  ws.terminate();
  t.is((await cev.next<[number]>('close'))[0], 1006);
  t.is((await ws.ev.next<[number]>('close'))[0], 1006);
});

test('bufferedAmount counts what the socket could not write yet', async (t) => {
  const { wss, url } = await wsServer(t);
  const conns = record(wss, ['connection']);
  const client = new WebSocket(url);
  const cev = record(client, ['open', 'message']);
  const ws = await serverSocket(conns);
  await cev.next('open');
  t.is(ws.bufferedAmount, 0);
  const big = Buffer.alloc(8 * 1024 * 1024, 1);
  ws.send(big);
  t.true(ws.bufferedAmount >= big.length, String(ws.bufferedAmount));
  const [got] = await cev.next<[Buffer]>('message', 20_000);
  t.true(got.equals(big));
  t.is(ws.bufferedAmount, 0);
  client.close();
});
