// HTTP/1.1 Transport: the net.Socket (or tls.TLSSocket) left after a 101.
//
// Bytes that arrived with the request head (or after the 101 response) belong to
// the WebSocket and are delivered first. Writes made within one tick are corked
// and leave in one writev: an echo of a burst of messages is one syscall. Small
// chunks of that tick are copied into one batch buffer on the way, so a burst of
// small frames is one contiguous buffer, not one iovec (and one write request) each.

import type { Socket } from 'node:net';
import type { Transport, TransportInfo, TransportSink } from '../ws/transport.js';

/** Chunks up to this size are gathered into the tick's batch; larger ones are written as they are. */
const BATCH_CHUNK_MAX = 1024;

export class H1Transport implements Transport {
  readonly #socket: Socket;
  readonly #secure: boolean;
  #info: TransportInfo | null = null;
  #head: Buffer | null;
  #corked = false;
  #ended = false;
  // small chunks not yet handed to the socket, and their total length
  #batch: Uint8Array[] | null = null;
  #batchLength = 0;

  constructor(socket: Socket, head: Buffer | null, secure: boolean) {
    this.#socket = socket;
    this.#head = head && head.length > 0 ? head : null;
    this.#secure = secure;
    socket.setNoDelay(true);
    socket.setTimeout(0);
  }

  /**
   * Read from the socket on first use: a server seldom asks, and reading the local
   * address makes the socket cache an object and a string per connection.
   */
  get info(): TransportInfo {
    const s = this.#socket;
    this.#info ??= {
      http: '1.1',
      secure: this.#secure,
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
      localAddress: s.localAddress,
      localPort: s.localPort,
    };
    return this.#info;
  }

  attach(sink: TransportSink): void {
    const s = this.#socket as SinkSocket;
    // shared listeners that find the sink on the socket: no closures per connection
    s[kSink] = sink;
    s.on('data', onSocketData);
    s.on('end', onSocketEnd);
    s.on('error', onSocketError);
    s.on('drain', onSocketDrain);
    s.on('close', onSocketClose);
    const head = this.#head;
    this.#head = null;
    if (head) sink.onData(head);
    if (s.destroyed) {
      // closed before we attached: report it once
      queueMicrotask(() => sink.onClose());
    } else if (s.isPaused()) {
      s.resume();
    }
  }

  write(chunks: Uint8Array | readonly Uint8Array[]): boolean {
    const s = this.#socket;
    if (this.#ended || s.destroyed) return false;
    if (!this.#corked) {
      this.#corked = true;
      s.cork();
      process.nextTick(uncork, this);
    }
    if (chunks instanceof Uint8Array) this.#write(chunks);
    else for (const c of chunks) this.#write(c);
    // false only when the socket will emit 'drain'
    return !s.writableNeedDrain;
  }

  writeNow(chunk: Uint8Array): boolean {
    const s = this.#socket;
    if (this.#ended || s.destroyed) return false;
    // behind what this tick gathered, if anything: the batch goes first
    if (this.#corked) return this.write(chunk);
    s.write(chunk);
    return !s.writableNeedDrain;
  }

  #write(c: Uint8Array): void {
    if (c.length > BATCH_CHUNK_MAX) {
      this.#flushBatch();
      this.#socket.write(c);
      return;
    }
    if (this.#batch === null) this.#batch = [c];
    else this.#batch.push(c);
    this.#batchLength += c.length;
  }

  #flushBatch(): void {
    const b = this.#batch;
    if (b === null) return;
    this.#batch = null;
    const n = this.#batchLength;
    this.#batchLength = 0;
    // destroyed since the write (a reset): the bytes have nowhere to go
    if (this.#socket.destroyed) return;
    // one copy into one buffer per tick (pooled when small), not one per frame
    this.#socket.write(b.length === 1 ? b[0]! : Buffer.concat(b, n));
  }

  uncork(): void {
    this.#corked = false;
    this.#flushBatch();
    this.#socket.uncork();
  }

  bufferedAmount(): number {
    return this.#socket.writableLength + this.#batchLength;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#corked) this.uncork();
    this.#socket.end();
  }

  abort(_kind: 'cancel' | 'protocol'): void {
    const s = this.#socket;
    if (s.destroyed) return;
    // an RST where the platform allows it; TLS sockets have no resetAndDestroy path of their own
    if (typeof s.resetAndDestroy === 'function' && !('encrypted' in s)) s.resetAndDestroy();
    else s.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }
}

function uncork(t: H1Transport): void {
  t.uncork();
}

const kSink = Symbol('omniws.sink');
type SinkSocket = Socket & { [kSink]: TransportSink };

function onSocketData(this: SinkSocket, chunk: Buffer): void {
  this[kSink].onData(chunk);
}
function onSocketEnd(this: SinkSocket): void {
  this[kSink].onEnd();
}
function onSocketError(this: SinkSocket, err: Error): void {
  this[kSink].onError(err);
}
function onSocketDrain(this: SinkSocket): void {
  this[kSink].onDrain();
}
function onSocketClose(this: SinkSocket): void {
  this[kSink].onClose();
}
