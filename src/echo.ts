// The routes `omniws serve` offers: /echo (text back as text, binary as binary,
// subprotocol `echo` when offered) and /info (one JSON message describing the
// session, then close 1000). Interop tests and browsers rely on both.

import type { WebSocketRoute } from './route.js';
import { ok, reply, stop } from './ws/handler.js';

export const echoRoute: WebSocketRoute<null> = {
  subprotocols: ['echo'],
  state: null,
  handler: {
    handleIn: (msg, state) => reply(state, msg.data),
  },
};

export const infoRoute: WebSocketRoute<null> = {
  subprotocols: ['echo'],
  state: null,
  handler: {
    init: (req, state, session) => {
      session.send(
        JSON.stringify({
          http: req.http,
          subprotocol: req.subprotocol ?? null,
          extensions: req.extensions,
          secure: req.secure,
          path: req.path,
        }),
      );
      return stop(state, 1000);
    },
    handleIn: (_msg, state) => ok(state),
  },
};

export function echoRoutes(): Record<string, WebSocketRoute> {
  return { '/echo': echoRoute, '/info': infoRoute };
}
