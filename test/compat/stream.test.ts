// createWebSocketStream: a Duplex over an omniws/ws socket (ws's lib/stream.js), with
// the real `ws` server at the other end.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import test from 'ava';
import { WebSocketServer as RealServer } from 'ws';
import { createWebSocketStream } from '../../src/compat/ws/stream.js';
import { WebSocket } from '../../src/compat/ws/websocket.js';
import { record } from './helpers.js';

async function echoServer(t: import('ava').ExecutionContext) {
  const wss = new RealServer({ port: 0, host: '127.0.0.1' });
  const conns = record(wss, ['connection']);
  wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
  await once(wss, 'listening');
  t.teardown(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return { conns, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

test('written chunks are sent, messages are read, while still connecting too', async (t) => {
  const { url } = await echoServer(t);
  const ws = new WebSocket(url);
  const duplex = createWebSocketStream(ws);
  // written before 'open': sent once it is
  duplex.write('one');
  duplex.write(Buffer.from('two'));
  // a byte stream: the two messages may come out as one chunk
  let got = '';
  for await (const chunk of duplex) {
    got += String(chunk);
    if (got.length >= 6) break;
  }
  t.is(got, 'onetwo');
  // breaking out of the loop destroyed the stream: the socket is terminated
  await once(ws, 'close');
  t.is(ws.readyState, WebSocket.CLOSED);
});

test('ending the stream closes the WebSocket with 1000; the peer’s close ends the readable side', async (t) => {
  const { conns, url } = await echoServer(t);
  const ws = new WebSocket(url);
  const duplex = createWebSocketStream(ws, { encoding: 'utf8' });
  const [peer] = await conns.next<[import('ws').WebSocket]>('connection');
  const peerEv = record(peer, ['message', 'close']);
  const duplexEv = record(duplex, ['end', 'close']);
  duplex.resume();
  duplex.end('last words');
  t.is(String((await peerEv.next<[Buffer]>('message'))[0]), 'last words');
  t.is((await peerEv.next<[number]>('close'))[0], 1000);
  await duplexEv.next('end');
  await duplexEv.next('close');
  t.is(ws.readyState, WebSocket.CLOSED);
});

test('pipeline through the stream: what goes in comes back', async (t) => {
  const { url } = await echoServer(t);
  const ws = new WebSocket(url);
  await once(ws, 'open');
  const duplex = createWebSocketStream(ws);
  const out: Buffer[] = [];
  const reading = (async () => {
    for await (const chunk of duplex) {
      out.push(chunk as Buffer);
      if (Buffer.concat(out).length >= 3000) break;
    }
  })();
  await pipeline(
    (async function* () {
      for (let i = 0; i < 3; i++) yield Buffer.alloc(1000, i);
    })(),
    async function* (source) {
      for await (const c of source) {
        duplex.write(c);
        yield c;
      }
    },
    async (source) => {
      for await (const _ of source) {
        // drained
      }
    },
  );
  await reading;
  t.deepEqual(Buffer.concat(out), Buffer.concat([0, 1, 2].map((i) => Buffer.alloc(1000, i))));
});

test('an error of the socket destroys the stream with it', async (t) => {
  const ws = new WebSocket('ws://127.0.0.1:1');
  const duplex = createWebSocketStream(ws);
  const [err] = (await once(duplex, 'error')) as [NodeJS.ErrnoException];
  t.is(err.code, 'ECONNREFUSED');
  t.true(duplex.destroyed);
});
