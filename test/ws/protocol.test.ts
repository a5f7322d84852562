// Tests of src/ws/protocol.ts, the sans-I/O state machine: no sockets, no timers.
// Bytes go in through receive()/receiveEof(); a recording sink keeps every call in
// order, and what the protocol writes is decoded by a decoder of the peer's role
// (which itself enforces masking: a server-role decoder refuses unmasked frames).

import assert from 'node:assert/strict';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { type ErrorCode, WebSocketError } from '../../src/ws/errors.js';
import {
  encodeFrame,
  FrameDecoder,
  type FrameHeader,
  type MaskSource,
  Opcode,
  type Role,
} from '../../src/ws/frame.js';
import { Protocol, type ProtocolOptions, type ProtocolSink } from '../../src/ws/protocol.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const RFC_MASK = [0x37, 0xfa, 0x21, 0x3d];
const fixedMask: MaskSource = (out) => {
  out.set(RFC_MASK);
};

interface Written {
  header: FrameHeader;
  payload: Buffer;
}

type Event =
  | { type: 'write'; frames: Written[] }
  | { type: 'message'; binary: boolean; data: Buffer; rsv: number }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'failure'; err: WebSocketError }
  /** We wrote bytes the peer could not decode (e.g. an unmasked frame from a client). */
  | { type: 'bad-write'; err: Error };

/** A sink that records every call, decoding written bytes as the peer would. */
class Recorder implements ProtocolSink {
  readonly events: Event[] = [];
  readonly #peer: FrameDecoder;
  #frames: Written[] = [];
  #cur: { header: FrameHeader; parts: Buffer[] } | null = null;

  constructor(ourRole: Role) {
    this.#peer = new FrameDecoder(
      {
        onFrameHeader: (header) => {
          this.#cur = { header, parts: [] };
        },
        onFramePayload: (piece, last) => {
          this.#cur!.parts.push(Buffer.from(piece));
          if (last) {
            this.#frames.push({
              header: this.#cur!.header,
              payload: Buffer.concat(this.#cur!.parts),
            });
            this.#cur = null;
          }
        },
      },
      // the peer's decoder: a server refuses unmasked frames, a client refuses masked ones
      { role: ourRole === 'server' ? 'client' : 'server', rsvOwned: 0x7 },
    );
  }

  write(chunks: Uint8Array[]): void {
    this.#frames = [];
    try {
      // copy: the decoder unmasks in place and the chunks may be the caller's payload
      this.#peer.push(Buffer.concat(chunks));
    } catch (err) {
      // never let the peer's complaint reach the protocol as if it came from its sink
      this.events.push({ type: 'bad-write', err: err as Error });
      return;
    }
    this.events.push({ type: 'write', frames: this.#frames });
  }
  onMessage(binary: boolean, data: Buffer, rsv: number): void {
    this.events.push({ type: 'message', binary, data: Buffer.from(data), rsv });
  }
  onPing(data: Buffer): void {
    this.events.push({ type: 'ping', data: Buffer.from(data) });
  }
  onPong(data: Buffer): void {
    this.events.push({ type: 'pong', data: Buffer.from(data) });
  }
  onClose(code: number, reason: string): void {
    this.events.push({ type: 'close', code, reason });
  }
  onFailure(err: WebSocketError): void {
    this.events.push({ type: 'failure', err });
  }

  /** Every frame written so far, in order. */
  written(): Written[] {
    return this.events.flatMap((e) => (e.type === 'write' ? e.frames : []));
  }
  take(): Event[] {
    return this.events.splice(0);
  }
}

function setup(
  role: Role = 'server',
  opts: Omit<ProtocolOptions, 'role'> = {},
): { p: Protocol; sink: Recorder } {
  const sink = new Recorder(role);
  const p = new Protocol(sink, { role, ...opts });
  return { p, sink };
}

/** A frame as the peer of `role` would send it (masked when we are the server). */
function from(
  role: Role,
  opcode: Opcode,
  payload: Uint8Array | string = '',
  opts: { fin?: boolean; rsv?: number } = {},
): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = role === 'server' ? fixedMask : undefined;
  return Buffer.concat(encodeFrame(opcode, body, { ...opts, mask }));
}
const fromClient = (opcode: Opcode, payload?: Uint8Array | string, opts?: { fin?: boolean }) =>
  from('server', opcode, payload, opts);

