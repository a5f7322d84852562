// TLS session tickets of HTTP/3 connections kept beyond one process (RFC 8446 §4.6.1):
// a client that starts again resumes the session the server gave it last time, with
// 0-RTT where the server allows early data. A ticket stands in for the server's
// certificate check, so the file is written for its owner only (0600) and its keys
// carry the TLS options the connection was verified with (src/h3/client.ts).

import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Where HTTP/3 clients keep session tickets, per connection key (origin + TLS + QUIC options). */
export interface SessionTicketStore {
  get(key: string): Uint8Array | undefined;
  set(key: string, ticket: Uint8Array): void;
}

/** Tickets kept in one file; at most this many keys, the most recently stored. */
const MAX_KEYS = 64;

interface TicketFile {
  version: 1;
  tickets: Record<string, string>;
}

/**
 * A store in the JSON file `path` (created when the first ticket arrives). A file that
 * is missing, unreadable or not ours counts as empty: a full handshake, never an error.
 */
export function fileTicketStore(path: string): SessionTicketStore {
  let tickets: Map<string, string> | null = null;
  const load = (): Map<string, string> => {
    if (tickets !== null) return tickets;
    tickets = new Map();
    try {
      const f = JSON.parse(readFileSync(path, 'utf8')) as TicketFile;
      if (f.version === 1 && f.tickets && typeof f.tickets === 'object') {
        for (const [k, v] of Object.entries(f.tickets)) {
          if (typeof v === 'string') tickets.set(k, v);
        }
      }
    } catch {
      // no file yet, or not one of ours: start empty
    }
    return tickets;
  };
  return {
    get(key) {
      const b64 = load().get(key);
      return b64 === undefined ? undefined : new Uint8Array(Buffer.from(b64, 'base64'));
    },
    set(key, ticket) {
      const m = load();
      m.delete(key); // the newest last: the oldest go first beyond MAX_KEYS
      m.set(key, Buffer.from(ticket).toString('base64'));
      while (m.size > MAX_KEYS) m.delete(m.keys().next().value as string);
      const body: TicketFile = { version: 1, tickets: Object.fromEntries(m) };
      const tmp = `${path}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
        chmodSync(tmp, 0o600);
        renameSync(tmp, path);
      } catch {
        // a store that cannot be written loses resumption, not the connection
      }
    },
  };
}
