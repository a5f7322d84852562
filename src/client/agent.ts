// An Agent owns the connections that WebSockets share: one pool of HTTP/2 sessions and
// one of HTTP/3 connections, keyed by origin and by the value of the options that must
// match (TLS options, window sizes, QUIC settings). connect() uses `globalAgent` unless
// given another; `agent.close()` sends every pooled connection away once its
// WebSockets are done. HTTP/1.1 WebSockets own their connection and are never pooled.

import { defaultH2Pool, type H2Pool, type PooledSession } from '../h2/client.js';
import { ConnectionPool } from '../h2/pool.js';
import type { H3Pool, PooledConnection } from '../h3/client.js';

/** The options of `new Agent()`. */
export interface AgentOptions {
  /** How long a pooled connection stays open after its last WebSocket closed (default 1000 ms). */
  idleTimeout?: number;
}

/** The pools of HTTP/2 sessions and HTTP/3 connections that WebSockets share; `close()` sends them away. */
export class Agent {
  readonly #idleTimeout: number | undefined;
  readonly #isGlobal: boolean;
  readonly #h2: H2Pool;
  #h3: H3Pool | undefined;

  constructor(opts: AgentOptions = {}) {
    this.#idleTimeout = opts.idleTimeout;
    this.#isGlobal = globalAgentBeingMade;
    this.#h2 = this.#isGlobal ? defaultH2Pool : new ConnectionPool<PooledSession>(opts.idleTimeout);
  }

  /** @internal The HTTP/2 sessions of this agent. */
  get h2Pool(): H2Pool {
    return this.#h2;
  }

  /** @internal The HTTP/3 connections of this agent, made once HTTP/3 is loaded. */
  h3Pool(h3: { defaultH3Pool: H3Pool }): H3Pool {
    this.#h3 ??= this.#isGlobal
      ? h3.defaultH3Pool
      : new ConnectionPool<PooledConnection>(this.#idleTimeout);
    return this.#h3;
  }

  /** Pooled connections now (HTTP/2 sessions and HTTP/3 connections). */
  get size(): number {
    return this.#h2.size + (this.#h3?.size ?? 0);
  }

  /**
   * Send every pooled connection away: each closes (GOAWAY) once its WebSockets are done;
   * later connects through this agent open new ones.
   */
  close(): void {
    this.#h2.close();
    this.#h3?.close();
  }
}

let globalAgentBeingMade = true;
/** The agent of every connect() that names none. */
export const globalAgent: Agent = new Agent();
globalAgentBeingMade = false;