const closePayload = (code: number, reason = ''): Buffer => {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code);
  b.write(reason, 2);
  return b;
};

/** The events with writes flattened to their frames' opcode and payload, for short asserts. */
function summary(events: Event[]): unknown[] {
  return events.map((e) => {
    switch (e.type) {
      case 'write':
        return ['write', ...e.frames.map((f) => [f.header.opcode, f.payload.toString('hex')])];
      case 'message':
        return ['message', e.binary, e.data.toString('hex')];
      case 'ping':
      case 'pong':
        return [e.type, e.data.toString('hex')];
      case 'close':
        return ['close', e.code, e.reason];
      case 'failure':
        return ['failure', e.err.code, e.err.closeCode];
      case 'bad-write':
        return ['bad-write', e.err.message];
    }
    return [];
  });
}

function assertWsError(t: ExecutionContext, fn: () => unknown, code: ErrorCode): void {
  const err = t.throws<WebSocketError>(fn, { instanceOf: WebSocketError });
  t.is(err?.code, code);
}

// ── receiving data ──────────────────────────────────────────────────────────

test('a server delivers the RFC 6455 §5.7 masked "Hello"', (t) => {
  const { p, sink } = setup('server');
  p.receive(hex('818537fa213d7f9f4d5158'));
  t.deepEqual(sink.take(), [
    { type: 'message', binary: false, data: Buffer.from('Hello'), rsv: 0 },
  ]);
});

test('a client delivers the RFC 6455 §5.7 fragmented "Hel" + "lo" as one message', (t) => {
  const { p, sink } = setup('client');
  p.receive(hex('010348656c'));
  t.deepEqual(sink.events, [], 'nothing until the final fragment');
  p.receive(hex('80026c6f'));
  t.deepEqual(summary(sink.take()), [['message', false, Buffer.from('Hello').toString('hex')]]);
});

test('0-byte text and binary messages are delivered', (t) => {
  const { p, sink } = setup('server');
  p.receive(Buffer.concat([fromClient(Opcode.Text), fromClient(Opcode.Binary)]));
  t.deepEqual(sink.take(), [
    { type: 'message', binary: false, data: Buffer.alloc(0), rsv: 0 },
    { type: 'message', binary: true, data: Buffer.alloc(0), rsv: 0 },
  ]);
  // a 0-byte message made of 0-byte fragments
  p.receive(
    Buffer.concat([
      fromClient(Opcode.Text, '', { fin: false }),
      fromClient(Opcode.Continuation, '', { fin: true }),
    ]),
  );
  t.deepEqual(summary(sink.take()), [['message', false, '']]);
});

test('text split inside a multibyte character across frames is valid', (t) => {
  const { p, sink } = setup('server');
  // "a€b": 61 | e2 82 | ac 62
  p.receive(fromClient(Opcode.Text, hex('61e2'), { fin: false }));
  p.receive(fromClient(Opcode.Continuation, hex('82'), { fin: false }));
  p.receive(fromClient(Opcode.Continuation, hex('ac62'), { fin: true }));
  t.deepEqual(sink.take(), [{ type: 'message', binary: false, data: Buffer.from('a€b'), rsv: 0 }]);
});

test('a ping between two halves of a UTF-8 character does not disturb validation', (t) => {
  const { p, sink } = setup('server');
  p.receive(fromClient(Opcode.Text, hex('e2'), { fin: false }));
  p.receive(fromClient(Opcode.Ping, hex('ff'))); // control payloads are not text
  p.receive(fromClient(Opcode.Continuation, hex('82ac'), { fin: true }));
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Pong, 'ff']],
    ['ping', 'ff'],
    ['message', false, 'e282ac'],
  ]);
});

test('a ping inside a fragmented message is delivered between its fragments', (t) => {
  const { p, sink } = setup('server');
  p.receive(
    Buffer.concat([
      fromClient(Opcode.Text, 'Hel', { fin: false }),
      fromClient(Opcode.Ping, 'x'),
      fromClient(Opcode.Continuation, 'lo', { fin: true }),
    ]),
  );
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Pong, '78']],
    ['ping', '78'],
    ['message', false, Buffer.from('Hello').toString('hex')],
  ]);
});

