// How attach() takes a user's server without disturbing it: we wrap the server's `emit`,
// so our handler sees each event first whatever the order of the listeners (node#36977:
// node:http2's compatibility layer would otherwise answer an extended CONNECT with 405
// before we see it), and hand on what we decline to the listeners as they were. A second
// attach on the same server wraps ours; we unwrap only when nobody wrapped after us.

import type { EventEmitter } from 'node:events';

type EmitFn = (event: string | symbol, ...args: unknown[]) => boolean;

/** Our hold on a server's emit. */
export interface EmitHook {
  /** An attach of ours was there before us: it may take what we decline. */
  readonly innerIsOurs: boolean;
  /** Emit `event` as the server would have without us. */
  pass(event: string | symbol, ...args: unknown[]): boolean;
  /** Stop intercepting; restore the server's emit when ours is still the outermost. */
  release(): void;
}

/**
 * Wrap `server.emit`: `intercept(event, args)` runs first and returns true when it took
 * the event. `marker` tells our wrappers of one kind (h1, h2) apart.
 */
export function wrapEmit(
  server: EventEmitter,
  marker: symbol,
  intercept: (event: string | symbol, args: unknown[]) => boolean,
): EmitHook {
  const target = server as unknown as { emit: EmitFn };
  const hadOwnEmit = Object.hasOwn(server, 'emit');
  const baseEmit = target.emit;
  let released = false;
  const emit: EmitFn = function (this: unknown, event, ...args) {
    if (!released && intercept(event, args)) return true;
    return baseEmit.call(this, event, ...args);
  };
  (emit as EmitFn & Record<symbol, true>)[marker] = true;
  target.emit = emit;
  return {
    innerIsOurs: (baseEmit as EmitFn & Record<symbol, true | undefined>)[marker] === true,
    pass: (event, ...args) => baseEmit.call(server, event, ...args),
    release() {
      released = true;
      if (target.emit !== emit) return; // another wrapper is outside ours: ours stays, inert
      if (hadOwnEmit) target.emit = baseEmit;
      else delete (target as { emit?: EmitFn }).emit;
    },
  };
}
