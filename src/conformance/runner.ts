// Runs one case of the table against an implementation through a PeerDriver and
// judges it the way Autobahn|Testsuite does (Case.onConnectionLost): the events seen
// must equal the case's OK (or NON-STRICT) list; then the close: sent first by the
// right side, clean where required, a code from the allowed set, and — when the
// implementation is the server — the TCP connection closed by it.
//
// Stricter than Autobahn in three ways: every frame the implementation sends is checked
// (masking for its role, no RSV, valid opcodes and control frames, a valid close
// payload); a close frame is required (no silent drop); and the implementation's
// session must end with terminate called exactly once.

import { isUtf8 } from 'node:buffer';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BINARY, type Case, CLOSE, CONT, type Ev, PING, PONG, type Step, TEXT } from './cases.js';
import { type PeerDeflate, parseResponse, peerDeflate } from './deflate.js';
import {
  applyMask,
  bytesOf,
  encodePeerFrame,
  FrameReader,
  type FrameSpec,
  frameHeader,
  nextMaskKey,
  type PeerDriver,
  type WireFrame,
} from './peer.js';

export type Verdict =
  | 'OK'
  | 'NON-STRICT'
  | 'INFORMATIONAL'
  | 'FAILED'
  | 'WRONG CODE'
  | 'UNCLEAN'
  | 'FAILED BY CLIENT'
  /** permessage-deflate was offered and not agreed (groups 12 and 13): nothing to judge. */
  | 'UNIMPLEMENTED';

type Seen =
  | { kind: 'message'; binary: boolean; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'timeout'; label: string };

export interface Report {
  id: string;
  verdict: Verdict;
  behavior: Verdict;
  behaviorClose: Verdict;
  /** What was seen, one line per event. */
  events: string[];
  /** The implementation's close frame (code 1005 when empty), if any. */
  implClose: { code: number; reason: string } | null;
  /** The peer sent the first close frame (Autobahn's closedByMe). */
  closedByPeer: boolean;
  wasClean: boolean;
  /** The implementation closed the connection (the peer did not have to). */
  implClosedTcp: boolean;
  /** Frames or session behaviour the implementation must never show. */
  violations: string[];
  /** The RFC sections the case checks (and, for a violation, the section it breaks). */
  rfc: string[];
  /** What the case expected, in words. */
  expected: string;
  /** The first frames on the wire both ways (→ the peer's, ← the implementation's). */
  trace: string[];
  /** How the stream ended: the implementation's FIN / END_STREAM, a reset, or killed by the peer. */
  ending: string;
  ms: number;
}

const TRACE_LINES = 40;