test('the RSV bits of the first frame are passed with the message when an extension owns them', (t) => {
  const { p, sink } = setup('client', { rsvOwned: 0x4 });
  p.receive(Buffer.concat([hex('4102abcd'), hex('8001ef')]));
  t.deepEqual(sink.take(), [{ type: 'message', binary: false, data: hex('abcdef'), rsv: 0x4 }]);
});

test('received pongs are reported and not answered', (t) => {
  const { p, sink } = setup('server');
  p.receive(fromClient(Opcode.Pong, 'hb'));
  t.deepEqual(summary(sink.take()), [['pong', '6862']]);
});

// ── pings ───────────────────────────────────────────────────────────────────

test('auto-pong: the pong is written before onPing is called, with the same payload', (t) => {
  const { p, sink } = setup('server');
  p.receive(hex('898537fa213d7f9f4d5158')); // masked ping "Hello"
  const events = sink.take();
  t.deepEqual(
    events.map((e) => e.type),
    ['write', 'ping'],
  );
  const [w] = events as [{ type: 'write'; frames: Written[] }];
  t.is(w.frames.length, 1);
  t.deepEqual(w.frames[0]!.header, {
    fin: true,
    rsv: 0,
    opcode: Opcode.Pong,
    masked: false,
    length: 5,
  });
  t.is(w.frames[0]!.payload.toString(), 'Hello');
});

test('a client answers the §5.7 unmasked ping with the §5.7 masked pong', (t) => {
  const wire: Uint8Array[] = [];
  const sink = new Recorder('client');
  const write = sink.write.bind(sink);
  sink.write = (chunks) => {
    wire.push(Buffer.concat(chunks));
    write(chunks);
  };
  const p = new Protocol(sink, { role: 'client', mask: fixedMask });
  p.receive(hex('890548656c6c6f'));
  t.is(Buffer.concat(wire).toString('hex'), '8a8537fa213d7f9f4d5158');
});

test('a ping received after we sent a close is not ponged', (t) => {
  const { p, sink } = setup('server');
  t.true(p.close(1000));
  sink.take();
  p.receive(fromClient(Opcode.Ping, 'late'));
  t.deepEqual(summary(sink.take()), [['ping', Buffer.from('late').toString('hex')]]);
});

// ── the close handshake ─────────────────────────────────────────────────────

test('the peer closes: our echo carries the same code, then onClose; a second close is not echoed', (t) => {
  const { p, sink } = setup('server');
  p.receive(fromClient(Opcode.Close, closePayload(1001, 'going away')));
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, '03e9']],
    ['close', 1001, 'going away'],
  ]);
  t.is(p.state, 'closed');
  t.true(p.closeSent);
  t.true(p.closeReceived);
  p.receive(fromClient(Opcode.Close, closePayload(1000)));
  t.deepEqual(sink.take(), [], 'no second echo, no second onClose');
  t.true(p.receiveEof(), 'the end after a completed handshake is orderly');
});

test('the peer closes with an empty payload: we echo an empty close, onClose gets 1005', (t) => {
  const { p, sink } = setup('client');
  p.receive(from('client', Opcode.Close));
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, '']],
    ['close', 1005, ''],
  ]);
});

test('we close: state closing, data received is discarded, the peer close completes the handshake', (t) => {
  const { p, sink } = setup('server');
  t.true(p.close(4000, 'done'));
  t.is(p.state, 'closing');
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, closePayload(4000, 'done').toString('hex')]],
  ]);
  t.false(p.close(1000), 'a second close sends nothing');
  p.receive(
    Buffer.concat([
      fromClient(Opcode.Text, 'ignored'),
      fromClient(Opcode.Binary, 'ab', { fin: false }),
      fromClient(Opcode.Continuation, 'cd'),
      fromClient(Opcode.Pong, 'pong'),
    ]),
  );
  t.deepEqual(summary(sink.take()), [['pong', Buffer.from('pong').toString('hex')]]);
  p.receive(fromClient(Opcode.Close, closePayload(4000)));
  t.deepEqual(summary(sink.take()), [['close', 4000, '']], 'no echo: we already sent ours');
  t.is(p.state, 'closed');
  t.true(p.receiveEof());
});

