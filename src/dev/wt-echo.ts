// /wt/echo, the WebTransport echo `omniws serve` offers over HTTP/3 (and the tests and
// the benchmark use): every bidirectional stream echoes what arrives as it arrives and
// ends when the peer ends; every unidirectional stream from the peer comes back whole on
// a unidirectional stream of ours once it ends; every datagram comes back. A stream
// whose echo cannot be written ends the stream, not the session.

import type { WebTransportHandler } from '../server/handler.js';

/** The largest unidirectional stream /wt/echo keeps whole before it echoes (1 MiB); beyond: reset. */
const MAX_UNI_ECHO = 1024 * 1024;

export const wtEchoHandler: WebTransportHandler<null> = {
  handleStream(stream, session) {
    if (stream.kind === 'bidi') {
      stream.setSink({
        onData(chunk) {
          // write back; when the echo backs up, stop reading until it drains
          if (!stream.write(chunk)) stream.pause();
        },
        onEnd() {
          stream.end();
        },
        onAbort(how, code) {
          if (how === 'reset') stream.reset(code ?? 0);
          else stream.stopSending(code ?? 0);
        },
        onDrain() {
          stream.resume();
        },
        onClose() {},
      });
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    stream.setSink({
      onData(chunk) {
        size += chunk.length;
        if (size > MAX_UNI_ECHO) {
          stream.stopSending(1);
          return;
        }
        chunks.push(chunk);
      },
      onEnd() {
        if (session.closed) return;
        const back = session.openStream('uni');
        back.write(Buffer.concat(chunks));
        back.end();
      },
      onAbort() {},
      onDrain() {},
      onClose() {},
    });
  },
  handleDatagram(data, session) {
    session.sendDatagram(data);
  },
};

/** What /wt/close?code=C&reason=R asks for (a code 0 … 2^32-1, a reason of at most 1024 bytes). */
export function closeAsked(query: URLSearchParams): { code: number; reason: string } {
  const code = Number(query.get('code') ?? 0);
  const reason = (query.get('reason') ?? '').slice(0, 256);
  return { code: Number.isInteger(code) && code >= 0 && code <= 0xffffffff ? code : 0, reason };
}

/** /wt/close: the server closes the session at once with the code and reason asked for. */
export const wtCloseHandler: WebTransportHandler<{ code: number; reason: string }> = {
  init(session, _req, asked) {
    // after the 200 is on its way: the close capsule follows it on the CONNECT stream
    queueMicrotask(() => session.close(asked.code, asked.reason));
  },
};