function isWireCode(c: number): boolean {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

function describe(e: Seen): string {
  switch (e.kind) {
    case 'message': {
      const head = e.data.subarray(0, 24);
      const shown = e.binary ? head.toString('hex') : JSON.stringify(head.toString('utf8'));
      return `message(${e.binary ? 'binary' : 'text'}, ${e.data.length} bytes: ${shown}${e.data.length > 24 ? '…' : ''})`;
    }
    case 'pong':
    case 'ping':
      return `${e.kind}(${e.data.toString('hex')})`;
    case 'timeout':
      return `timeout(${e.label})`;
  }
}

function sameEvents(seen: readonly Seen[], want: readonly Ev[]): boolean {
  if (seen.length !== want.length) return false;
  return want.every((w, i) => {
    const s = seen[i]!;
    if ('timeout' in w) return s.kind === 'timeout' && s.label === w.timeout;
    if ('pong' in w) return s.kind === 'pong' && s.data.equals(bytesOf(w.pong));
    return (
      s.kind === 'message' && s.binary === (w.binary ?? false) && s.data.equals(bytesOf(w.message))
    );
  });
}

/** The frames of a message as Autobahn's sendMessage sends them. */
function messageFrames(m: {
  op: number;
  data: FrameSpec['data'];
  fragmentSize?: number;
}): FrameSpec[] {
  const data = bytesOf(m.data ?? '');
  const size = m.fragmentSize ?? 0;
  if (size <= 0 || data.length <= size) return [{ op: m.op, data }];
  const out: FrameSpec[] = [];
  for (let off = 0; off < data.length; off += size) {
    out.push({
      op: off === 0 ? m.op : CONT,
      data: data.subarray(off, off + size),
      fin: off + size >= data.length,
    });
  }
  return out;
}

export async function runCase(driver: PeerDriver, c: Case): Promise<Report> {
  const started = performance.now();
  const stream = await driver.open(c.impl ?? {});
  const peerMasks = driver.implRole === 'server';
  const reader = new FrameReader();
  const events: Seen[] = [];
  const violations: string[] = [];
  const echoFrames: number[] = [];
  let implClose: { code: number; reason: string } | null = null;
  let sentClose = false;
  let closedByPeer: boolean | null = null;
  let implEnded = false;
  let closed = false;
  let killed = false;
  let msg: { binary: boolean; parts: Buffer[]; frames: number; compressed: boolean } | null = null;
  let loopSink: ((m: { binary: boolean; data: Buffer }) => void) | null = null;

  let waiters: (() => void)[] = [];
  const changed = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const until = async (cond: () => boolean, ms: number): Promise<boolean> => {
    const deadline = performance.now() + ms;
    while (!cond()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  };

  // RFC 7692: the agreed parameters, and the peer's codec for them
  let deflate: PeerDeflate | null = null;
  // RFC 7692 §6: any message may go uncompressed; omniws (threshold 0 here) does so only
  // when compressing would not shrink it and its compressor keeps no context
  let mayStayPlain = false;
  let unimplemented = false;
  if (c.deflate) {
    const agreed = parseResponse(stream.extensions);
    if (driver.foreign && (stream.extensions ?? '').trim() === '') {
      // Autobahn's UNIMPLEMENTED: the offer was declined (or, a client, none was made)
      unimplemented = true;
    } else if (typeof agreed === 'string') violations.push(`permessage-deflate: ${agreed}`);
    else {
      if (driver.foreign) {
        // someone else's endpoint: any answer RFC 7692 allows for the offer; any message
        // may go uncompressed (§6)
        const bad =
          driver.implRole === 'server' ? answerBreaksOffer(c.impl?.peerExtensions, agreed) : null;
        if (bad) violations.push(`permessage-deflate: ${bad}`);
      } else {
        for (const [k, v] of Object.entries(c.deflate.expect)) {
          const got = agreed[k as keyof typeof agreed];
          if (got !== v) violations.push(`permessage-deflate: ${k} is ${got}, expected ${v}`);
        }
      }
      deflate = peerDeflate(agreed, driver.implRole === 'server' ? 'client' : 'server');
      mayStayPlain =
        driver.foreign === true ||
        (driver.implRole === 'server'
          ? agreed.serverNoContextTakeover
          : agreed.clientNoContextTakeover);
    }
  }

  const write = (b: Uint8Array) => stream.write(b);
  const trace: string[] = [];
  let traced = 0;
  let ending = '';
  const note = (line: string) => {
    if (traced++ < TRACE_LINES) trace.push(line);
  };
  const encode = (f: FrameSpec) => {
    const b = encodePeerFrame(f, peerMasks);
    note(`→ ${frameLine(f.op, f.fin ?? true, f.rsv ?? 0, bytesOf(f.data ?? ''))}`);
    return b;
  };

  const onFrame = (f: WireFrame) => {
    note(`← ${frameLine(f.op, f.fin, f.rsv, f.payload)}${f.masked ? ' masked' : ''}`);
    const name = `opcode 0x${f.op.toString(16)}`;
    if (f.masked !== (driver.implRole === 'client')) {
      violations.push(
        `${name}: ${f.masked ? 'masked' : 'unmasked'} frame from the ${driver.implRole}`,
      );
    }
    // RFC 7692 §6: RSV1 marks a compressed message, on its first frame only
    const rsvOk = deflate !== null && (f.op === TEXT || f.op === BINARY) ? 4 : 0;
    if ((f.rsv & ~rsvOk) !== 0) violations.push(`${name}: RSV bits ${f.rsv} set`);
    if (implClose !== null) {
      violations.push(`${name}: frame after the close frame`);
      return;
    }
    if (f.op >= 0x8 && (!f.fin || f.payload.length > 125)) {
      violations.push(`${name}: fragmented or oversized control frame`);
    }
    switch (f.op) {
      case CONT:
      case TEXT:
      case BINARY: {
        if (f.op === CONT && msg === null) {
          violations.push('continuation frame without a message');
          return;
        }
        if (f.op !== CONT) {
          if (msg !== null) violations.push('new message inside a fragmented one');
          msg = { binary: f.op === BINARY, parts: [], frames: 0, compressed: f.rsv === 4 };
        }
        const m = msg!;
        m.parts.push(f.payload);
        m.frames++;
        if (!f.fin) return;
        msg = null;
        let data = m.parts.length === 1 ? m.parts[0]! : Buffer.concat(m.parts);
        echoFrames.push(m.frames);
        if (deflate !== null) {
          if (!m.compressed) {
            if (!mayStayPlain) violations.push('an uncompressed message (threshold is 0)');
          } else {
            try {
              data = deflate.decompress(data);
            } catch (err) {
              violations.push(`a message that does not inflate: ${(err as Error).message}`);
              return;
            }
          }
        }
        if (!m.binary && !isUtf8(data)) {
          violations.push('text message that is not UTF-8');
        }
        if (loopSink) loopSink({ binary: m.binary, data });
        else events.push({ kind: 'message', binary: m.binary, data });
        return;
      }
      case PING:
        events.push({ kind: 'ping', data: f.payload });
        if (!sentClose) void write(encode({ op: PONG, data: f.payload }));
        return;
      case PONG:
        events.push({ kind: 'pong', data: f.payload });
        return;
      case CLOSE: {
        const p = f.payload;
        let code = 1005;
        if (p.length === 1) violations.push('close frame with a 1-byte payload');
        if (p.length >= 2) {
          code = p.readUInt16BE(0);
          if (!isWireCode(code)) violations.push(`close code ${code} may not be sent`);
        }
        const reason = p.subarray(2);
        if (!isUtf8(reason)) violations.push('close reason is not UTF-8');
        implClose = { code, reason: reason.toString('utf8') };
        if (!sentClose) {
          // the implementation closed first: answer as RFC 6455 §5.5.1 says, echoing its code
          sentClose = true;
          closedByPeer ??= false;
          void write(encode({ op: CLOSE, data: code === 1005 ? '' : p.subarray(0, 2) }));
        }
        // RFC 6455 §7.1.1: the server closes the TCP connection first. A stream of HTTP/2
        // or HTTP/3 has no TIME_WAIT to place: once the close handshake is complete the
        // peer has nothing left to send and ends its side whatever its role, and the
        // implementation must end its own (END_STREAM / FIN, in either order).
        if (driver.implRole === 'client' || driver.transport !== 'h1') stream.end();
        return;
      }
      default:
        violations.push(`reserved ${name}`);
    }
  };

  stream.onData((chunk) => {
    for (const f of reader.push(chunk)) onFrame(f);
    changed();
  });
  stream.ended.then(() => {
    if (!stream.reset() && !stream.endedWithConnection?.()) {
      const fin =
        driver.transport === 'h1' ? 'TCP FIN' : driver.transport === 'h2' ? 'END_STREAM' : 'FIN';
      ending ||= `end of stream (${fin})`;
      note(`← ${ending}`);
    }
    implEnded = true;
    changed();
  });
  stream.closed.then(() => {
    if (killed) {
      // our own kill, noted below
    } else if (stream.endedWithConnection?.()) {
      ending = 'the HTTP/2 connection ended in order under the stream, without its END_STREAM';
      note(`← ${ending}`);
    } else if (stream.reset()) {
      ending = stream.resetHow?.() ?? 'reset';
      note(`← ${ending}`);
    }
    closed = true;
    changed();
  });

  const sendFrames = async (frames: FrameSpec[], chop?: number, sync?: boolean) => {
    if (sync) {
      for (const f of frames) {
        await write(encode(f));
        await nextTurn();
      }
      return;
    }
    const bytes = Buffer.concat(frames.map(encode));
    if (!chop) {
      await write(bytes);
      return;
    }
    // each chop its own write, and a turn of the event loop between: the implementation
    // reads them one by one (it runs in this process)
    const n = Math.ceil(bytes.length / chop);
    for (let i = 0; i < n; i++) {
      await write(bytes.subarray(i * chop, (i + 1) * chop));
      await nextTurn();
    }
  };

  // a frame sent in parts (Autobahn's beginMessageFrame / sendMessageFrameData)
  let partial: { key: Uint8Array | null; offset: number } | null = null;

  const runStep = async (step: Step): Promise<boolean> => {
    if ('send' in step) await sendFrames(step.send, step.chop, step.sync);
    else if ('message' in step) await sendFrames(messageFrames(step.message), step.chop);
    else if ('frameStart' in step) {
      const { op, length, fin } = step.frameStart;
      const key = peerMasks ? nextMaskKey() : null;
      partial = { key, offset: 0 };
      note(`→ ${opName(op)}${fin === false ? '' : ' fin'} header alone, ${length} bytes to follow`);
      await write(frameHeader(op, length, fin ?? true, 0, key));
    } else if ('frameData' in step) {
      const d = bytesOf(step.frameData);
      const p = partial!;
      await write(p.key ? applyMask(d, p.key, p.offset) : d);
      p.offset += d.length;
    } else if ('wait' in step) {
      await new Promise((r) => setTimeout(r, step.wait));
    } else if ('checkpoint' in step) {
      await until(() => implClose !== null || implEnded, step.ms);
      if (implClose !== null || implEnded) return false;
      events.push({ kind: 'timeout', label: step.checkpoint });
    } else if ('close' in step) {
      let payload: Buffer;
      if (step.payload !== undefined) payload = bytesOf(step.payload);
      else if (step.close === null) payload = Buffer.alloc(0);
      else {
        const code = Buffer.alloc(2);
        code.writeUInt16BE(step.close);
        payload = Buffer.concat([code, bytesOf(step.reason ?? '')]);
      }
      if (!sentClose) {
        sentClose = true;
        closedByPeer ??= true;
      }
      await write(encode({ op: CLOSE, data: payload, rsv: step.rsv ?? 0 }));
    } else if ('echoLoop' in step) {
      const { count, length, binary } = step.echoLoop;
      const payload = bytesOf({ repeat: binary ? Uint8Array.of(0xfe) : '*', length });
      for (let i = 0; i < count; i++) {
        const echo = new Promise<{ binary: boolean; data: Buffer } | null>((resolve) => {
          loopSink = resolve;
          until(() => implClose !== null || closed, c.timeout ?? 2000).then(() => resolve(null));
        });
        await write(encode({ op: binary ? BINARY : TEXT, data: payload }));
        const got = await echo;
        loopSink = null;
        if (got === null || got.binary !== binary || !got.data.equals(payload)) {
          violations.push(`round trip ${i + 1} of ${count}: no or wrong echo`);
          return false;
        }
      }
    } else if ('deflateLoop' in step) {
      const { count, binary, fragmentSize } = step.deflateLoop;
      const payload = bytesOf(step.deflateLoop.data);
      if (deflate === null) return false;
      for (let i = 0; i < count; i++) {
        const echo = new Promise<{ binary: boolean; data: Buffer } | null>((resolve) => {
          loopSink = resolve;
          until(() => implClose !== null || closed, c.timeout ?? 2000).then(() => resolve(null));
        });
        const z = deflate.compress(payload);
        const frames = messageFrames({ op: binary ? BINARY : TEXT, data: z, fragmentSize });
        frames[0]!.rsv = 4;
        await write(Buffer.concat(frames.map(encode)));
        const got = await echo;
        loopSink = null;
        if (got === null || got.binary !== binary || !got.data.equals(payload)) {
          violations.push(`round trip ${i + 1} of ${count}: no or wrong echo`);
          return false;
        }
      }
    }
    return true;
  };

  if (!unimplemented) {
    for (const step of c.steps) {
      if (!(await runStep(step))) break;
    }
  }

  const timeout = c.timeout ?? 2000;
  // Autobahn's finishWhenDone: once the expected events are in, the peer closes
  if (c.close.byPeer && !c.steps.some((s) => 'close' in s)) {
    await until(
      () =>
        sameEvents(events, c.ok) ||
        (c.nonStrict !== undefined && sameEvents(events, c.nonStrict)) ||
        implClose !== null ||
        implEnded,
      timeout,
    );
    if (!sentClose && !implEnded) {
      sentClose = true;
      closedByPeer ??= true;
      const code = Buffer.alloc(2);
      code.writeUInt16BE(c.close.codes[0] ?? 1000);
      await write(encode({ op: CLOSE, data: code }));
    }
  }
  if (!(await until(() => closed, timeout))) {
    killed = true;
    stream.destroy();
    await stream.closed;
  }

  // the implementation's session (when it runs here) must end, with terminate called once
  const impl = stream.impl;
  if (impl !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    const term = await Promise.race([
      impl.terminated.then(() => true),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), 2000);
      }),
    ]);
    clearTimeout(timer);
    await nextTurn();
    if (!term) violations.push('the session never ended (terminate not called)');
    else if (impl.terminateCalls() !== 1) {
      violations.push(`terminate called ${impl.terminateCalls()} times`);
    }
  }
  if (c.echoFrames !== undefined && echoFrames[0] !== c.echoFrames) {
    violations.push(`echo sent in ${echoFrames[0]} frames, expected ${c.echoFrames}`);
  }

  // ── judging (Autobahn's Case.onConnectionLost) ──
  const wasClean = sentClose && implClose !== null && !killed && !stream.reset();
  let behavior: Verdict = 'FAILED';
  if (sameEvents(events, c.ok)) behavior = c.informational ? 'INFORMATIONAL' : 'OK';
  else if (c.nonStrict !== undefined && sameEvents(events, c.nonStrict)) behavior = 'NON-STRICT';
  const byPeer = closedByPeer ?? false;
  const closeCode = (implClose as { code: number } | null)?.code;
  let behaviorClose: Verdict = 'OK';
  if (byPeer !== c.close.byPeer) behaviorClose = 'FAILED';
  else if (c.close.clean && !wasClean) behaviorClose = 'UNCLEAN';
  else if (closeCode === undefined) behaviorClose = 'FAILED';
  else if (!c.close.codes.includes(closeCode)) behaviorClose = 'WRONG CODE';
  else if (driver.implRole === 'server' && killed) behaviorClose = 'FAILED BY CLIENT';
  // RFC 8441 §4: the orderly end of a WebSocket is its stream's END_STREAM; ending the
  // whole connection instead works for this WebSocket but not for others beside it
  else if (stream.endedWithConnection?.()) behaviorClose = 'NON-STRICT';
  if (c.close.wrongEndpointFatal && byPeer !== c.close.byPeer) behavior = 'FAILED';

  let verdict: Verdict;
  if (behavior === 'FAILED' || violations.length > 0) verdict = 'FAILED';
  else if (behaviorClose !== 'OK') verdict = behaviorClose;
  else verdict = behavior;
  if (unimplemented && violations.length === 0) {
    verdict = 'UNIMPLEMENTED';
    behavior = 'UNIMPLEMENTED';
  }
  if (killed) {
    ending = 'killed by the peer: the implementation did not close in time';
    note(`→ ${ending}`);
  }

  return {
    id: c.id,
    verdict,
    behavior,
    behaviorClose,
    events: events.map(describe),
    implClose,
    closedByPeer: byPeer,
    wasClean,
    implClosedTcp: !killed,
    violations,
    rfc: rfcOf(c, violations),
    expected: expectedOf(c),
    trace: traced > TRACE_LINES ? [...trace, `… ${traced - TRACE_LINES} more`] : trace,
    ending,
    ms: Math.round(performance.now() - started),
  };
}

