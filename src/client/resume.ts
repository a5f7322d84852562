// Resuming topics with history (docs/scaling.md, "History and recovery"): the notices a
// server sends in a subscriber's stream (a message's position, a recovery's outcome) and
// the query that asks for them: `positions` on the first connection, `since=<position>`
// on the next ones, so the server replays what was missed.

/** What a recovery came to, as `handleRecovery` hears it. */
export interface RecoveryInfo {
  readonly topic: string;
  /** The position the client came back with. */
  readonly since: string;
  /** true: everything published after `since` was replayed; false: the history no longer reaches back there (a gap). */
  readonly recovered: boolean;
  /** Messages replayed. */
  readonly count: number;
}

/** A notice of the server among a subscriber's messages, or undefined for an application message. */
export type Notice =
  | { kind: 'position'; topic: string; position: string }
  | { kind: 'recovery'; info: RecoveryInfo };

const PREFIX = '{"omniws.';

export function parseNotice(text: string): Notice | undefined {
  if (!text.startsWith(PREFIX)) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const topic = typeof o.topic === 'string' ? o.topic : '';
  if (typeof o['omniws.position'] === 'string') {
    return { kind: 'position', topic, position: o['omniws.position'] };
  }
  if (typeof o['omniws.recovered'] === 'number') {
    const since = typeof o.since === 'string' ? o.since : '';
    return {
      kind: 'recovery',
      info: { topic, since, recovered: true, count: o['omniws.recovered'] },
    };
  }
  if (typeof o['omniws.lost'] === 'string') {
    return {
      kind: 'recovery',
      info: { topic, since: o['omniws.lost'], recovered: false, count: 0 },
    };
  }
  return undefined;
}

/** `path` asking for positions, or to resume after `position` when there is one. */
export function resumePath(path: string, position: string | undefined): string {
  const q = path.indexOf('?');
  const base = q < 0 ? path : path.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  params.delete('positions');
  params.delete('since');
  if (position === undefined) params.set('positions', '1');
  else params.set('since', position);
  return `${base}?${params}`;
}