test('data that is invalid UTF-8 after our close is discarded, not failed', (t) => {
  const { p, sink } = setup('server');
  p.close(1000);
  sink.take();
  p.receive(fromClient(Opcode.Text, hex('ff')));
  t.deepEqual(sink.take(), []);
  t.is(p.state, 'closing');
});

test('a message in progress when we close is dropped', (t) => {
  const { p, sink } = setup('server');
  p.receive(fromClient(Opcode.Text, 'par', { fin: false }));
  p.close(1000);
  p.receive(fromClient(Opcode.Continuation, 'tial'));
  p.receive(fromClient(Opcode.Close, closePayload(1000)));
  t.deepEqual(
    sink.take().map((e) => e.type),
    ['write', 'close'],
  );
});

test('the end of input before a close handshake is not orderly', (t) => {
  const { p, sink } = setup('server');
  t.false(p.receiveEof());
  t.is(p.state, 'closed');
  p.receive(fromClient(Opcode.Text, 'after eof'));
  t.deepEqual(sink.take(), []);
  t.false(p.receiveEof());
});

test('the end of input after our close but before theirs is not orderly', (t) => {
  const { p } = setup('server');
  p.close(1000);
  t.false(p.receiveEof());
});

test('close() with a forbidden code or reason throws and writes nothing', (t) => {
  const { p, sink } = setup('server');
  for (const code of [1004, 1005, 1006, 1015, 999, 5000]) {
    assertWsError(t, () => p.close(code), 'WS_ERR_CLOSE_CODE_NOT_ALLOWED');
  }
  assertWsError(t, () => p.close(1000, 'x'.repeat(124)), 'WS_ERR_CLOSE_REASON_TOO_LONG');
  assertWsError(t, () => p.close(undefined, 'reason'), 'WS_ERR_INVALID_ARGUMENT');
  t.deepEqual(sink.take(), []);
  t.is(p.state, 'open');
  t.false(p.closeSent);
  // still usable
  p.close();
  t.deepEqual(summary(sink.take()), [['write', [Opcode.Close, '']]]);
});

// ── failure ─────────────────────────────────────────────────────────────────

const failures: {
  name: string;
  role: Role;
  input: () => Buffer;
  opts?: object;
  code: ErrorCode;
  closeCode: number;
}[] = [
  {
    name: 'reserved opcode',
    role: 'server',
    input: () => hex(`83 80 ${Buffer.from(RFC_MASK).toString('hex')}`),
    code: 'WS_ERR_INVALID_OPCODE',
    closeCode: 1002,
  },
  {
    name: 'unmasked frame to a server',
    role: 'server',
    input: () => hex('810161'),
    code: 'WS_ERR_EXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'masked frame to a client',
    role: 'client',
    input: () => fromClient(Opcode.Text, 'a'),
    code: 'WS_ERR_UNEXPECTED_MASK',
    closeCode: 1002,
  },
  {
    name: 'invalid UTF-8 in a text message',
    role: 'server',
    input: () => fromClient(Opcode.Text, hex('48 ff')),
    code: 'WS_ERR_INVALID_UTF8',
    closeCode: 1007,
  },
  {
    name: 'a text message that ends inside a UTF-8 sequence',
    role: 'server',
    input: () => fromClient(Opcode.Text, hex('48 e282')),
    code: 'WS_ERR_INVALID_UTF8',
    closeCode: 1007,
  },
  {
    name: 'a frame above maxFrame',
    role: 'client',
    opts: { maxFrame: 10 },
    input: () => from('client', Opcode.Binary, Buffer.alloc(11)),
    code: 'WS_ERR_FRAME_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'a message above maxMessage',
    role: 'server',
    opts: { maxMessage: 10 },
    input: () =>
      Buffer.concat([
        fromClient(Opcode.Binary, Buffer.alloc(6), { fin: false }),
        fromClient(Opcode.Continuation, Buffer.alloc(6)),
      ]),
    code: 'WS_ERR_MESSAGE_TOO_BIG',
    closeCode: 1009,
  },
  {
    name: 'a close frame with a 1-byte payload',
    role: 'server',
    input: () => fromClient(Opcode.Close, hex('03')),
    code: 'WS_ERR_INVALID_CLOSE_PAYLOAD',
    closeCode: 1002,
  },
  {
    name: 'a close frame with a reserved code',
    role: 'server',
    input: () => fromClient(Opcode.Close, closePayload(1005)),
    code: 'WS_ERR_INVALID_CLOSE_CODE',
    closeCode: 1002,
  },
  {
    name: 'a close frame whose reason is not UTF-8',
    role: 'server',
    input: () => fromClient(Opcode.Close, hex('03e8 ff')),
    code: 'WS_ERR_INVALID_CLOSE_REASON',
    closeCode: 1007,
  },
];

