// The pools of client connections that carry many WebSockets each (HTTP/2 sessions,
// HTTP/3 connections): per key, a list of connections, the first usable one taken. A key
// is the origin plus every option that must match for a connection to be shared, by
// value: TLS options built afresh per call (`{ ca }`) still share, while a connection
// verified with one CA never serves a request made with another. An Agent
// (src/client/agent.ts) owns one pool per version; connect() has a default one.

import { createHash } from 'node:crypto';

/** What a pool holds. */
export interface Pooled {
  readonly key: string;
  /** Close once the WebSockets on it are done (GOAWAY); it leaves the pool. */
  close(): void;
}

export class ConnectionPool<T extends Pooled> {
  /** How long a connection stays open after its last WebSocket (undefined: the client's default). */
  readonly idleTimeout: number | undefined;
  readonly #byKey = new Map<string, T[]>();

  constructor(idleTimeout?: number) {
    this.idleTimeout = idleTimeout;
  }

  /** The first connection for `key` that `usable` accepts. */
  find(key: string, usable: (p: T) => boolean): T | undefined {
    for (const p of this.#byKey.get(key) ?? []) if (usable(p)) return p;
    return undefined;
  }

  add(p: T): void {
    const list = this.#byKey.get(p.key);
    if (list) list.push(p);
    else this.#byKey.set(p.key, [p]);
  }

  remove(p: T): void {
    const list = this.#byKey.get(p.key);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byKey.delete(p.key);
  }

  /** Close every connection (each after its open WebSockets). */
  close(): void {
    for (const list of [...this.#byKey.values()]) for (const p of [...list]) p.close();
  }

  /** Connections in the pool. */
  get size(): number {
    let n = 0;
    for (const list of this.#byKey.values()) n += list.length;
    return n;
  }
}

// Equal means the same primitives and the same bytes; functions and other objects
// (checkServerIdentity, a SecureContext) by identity.
const identities = new WeakMap<object, number>();
let nextIdentity = 1;
const keys = new WeakMap<object, string>();

function identityOf(o: object): string {
  let id = identities.get(o);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(o, id);
  }
  return `#${id}`;
}

function valueKey(v: unknown): string {
  if (typeof v === 'function') return identityOf(v);
  if (v === null || typeof v !== 'object') return `${typeof v}:${String(v)}`;
  if (ArrayBuffer.isView(v)) {
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return `b:${createHash('sha256').update(bytes).digest('base64')}`;
  }
  if (Array.isArray(v)) return `[${v.map(valueKey).join(',')}]`;
  return identityOf(v);
}

/** A key for an options object (TLS options, QUIC settings) by value, one level deep. */
export function optionsKey(o: object | undefined): string {
  if (o === undefined) return '';
  let key = keys.get(o);
  if (key === undefined) {
    const entries = Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    key = entries.map(([k, v]) => `${k}=${valueKey(v)}`).join(';');
    keys.set(o, key);
  }
  return key;
}
