// The routes `omniws serve` offers: /echo (text back as text, binary as binary,
// subprotocol `echo` when offered) and /info (one JSON message describing the
// session, then close 1000). Interop tests and browsers rely on both.

import type { WebSocketRoute } from '../server/handler.js';
import { ok, reply, stop, type UpgradeRequest } from '../ws/handler.js';

/** What /info (and /echo?announce, first) tells the peer about its own session. */
export function describeSession(req: UpgradeRequest): string {
  return JSON.stringify({
    http: req.http,
    subprotocol: req.subprotocol ?? null,
    extensions: req.extensions,
    secure: req.secure,
    path: req.path,
  });
}

/**
 * The /echo route: every message comes back as it came (text as text, binary as binary);
 * subprotocol `echo`.
 */
export const echoRoute: WebSocketRoute<null> = {
  subprotocols: ['echo'],
  state: null,
  handler: {
    init: (req, state, session) => {
      // the interop page asks which HTTP version carries its WebSocket
      if (/[?&]announce(=|&|$)/.test(req.path)) session.send(describeSession(req));
      return ok(state);
    },
    handleIn: (msg, state) => reply(state, msg.data),
  },
};

/** The /info route: one JSON message describing the session, then close 1000. */
export const infoRoute: WebSocketRoute<null> = {
  subprotocols: ['echo'],
  state: null,
  handler: {
    init: (req, state, session) => {
      session.send(describeSession(req));
      return stop(state, 1000);
    },
    handleIn: (_msg, state) => ok(state),
  },
};

/** `/echo` and `/info` as routes, with the `extra` route settings (permessage-deflate…) on both. */
export function echoRoutes(extra: Partial<WebSocketRoute> = {}): Record<string, WebSocketRoute> {
  return { '/echo': { ...echoRoute, ...extra }, '/info': { ...infoRoute, ...extra } };
}