for (const f of failures) {
  test(`failure (${f.name}): a close ${f.closeCode} is written, onFailure once, later input ignored`, (t) => {
    const { p, sink } = setup(f.role, f.opts);
    p.receive(f.input());
    t.deepEqual(summary(sink.take()), [
      ['write', [Opcode.Close, closePayload(f.closeCode).toString('hex')]],
      ['failure', f.code, f.closeCode],
    ]);
    t.is(p.state, 'closed');
    t.true(p.closeSent);
    t.false(p.closeReceived);
    // more of the same, a valid message, a close: nothing happens any more
    p.receive(f.input());
    p.receive(from(f.role, Opcode.Text, 'hi'));
    p.receive(from(f.role, Opcode.Close, closePayload(1000)));
    t.deepEqual(sink.take(), []);
    t.false(p.receiveEof());
  });
}

test('invalid UTF-8 fails on the first fragment, before the message ends', (t) => {
  const { p, sink } = setup('server');
  p.receive(fromClient(Opcode.Text, hex('61 c0'), { fin: false }));
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, '03ef']],
    ['failure', 'WS_ERR_INVALID_UTF8', 1007],
  ]);
});

test('several bad frames in one chunk fail once', (t) => {
  const { p, sink } = setup('client');
  p.receive(hex('8300 8300 0900'));
  t.deepEqual(
    sink.take().map((e) => e.type),
    ['write', 'failure'],
  );
});

test('a failure after our close writes no second close frame', (t) => {
  const { p, sink } = setup('server');
  p.close(1000);
  sink.take();
  p.receive(hex('8300'));
  t.deepEqual(summary(sink.take()), [['failure', 'WS_ERR_INVALID_OPCODE', 1002]]);
  t.is(p.state, 'closed');
});

test('frames after the peer close in the same chunk are ignored, even broken ones', (t) => {
  const { p, sink } = setup('server');
  p.receive(
    Buffer.concat([
      fromClient(Opcode.Close, closePayload(1000)),
      fromClient(Opcode.Text, 'late'),
      hex('ff00'),
    ]),
  );
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, '03e8']],
    ['close', 1000, ''],
  ]);
});

test('fail() from outside writes the error close code once', (t) => {
  const { p, sink } = setup('server');
  const err = new WebSocketError('WS_ERR_DECOMPRESSION', 'inflate failed', { closeCode: 1009 });
  p.fail(err);
  p.fail(err);
  const events = sink.take();
  t.deepEqual(summary(events), [
    ['write', [Opcode.Close, '03f1']],
    ['failure', 'WS_ERR_DECOMPRESSION', 1009],
  ]);
  t.is((events[1] as { err: WebSocketError }).err, err);
});

test('fail() with an error that has no close code writes 1002', (t) => {
  const { p, sink } = setup('server');
  p.fail(new WebSocketError('WS_ERR_DECOMPRESSION', 'no close code'));
  t.deepEqual(summary(sink.take()), [
    ['write', [Opcode.Close, '03ea']],
    ['failure', 'WS_ERR_DECOMPRESSION', undefined],
  ]);
});

test('fail() with a close code that may not go on the wire writes 1011 and still fails', (t) => {
  for (const closeCode of [1005, 1006, 1015, 999, 5000]) {
    const { p, sink } = setup('server');
    const err = new WebSocketError('WS_ERR_CONNECTION_LOST', 'lost', { closeCode });
    t.notThrows(() => p.fail(err), String(closeCode));
    t.deepEqual(
      summary(sink.take()),
      [
        ['write', [Opcode.Close, '03f3']],
        ['failure', 'WS_ERR_CONNECTION_LOST', closeCode],
      ],
      String(closeCode),
    );
    t.is(p.state, 'closed');
  }
});

