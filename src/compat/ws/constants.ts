// The constants of the `ws` 8 API that omniws/ws reproduces: ready states, binary types,
// defaults, and the marks this layer leaves on objects it owns.

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** Names of the ready states, as ws's messages spell them. */
export const READY_STATES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

/** The binary types ws accepts, 'nodebuffer' first (its default). */
export const BINARY_TYPES = ['nodebuffer', 'arraybuffer', 'fragments', 'blob'] as const;
export type BinaryType = (typeof BINARY_TYPES)[number];

/** ws's `closeTimeout` default: 30 s. */
export const CLOSE_TIMEOUT = 30_000;
/** ws's `maxPayload` default: 100 MiB. */
export const MAX_PAYLOAD = 100 * 1024 * 1024;

export const EMPTY_BUFFER = Buffer.alloc(0);

/** Marks a socket a WebSocket was made on (handleUpgrade twice on one socket is an error). */
export const kWebSocket: unique symbol = Symbol('omniws.ws.websocket');

/** `WebSocket is not open: readyState 2 (CLOSING)`: ws's message for a send while not open. */
export function notOpenMessage(readyState: number): string {
  return `WebSocket is not open: readyState ${readyState} (${READY_STATES[readyState]})`;
}
