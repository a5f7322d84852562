// The idle bound of HTTP/2 and HTTP/3 connections (`keepAliveTimeout`): a connection
// with nothing open for a while is sent away.

/** Closes a connection that stays idle: see `idleCloser`. */
export interface IdleCloser {
  /** Nothing is open on the connection (any more): the idle period starts now. */
  start(): void;
  /** The connection is gone. */
  stop(): void;
}

/**
 * Send an idle connection away (HTTP/2 and HTTP/3 `keepAliveTimeout`): `ms` after the
 * last `start()`, `close` runs; it checks for itself that nothing was opened meanwhile
 * (then it does nothing, and the next `start()` begins a new period). `ms` 0: never.
 */
export function idleCloser(ms: number, close: () => void): IdleCloser {
  let since = 0;
  let timer: NodeJS.Timeout | null = null;
  const arm = (wait: number) => {
    timer = setTimeout(fire, wait);
    timer.unref();
  };
  const fire = () => {
    timer = null;
    const left = since + ms - Date.now();
    if (left > 0) arm(left);
    else close();
  };
  return {
    start() {
      if (ms <= 0) return;
      since = Date.now();
      if (timer === null) arm(ms);
    },
    stop() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