test('a client fails with a masked close frame', (t) => {
  let keys = 0;
  const { p, sink } = setup('client', {
    mask: (out) => {
      keys++;
      fixedMask(out);
    },
  });
  p.receive(hex('8300'));
  const [w] = sink.take();
  t.like(w, { type: 'write' });
  t.true((w as { frames: Written[] }).frames[0]!.header.masked);
  t.is(keys, 1);
});

// ── sending ─────────────────────────────────────────────────────────────────

test('sendData writes one frame; fin: false starts a message continued by sendContinuation', (t) => {
  const { p, sink } = setup('server');
  p.sendData(false, Buffer.from('hi'));
  p.sendData(true, hex('0102'), { fin: false, rsv: 0x4 });
  p.ping(Buffer.from('between'));
  p.sendContinuation(hex('03'), false);
  p.sendContinuation(hex('04'), true);
  t.deepEqual(
    sink
      .written()
      .map((f) => [f.header.opcode, f.header.fin, f.header.rsv, f.payload.toString('hex')]),
    [
      [Opcode.Text, true, 0, '6869'],
      [Opcode.Binary, false, 0x4, '0102'],
      [Opcode.Ping, true, 0, Buffer.from('between').toString('hex')],
      [Opcode.Continuation, false, 0, '03'],
      [Opcode.Continuation, true, 0, '04'],
    ],
  );
});

test('sends out of order throw WS_ERR_INVALID_STATE', (t) => {
  const { p, sink } = setup('server');
  assertWsError(t, () => p.sendContinuation(hex('00'), true), 'WS_ERR_INVALID_STATE');
  p.sendData(false, Buffer.from('a'), { fin: false });
  assertWsError(t, () => p.sendData(false, Buffer.from('b')), 'WS_ERR_INVALID_STATE');
  assertWsError(t, () => p.sendFragmented(false, Buffer.from('b'), 1), 'WS_ERR_INVALID_STATE');
  t.is(sink.written().length, 1);
});

test('sendFragmented: frames of at most fragmentSize, RSV on the first only, fin on the last', (t) => {
  const { p, sink } = setup('server');
  const payload = Buffer.from('0123456789');
  p.sendFragmented(true, payload, 4, 0x4);
  t.deepEqual(
    sink.written().map((f) => [f.header.opcode, f.header.fin, f.header.rsv, f.payload.toString()]),
    [
      [Opcode.Binary, false, 0x4, '0123'],
      [Opcode.Continuation, false, 0, '4567'],
      [Opcode.Continuation, true, 0, '89'],
    ],
  );
  sink.take();
  p.sendFragmented(false, Buffer.from('abcd'), 2);
  t.deepEqual(
    sink.written().map((f) => [f.header.opcode, f.header.fin, f.payload.toString()]),
    [
      [Opcode.Text, false, 'ab'],
      [Opcode.Continuation, true, 'cd'],
    ],
    'an exact multiple ends without an empty frame',
  );
  sink.take();
  p.sendFragmented(false, Buffer.alloc(0), 4);
  t.deepEqual(
    sink.written().map((f) => [f.header.opcode, f.header.fin, f.header.length]),
    [[Opcode.Text, true, 0]],
    'an empty message is one empty frame',
  );
  sink.take();
  p.sendFragmented(false, Buffer.from('abc'), 100);
  t.deepEqual(
    sink.written().map((f) => [f.header.opcode, f.header.fin, f.payload.toString()]),
    [[Opcode.Text, true, 'abc']],
  );
  for (const bad of [0, -1, Number.NaN]) {
    assertWsError(
      t,
      () => p.sendFragmented(false, Buffer.from('abc'), bad),
      'WS_ERR_INVALID_ARGUMENT',
    );
  }
});

test('a control payload above 125 bytes is refused', (t) => {
  const { p, sink } = setup('server');
  assertWsError(t, () => p.ping(Buffer.alloc(126)), 'WS_ERR_CONTROL_PAYLOAD_TOO_BIG');
  assertWsError(t, () => p.pong(Buffer.alloc(126)), 'WS_ERR_CONTROL_PAYLOAD_TOO_BIG');
  p.ping(Buffer.alloc(125));
  p.pong();
  t.deepEqual(
    sink.written().map((f) => [f.header.opcode, f.header.length]),
    [
      [Opcode.Ping, 125],
      [Opcode.Pong, 0],
    ],
  );
});

