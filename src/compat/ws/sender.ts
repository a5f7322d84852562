// The sending side of one WebSocket: messages in order (a Blob is read before what was
// sent after it), fragments of a message sent with `fin: false` gathered until the last
// one (the engine sends a message whole: the peer receives the same message, in fewer
// frames), and each send's callback once its bytes have left for the network.

import type { OutFrame } from '../../ws/handler.js';
import type { Session } from '../../ws/session.js';
import { notOpenMessage } from './constants.js';
import type { Data } from './data.js';
import { isBlob, toBuffer } from './data.js';

export type Callback = (err?: Error) => void;

interface Item {
  payload: string | Buffer | Blob;
  binary: boolean;
  fin: boolean;
  cb: Callback | undefined;
}

/** The WebSocket a Sender works for: its session and its readyState, now. */
export interface SenderHost {
  session(): Session<null> | null;
  readyState(): number;
}

export class Sender {
  readonly #host: SenderHost;
  /** Items waiting behind a Blob being read (null when nothing waits). */
  #queue: Item[] | null = null;
  #queuedBytes = 0;
  /** A message sent in fragments so far. */
  #frag: { binary: boolean; parts: Buffer[]; bytes: number; cbs: Callback[] } | null = null;

  constructor(host: SenderHost) {
    this.#host = host;
  }

  /** Bytes accepted by send() that the session has not been given yet. */
  get pendingBytes(): number {
    return this.#queuedBytes + (this.#frag?.bytes ?? 0);
  }

  /** send(data, { binary, fin }) while OPEN. Throws a TypeError for data ws would refuse. */
  send(data: Data, binary: boolean, fin: boolean, cb: Callback | undefined): void {
    const payload: string | Buffer | Blob =
      typeof data === 'string' || isBlob(data) ? data : toBuffer(data);
    const item: Item = { payload, binary, fin, cb };
    if (this.#queue !== null) {
      this.#queue.push(item);
      this.#queuedBytes += sizeOf(payload);
      return;
    }
    if (isBlob(payload)) {
      this.#queue = [item];
      this.#queuedBytes = payload.size;
      void this.#pump();
      return;
    }
    this.#write(item);
  }

  /** ping / pong while OPEN. */
  control(type: 'ping' | 'pong', data: Buffer, cb: Callback | undefined): void {
    const s = this.#host.session()!;
    let flushed: boolean;
    try {
      flushed = s.send({ type, data });
    } catch (err) {
      if (cb) process.nextTick(cb, err as Error);
      return;
    }
    this.#whenWritten(flushed, cb ? [cb] : []);
  }

  /** The socket closed: what waits is never sent; its callbacks get an error. */
  fail(): void {
    const cbs = [...(this.#frag?.cbs ?? []), ...(this.#queue ?? []).flatMap((i) => i.cb ?? [])];
    this.#frag = null;
    if (cbs.length === 0) return;
    const err = new Error(notOpenMessage(this.#host.readyState()));
    for (const cb of cbs) process.nextTick(cb, err);
  }

  async #pump(): Promise<void> {
    const q = this.#queue!;
    while (q.length > 0) {
      const item = q[0]!;
      if (isBlob(item.payload)) {
        try {
          item.payload = Buffer.from(await item.payload.arrayBuffer());
        } catch (err) {
          // ws reports a Blob it could not read to the callback and sends nothing for it
          q.shift();
          this.#queuedBytes -= sizeOf(item.payload);
          item.cb?.(err as Error);
          continue;
        }
      }
      q.shift();
      this.#queuedBytes -= sizeOf(item.payload);
      if (this.#host.readyState() === 1) this.#write(item);
      else if (item.cb)
        process.nextTick(item.cb, new Error(notOpenMessage(this.#host.readyState())));
    }
    this.#queue = null;
    this.#queuedBytes = 0;
  }

  #write(item: Item): void {
    let payload = item.payload as string | Buffer;
    let binary = item.binary;
    let cbs = item.cb ? [item.cb] : [];
    if (!item.fin || this.#frag !== null) {
      // RFC 6455 §5.4: the opcode of the first fragment says what the message is
      const f = this.#frag ?? { binary, parts: [], bytes: 0, cbs: [] };
      this.#frag = f;
      const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
      f.parts.push(buf);
      f.bytes += buf.length;
      f.cbs.push(...cbs);
      if (!item.fin) return;
      this.#frag = null;
      payload = Buffer.concat(f.parts, f.bytes);
      binary = f.binary;
      cbs = f.cbs;
    }
    const frame: OutFrame = binary
      ? { type: 'binary', data: typeof payload === 'string' ? Buffer.from(payload) : payload }
      : { type: 'text', data: typeof payload === 'string' ? payload : payload.toString() };
    let flushed: boolean;
    try {
      flushed = this.#host.session()!.send(frame);
    } catch {
      // the session began to close under us: as a send after close
      const err = new Error(notOpenMessage(this.#host.readyState()));
      for (const cb of cbs) process.nextTick(cb, err);
      return;
    }
    this.#whenWritten(flushed, cbs);
  }

  /** Call back once the bytes left: at the next turn, or once the transport drained. */
  #whenWritten(flushed: boolean, cbs: Callback[]): void {
    if (cbs.length === 0) return;
    const s = this.#host.session()!;
    const done = () => {
      // the connection went before the bytes did
      const err =
        s.readyState === 'closed' && s.bufferedAmount > 0
          ? new Error(notOpenMessage(this.#host.readyState()))
          : undefined;
      for (const cb of cbs) cb(err);
    };
    if (flushed) setImmediate(done);
    else void s.drained().then(() => setImmediate(done));
  }
}

function sizeOf(p: string | Buffer | Blob): number {
  return typeof p === 'string' ? Buffer.byteLength(p) : isBlob(p) ? p.size : p.length;
}
