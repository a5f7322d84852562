// A promise with its resolve and reject at hand, for the connection's `opened` and
// `closed`, which settle from events rather than from one async function.

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // whoever never looks at it must not get an unhandled rejection
  promise.catch(() => {});
  return { promise, resolve, reject };
}