test('every send after our close throws WS_ERR_INVALID_STATE', (t) => {
  const { p, sink } = setup('server');
  p.sendData(false, Buffer.from('a'), { fin: false });
  p.close(1000);
  sink.take();
  assertWsError(t, () => p.sendData(false, Buffer.from('x')), 'WS_ERR_INVALID_STATE');
  assertWsError(t, () => p.sendContinuation(Buffer.from('x'), true), 'WS_ERR_INVALID_STATE');
  assertWsError(t, () => p.sendFragmented(true, Buffer.from('x'), 1), 'WS_ERR_INVALID_STATE');
  assertWsError(t, () => p.ping(), 'WS_ERR_INVALID_STATE');
  assertWsError(t, () => p.pong(), 'WS_ERR_INVALID_STATE');
  t.deepEqual(sink.take(), []);
});

test('every send after the peer closed or after a failure throws WS_ERR_INVALID_STATE', (t) => {
  for (const input of [fromClient(Opcode.Close, closePayload(1000)), hex('8300')]) {
    const { p, sink } = setup('server');
    p.receive(input);
    sink.take();
    assertWsError(t, () => p.sendData(true, Buffer.from('x')), 'WS_ERR_INVALID_STATE');
    assertWsError(t, () => p.ping(), 'WS_ERR_INVALID_STATE');
    t.false(p.close(1000));
    t.deepEqual(sink.take(), []);
  }
});

test('a client masks every frame it writes, with the injected mask source', (t) => {
  let keys = 0;
  const mask: MaskSource = (out) => {
    keys++;
    fixedMask(out);
  };
  const { p, sink } = setup('client', { mask });
  p.receive(from('client', Opcode.Ping, 'ping')); // auto-pong
  p.sendData(false, Buffer.from('text'));
  p.sendData(true, Buffer.alloc(2000, 7)); // large: still masked (and copied)
  p.sendFragmented(true, Buffer.from('abcdef'), 4);
  p.ping(Buffer.from('p'));
  p.pong(Buffer.from('q'));
  p.receive(from('client', Opcode.Close, closePayload(1000))); // close echo
  // the Recorder decodes with a server-role decoder, which refuses any unmasked frame
  const frames = sink.written();
  t.is(frames.length, 8);
  t.true(frames.every((f) => f.header.masked));
  t.is(keys, 8, 'one key per frame');
  t.deepEqual(
    frames.map((f) => [f.header.opcode, f.payload.length]),
    [
      [Opcode.Pong, 4],
      [Opcode.Text, 4],
      [Opcode.Binary, 2000],
      [Opcode.Binary, 4],
      [Opcode.Continuation, 2],
      [Opcode.Ping, 1],
      [Opcode.Pong, 1],
      [Opcode.Close, 2],
    ],
  );
  t.true(frames[2]!.payload.equals(Buffer.alloc(2000, 7)));
});

test('a server never masks', (t) => {
  const { p, sink } = setup('server');
  p.sendData(true, Buffer.alloc(3000));
  p.ping();
  p.close(1000);
  // the Recorder decodes with a client-role decoder, which refuses any masked frame
  t.true(sink.written().every((f) => !f.header.masked));
});

test('sending does not modify the caller payload, masked or not', (t) => {
  for (const role of ['client', 'server'] as const) {
    const { p } = setup(role);
    const small = Buffer.from('hello');
    const large = Buffer.alloc(5000, 0x5a);
    p.sendData(false, small);
    p.sendFragmented(true, large, 1500);
    t.is(small.toString(), 'hello');
    t.true(large.every((b) => b === 0x5a));
  }
});

test('a client with a random mask source still round-trips its messages', (t) => {
  const { p, sink } = setup('client');
  p.sendData(false, Buffer.from('random mask'));
  const [f] = sink.written();
  t.true(f!.header.masked);
  t.is(f!.payload.toString(), 'random mask');
});

// ── property: chunking at the protocol level ─────────────────────────────────

