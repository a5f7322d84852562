// The routes `omniws serve` offers: /echo (text back as text, binary as binary,
// subprotocol `echo` when offered), /info (one JSON message describing the session,
// then close 1000) and /pubsub/<topic> (a room: every message goes to every member,
// the sender included). Interop tests, browsers and the fan-out benchmark rely on them.

import { workerInfo } from '../scale/cluster.js';
import type { WebSocketRoute } from '../server/handler.js';
import { ok, reply, stop, type UpgradeRequest } from '../ws/handler.js';
import { isPosition } from '../ws/pubsub.js';
import type { Topics } from '../ws/topics.js';

/** What /info (and /echo?announce, first) tells the peer about its own session. */
export function describeSession(req: UpgradeRequest): string {
  const w = workerInfo();
  return JSON.stringify({
    http: req.http,
    subprotocol: req.subprotocol ?? null,
    extensions: req.extensions,
    secure: req.secure,
    path: req.path,
    // with --workers: which worker serves this WebSocket
    ...(w && { worker: w.slot }),
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

/** Where the pubsub routes live: /pubsub/<topic>. */
export const PUBSUB_PREFIX = '/pubsub/';

/**
 * The topic of a /pubsub/<topic> path (percent-decoded), or undefined for another path or
 * a topic that is empty, longer than 1024 characters or not decodable.
 */
export function pubsubTopic(pathname: string): string | undefined {
  if (!pathname.startsWith(PUBSUB_PREFIX)) return undefined;
  let topic: string;
  try {
    topic = decodeURIComponent(pathname.slice(PUBSUB_PREFIX.length));
  } catch {
    return undefined;
  }
  return topic.length > 0 && topic.length <= 1024 ? topic : undefined;
}

/**
 * A /pubsub/<topic> route: the WebSocket subscribes to `topic` on open, and each message it
 * sends is published to `topic` through `topics` (its server's hub), the sender included,
 * in kind (text as text). With `?announce` it first gets the /info message; with
 * `?positions` or `?since=<position>`, positions and recovery (docs/scaling.md). A member
 * more than 1 MiB behind is closed with 1008.
 */
export function pubsubRoute(topics: Topics, topic: string): WebSocketRoute<null> {
  return {
    state: null,
    maxBuffered: 1024 * 1024,
    handler: {
      init: (req, state, session) => {
        const q = new URLSearchParams(req.path.split('?')[1] ?? '');
        // ?announce: this member first hears which HTTP version carries it (the page asks)
        if (q.has('announce')) session.send(describeSession(req));
        // ?positions, ?since=<position>: history and recovery (docs/scaling.md)
        const since = q.get('since');
        if (since !== null && !isPosition(since)) {
          session.subscribe(topic, { positions: true });
          session.send(JSON.stringify({ 'omniws.lost': since, topic }));
        } else {
          session.subscribe(topic, {
            positions: q.has('positions') || since !== null,
            ...(since !== null && { since }),
          });
        }
        return ok(state);
      },
      handleIn: (msg, state) => {
        topics.publish(topic, msg);
        return ok(state);
      },
    },
  };
}
