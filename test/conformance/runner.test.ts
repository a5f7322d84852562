// The judge must be able to say no. The runner is pointed at implementations that are
// known to behave differently from omniws: the `ws` server (which checks UTF-8 only
// once a message is complete, so Autobahn rates its 6.4.x NON-STRICT) and scripted raw
// servers that break one rule each; every verdict Autobahn can give must come out.

import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import test from 'ava';
import { WebSocketServer } from 'ws';
import { type Case, caseTable } from '../../src/conformance/cases.js';
import {
  accept,
  parseHeaders,
  rawClientStream,
  readHead,
  type Tracker,
  tracker,
} from '../../src/conformance/h1.js';
import {
  encodePeerFrame,
  FrameReader,
  type ImplOptions,
  type PeerDriver,
  type WireFrame,
} from '../../src/conformance/peer.js';
import { runCase, type Verdict } from '../../src/conformance/runner.js';

const all = [...caseTable({ group9Scale: 64 }).values()].flat();
function caseById(id: string, patch: Partial<Case> = {}): Case {
  const c = all.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no case ${id}`);
  return { ...c, ...patch };
}

/** A driver for any server on a port: the peer is a raw client; `ended` tells terminate. */
function rawServerDriver(
  port: number,
  sessionEnded: (path: string) => Promise<void>,
  cleanup: () => Promise<void>,
): PeerDriver {
  const sockets = new Set<net.Socket>();
  let n = 0;
  return {
    transport: 'h1',
    implRole: 'server',
    async open(opts: ImplOptions) {
      const path = `/c${++n}`;
      const t: Tracker = tracker(opts);
      sessionEnded(path).then(() => {
        t.calls++;
        t.resolve({ kind: 'remote', code: 1005, reason: '', wasClean: true });
      });
      return rawClientStream(
        { host: '127.0.0.1', port, path, peerExtensions: opts.peerExtensions },
        t,
        sockets,
      );
    },
    async close() {
      for (const s of sockets) s.destroy();
      await cleanup();
    },
  };
}

async function wsDriver(): Promise<PeerDriver> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  const ended = new Map<string, () => void>();
  wss.on('connection', (ws, req) => {
    ws.on('message', (data, binary) => ws.send(data, { binary }));
    ws.on('error', () => {});
    ws.on('close', () => ended.get(req.url ?? '')?.());
  });
  return rawServerDriver(
    (wss.address() as AddressInfo).port,
    (path) => new Promise((r) => ended.set(path, r)),
    () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
}

/** A server that does the handshake by hand and then reacts to frames as `behave` says. */
async function scriptedDriver(
  behave: (socket: net.Socket, frame: WireFrame) => void,
): Promise<PeerDriver> {
  const ended = new Map<string, () => void>();
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    readHead(socket).then(({ head }) => {
      const [line, ...lines] = head.split('\r\n');
      const path = (line ?? '').split(' ')[1] ?? '';
      socket.once('close', () => ended.get(path)?.());
      const key = parseHeaders(lines).get('sec-websocket-key') ?? '';
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept(key)}\r\n\r\n`,
      );
      const reader = new FrameReader();
      socket.on('data', (d: Buffer) => {
        for (const f of reader.push(d)) behave(socket, f);
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return rawServerDriver(
    (server.address() as AddressInfo).port,
    (path) => new Promise((r) => ended.set(path, r)),
    () => new Promise((r) => server.close(() => r())),
  );
}

const closeFrame = (code: number) => {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return encodePeerFrame({ op: 0x8, data: p }, false);
};

async function verdicts(driver: PeerDriver, cases: Case[]): Promise<Record<string, Verdict>> {
  const out: Record<string, Verdict> = {};
  try {
    for (const c of cases) out[c.id] = (await runCase(driver, c)).verdict;
  } finally {
    await driver.close();
  }
  return out;
}

test('ws as the server: OK where it is strict, NON-STRICT on the fail-fast UTF-8 cases', async (t) => {
  const got = await verdicts(await wsDriver(), [
    caseById('1.1.6'),
    caseById('2.10'),
    caseById('5.15'),
    caseById('6.3.1'),
    caseById('6.4.1'),
    caseById('6.4.4'),
    caseById('7.5.1'),
    caseById('7.9.3'),
  ]);
  t.deepEqual(got, {
    '1.1.6': 'OK',
    '2.10': 'OK',
    '5.15': 'OK',
    '6.3.1': 'OK',
    '6.4.1': 'NON-STRICT',
    '6.4.4': 'NON-STRICT',
    '7.5.1': 'OK',
    '7.9.3': 'OK',
  });
});

test('a server that answers nothing fails: no pong, no close frame (the peer has to kill it)', async (t) => {
  const got = await verdicts(await scriptedDriver(() => {}), [
    caseById('2.1', { timeout: 150 }),
    caseById('5.1', { timeout: 150 }),
  ]);
  t.deepEqual(got, { '2.1': 'FAILED', '5.1': 'FAILED' });
});

test('a server that answers the close frame but leaves the TCP connection open: UNCLEAN, or FAILED BY CLIENT', async (t) => {
  const got = await verdicts(
    await scriptedDriver((socket, f) => {
      if (f.op !== 0x8) return;
      const code = f.payload.readUInt16BE(0);
      socket.write(closeFrame(code >= 1000 && code < 5000 ? code : 1002));
    }),
    [caseById('7.3.3', { timeout: 150 }), caseById('7.9.1', { timeout: 150 })],
  );
  // a clean close is required in 7.3.3; in 7.9.1 only the server's TCP close is missing
  t.deepEqual(got, { '7.3.3': 'UNCLEAN', '7.9.1': 'FAILED BY CLIENT' });
});

test('a server that answers any close with 1000: WRONG CODE for an invalid close code', async (t) => {
  const got = await verdicts(
    await scriptedDriver((socket, f) => {
      if (f.op === 0x8) socket.end(closeFrame(1000));
    }),
    [caseById('7.9.1'), caseById('7.7.1')],
  );
  t.deepEqual(got, { '7.9.1': 'WRONG CODE', '7.7.1': 'OK' });
});

test('a server that masks its frames or sends RSV bits: FAILED although the payload is right', async (t) => {
  const got = await verdicts(
    await scriptedDriver((socket, f) => {
      if (f.op === 0x1) {
        socket.write(encodePeerFrame({ op: 0x1, data: f.payload }, true));
      }
      if (f.op === 0x9) socket.write(encodePeerFrame({ op: 0xa, data: f.payload, rsv: 2 }, false));
      if (f.op === 0x8) socket.end(closeFrame(1000));
    }),
    [caseById('1.1.2'), caseById('2.2')],
  );
  t.deepEqual(got, { '1.1.2': 'FAILED', '2.2': 'FAILED' });
});

test('a server that does not fail fast but fails at the end of the message: NON-STRICT', async (t) => {
  // collects a text message and checks it whole, as ws does
  let parts: Buffer[] = [];
  const got = await verdicts(
    await scriptedDriver((socket, f) => {
      if (f.op === 0x1 || f.op === 0x0) {
        parts.push(f.payload);
        if (!f.fin) return;
        const whole = Buffer.concat(parts);
        parts = [];
        socket.end(closeFrame(Buffer.from(whole.toString(), 'utf8').equals(whole) ? 1000 : 1007));
      }
    }),
    [caseById('6.4.2')],
  );
  t.deepEqual(got, { '6.4.2': 'NON-STRICT' });
});