test('property: any chunking of the input yields the same events', (t) => {
  const message = fc.record({
    binary: fc.boolean(),
    text: fc.string({ unit: 'binary', maxLength: 30 }),
    fragments: fc.integer({ min: 1, max: 4 }),
    ping: fc.option(fc.uint8Array({ maxLength: 10 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(
      fc.array(message, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (messages, cutSeeds) => {
        const frames: Buffer[] = [];
        for (const m of messages) {
          const body = Buffer.from(m.text);
          const size = Math.max(1, Math.ceil(body.length / m.fragments));
          for (let off = 0, first = true; first || off < body.length; first = false) {
            const end = Math.min(body.length, off + size);
            const op = first ? (m.binary ? Opcode.Binary : Opcode.Text) : Opcode.Continuation;
            frames.push(fromClient(op, body.subarray(off, end), { fin: end >= body.length }));
            if (m.ping && end < body.length) frames.push(fromClient(Opcode.Ping, m.ping));
            off = end;
          }
        }
        frames.push(fromClient(Opcode.Close, closePayload(1000, 'bye')));
        const wire = Buffer.concat(frames);
        const run = (cuts: number[]): unknown[] => {
          const { p, sink } = setup('server');
          const copy = Buffer.from(wire);
          const bounds = [0, ...cuts, copy.length];
          for (let i = 0; i + 1 < bounds.length; i++)
            p.receive(copy.subarray(bounds[i], bounds[i + 1]));
          return summary(sink.take());
        };
        const whole = run([]);
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        assert.deepEqual(run(cuts), whole);
        // and the messages are the ones sent
        const delivered = whole.filter((e) => (e as unknown[])[0] === 'message');
        assert.deepEqual(
          delivered,
          messages.map((m) => ['message', m.binary, Buffer.from(m.text).toString('hex')]),
        );
        assert.deepEqual(whole.at(-1), ['close', 1000, 'bye']);
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

// ── fuzz: only the documented outcomes ──────────────────────────────────────

test('property: arbitrary input never throws out of receive and ends at most once', (t) => {
  // frame-shaped noise: real frames, real headers with random bodies, random bytes
  const piece = fc.oneof(
    fc
      .record({
        opcode: fc.integer({ min: 0, max: 15 }),
        fin: fc.boolean(),
        rsv: fc.integer({ min: 0, max: 7 }),
        payload: fc.uint8Array({ maxLength: 140 }),
        masked: fc.boolean(),
      })
      .map(({ opcode, fin, rsv, payload, masked }) =>
        Buffer.concat(
          encodeFrame(opcode as Opcode, payload, {
            fin,
            rsv,
            mask: masked ? fixedMask : undefined,
          }),
        ),
      ),
    fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => fromClient(Opcode.Text, s)),
    fc.constant(fromClient(Opcode.Close, closePayload(1000))),
  );
  fc.assert(
    fc.property(
      fc.constantFrom<Role>('server', 'client'),
      fc.array(piece, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.boolean(),
      (role, pieces, cutSeeds, closeFirst) => {
        const { p, sink } = setup(role, { maxMessage: 200, maxFrame: 100, rsvOwned: 0x4 });
        if (closeFirst) p.close(1000);
        const wire = Buffer.concat(pieces);
        const cuts = [...new Set(cutSeeds.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const bounds = [0, ...cuts, wire.length];
        for (let i = 0; i + 1 < bounds.length; i++)
          p.receive(wire.subarray(bounds[i], bounds[i + 1]));
        p.receiveEof();
        const events = sink.take();
        assert.ok(!events.some((e) => e.type === 'bad-write'), 'every written frame decodes');
        const ends = events.filter((e) => e.type === 'close' || e.type === 'failure');
        assert.ok(ends.length <= 1);
        const closes = events.flatMap((e) =>
          e.type === 'write' ? e.frames.filter((f) => f.header.opcode === Opcode.Close) : [],
        );
        assert.ok(closes.length <= 1, 'one close frame at most');
        if (ends.length === 1) assert.equal(events.at(-1), ends[0], 'nothing after the end');
        const failure = ends[0]?.type === 'failure' ? ends[0] : undefined;
        if (failure) {
          assert.ok(failure.err instanceof WebSocketError);
          assert.ok([1002, 1007, 1009].includes(failure.err.closeCode!));
          if (!closeFirst) {
            assert.equal(closes.length, 1);
            assert.equal(closes[0]!.payload.readUInt16BE(0), failure.err.closeCode);
          }
        }
        assert.equal(p.state, 'closed');
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});
