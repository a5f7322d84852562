// TLS key logs for HTTP/1.1 and HTTP/2 over TLS (node:tls's `keylog` event), in NSS
// key log format, so that Wireshark or tshark can decrypt a capture. The file is the
// `keylog` option's, else SSLKEYLOGFILE's, as browsers and curl read it. HTTP/3 writes
// its secrets through quiche (`quic.keylog`, src/h3/quic.ts) to the same file.
// For debugging only: anyone with the file can read the traffic.

import type { EventEmitter } from 'node:events';
import { appendFileSync } from 'node:fs';

/** The key log file in force: the option, else SSLKEYLOGFILE, else none (''). */
export function keylogPath(given: string | undefined): string {
  return given ?? process.env.SSLKEYLOGFILE ?? '';
}

/**
 * Append every `keylog` line of a TLS server or socket to the file (when there is one).
 * Each line arrives complete with its newline; a file that cannot be written is skipped.
 */
export function logKeys(emitter: EventEmitter, given: string | undefined): void {
  const path = keylogPath(given);
  if (path === '') return;
  emitter.on('keylog', (line: Buffer) => {
    try {
      appendFileSync(path, line);
    } catch {
      // a debugging aid must not take the connection down
    }
  });
}
