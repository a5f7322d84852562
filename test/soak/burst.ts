// What every soak run does on one WebSocket: send a burst of text and binary messages
// at once, check that every echo comes back in order, then close cleanly.

import { type Handler, ok } from '../../src/ws/handler.js';
import type { Session } from '../../src/ws/session.js';

export interface Got {
  texts: string[];
  binaries: Buffer[];
  done: () => void;
}

/** The client handler: collects echoes, `done()` once all 2 × `messages` arrived. */
export function collector(messages: number): Handler<Got> {
  return {
    handleIn(msg, got) {
      if (msg.type === 'text') got.texts.push(msg.data);
      else got.binaries.push(msg.data);
      if (got.texts.length + got.binaries.length === 2 * messages) got.done();
      return ok(got);
    },
  };
}

/**
 * Open WebSocket `i` with `open`, send `messages` texts and binaries in one burst (order
 * must survive pipelining and multiplexing), check the echoes, close with 1000. What goes
 * wrong is pushed to `problems`, named after `what` and `i`.
 */
export async function burst(
  open: (got: Got) => Promise<Session<Got>>,
  i: number,
  messages: number,
  problems: string[],
  what = 'connection',
): Promise<void> {
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const got: Got = { texts: [], binaries: [], done };
  const session = await open(got);
  for (let j = 0; j < messages; j++) session.send([`${i}:${j}`, Buffer.from(`${i}/${j}`)]);
  await all;
  for (let j = 0; j < messages; j++) {
    if (got.texts[j] !== `${i}:${j}` || got.binaries[j]?.toString() !== `${i}/${j}`) {
      problems.push(`${what} ${i}: message ${j} lost or out of order`);
      break;
    }
  }
  session.close(1000);
  const r = await session.closed;
  if (r.code !== 1000 || !r.wasClean) problems.push(`${what} ${i}: closed with ${r.code}`);
}