// ── explaining ───────────────────────────────────────────────────────────────

function opName(op: number): string {
  return (
    ({ 0: 'continuation', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' } as const)[
      op as 0
    ] ?? `opcode 0x${op.toString(16)}`
  );
}

function frameLine(op: number, fin: boolean, rsv: number, payload: Buffer): string {
  let what = `${opName(op)}${fin ? ' fin' : ''}${rsv ? ` rsv=${rsv}` : ''} ${payload.length} bytes`;
  if (op === CLOSE && payload.length >= 2) {
    what += ` code ${payload.readUInt16BE(0)}`;
    if (payload.length > 2) what += ` ${JSON.stringify(payload.subarray(2, 40).toString('utf8'))}`;
  } else if (payload.length > 0 && payload.length <= 16) {
    what += `: ${payload.toString('hex')}`;
  }
  return what;
}

/** The sections of RFC 6455 (or 7692) each group of the table checks. */
const GROUP_RFC: Record<string, string[]> = {
  '1': ['RFC 6455 §5.2', '§5.6'],
  '2': ['RFC 6455 §5.5.2', '§5.5.3'],
  '3': ['RFC 6455 §5.2 (RSV bits)'],
  '4': ['RFC 6455 §5.2 (opcodes)', '§10.7'],
  '5': ['RFC 6455 §5.4', '§5.5'],
  '6': ['RFC 6455 §8.1', '§5.6'],
  '7': ['RFC 6455 §5.5.1', '§7.1', '§7.4'],
  '9': ['RFC 6455 §5.2', '§5.4 (large messages)'],
  '10': ['RFC 6455 §5.4'],
  '12': ['RFC 7692 §7', '§6'],
  '13': ['RFC 7692 §7.1', '§7.2'],
};

/** The section a violation breaks. */
const VIOLATION_RFC: [RegExp, string][] = [
  [/masked|unmasked/, 'RFC 6455 §5.1 (masking by role)'],
  [/RSV bits/, 'RFC 6455 §5.2 (RSV bits)'],
  [/control frame/, 'RFC 6455 §5.5 (control frames)'],
  [/close code|1-byte payload/, 'RFC 6455 §7.4, §5.5.1'],
  [/not UTF-8/, 'RFC 6455 §8.1, §5.6'],
  [/after the close frame/, 'RFC 6455 §5.5.1'],
  [/continuation|new message/, 'RFC 6455 §5.4'],
  [/reserved opcode/, 'RFC 6455 §5.2'],
  [/permessage-deflate|inflate|uncompressed/, 'RFC 7692 §7'],
  [/round trip/, 'RFC 6455 §5.6'],
];

function rfcOf(c: Case, violations: readonly string[]): string[] {
  const out = [...(GROUP_RFC[c.id.split('.')[0]!] ?? [])];
  if (c.id.startsWith('7.7') || c.id.startsWith('7.9')) out.push('§7.4.1', '§7.4.2');
  if (c.id.startsWith('7.5')) out.push('§5.5.1 (close reason in UTF-8)');
  for (const v of violations) {
    const hit = VIOLATION_RFC.find(([re]) => re.test(v));
    if (hit && !out.includes(hit[1])) out.push(hit[1]);
  }
  return out;
}

function evLine(e: Ev): string {
  if ('timeout' in e) return `still open at checkpoint ${e.timeout}`;
  if ('pong' in e) return `pong(${bytesOf(e.pong).length} bytes)`;
  const d = bytesOf(e.message);
  return `${e.binary ? 'binary' : 'text'} message(${d.length} bytes)`;
}

function expectedOf(c: Case): string {
  const events = c.ok.length ? c.ok.map(evLine).join(', ') : 'no events but the round trips';
  const who = c.close.byPeer ? 'the peer closes' : 'the implementation fails the connection';
  const codes = c.close.codes.map((x) => (x === 1005 ? 'none' : String(x))).join(' or ');
  return `${events}; ${who} (close code ${codes}${c.close.clean ? ', clean' : ''})`;
}

/**
 * Why a server's permessage-deflate answer is not one RFC 7692 §7.1 allows for the offer
 * (the offer's elements, separated by commas), or null when it is.
 */
export function answerBreaksOffer(
  offer: string | undefined,
  agreed: {
    serverMaxWindowBits: number;
    clientMaxWindowBits: number;
    serverNoContextTakeover: boolean;
  },
): string | null {
  const offers = (offer ?? '').split(',').filter((o) => o.trim() !== '');
  if (offers.length === 0) return 'an extension was agreed that was not offered';
  const fits = offers.some((o) => {
    const params = new Map<string, string | true>();
    for (const p of o.split(';').slice(1)) {
      const [k, v] = p.split('=').map((x) => x.trim());
      if (k) params.set(k, v === undefined ? true : v.replace(/^"|"$/g, ''));
    }
    const smwb = params.get('server_max_window_bits');
    if (typeof smwb === 'string' && agreed.serverMaxWindowBits > Number(smwb)) return false;
    if (params.has('server_no_context_takeover') && !agreed.serverNoContextTakeover) return false;
    const cmwb = params.get('client_max_window_bits');
    if (agreed.clientMaxWindowBits < 15 && cmwb === undefined) return false;
    if (typeof cmwb === 'string' && agreed.clientMaxWindowBits > Number(cmwb)) return false;
    return true;
  });
  return fits ? null : 'the answer does not fit any offer (RFC 7692 §7.1)';
}
