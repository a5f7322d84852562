// Memory measurements for tests: a forced garbage collection (without --expose-gc on
// the command line) and the bytes in use (JS heap + buffers).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Collect garbage (twice: weak references and finalizers need a second pass). */
export async function gc(): Promise<void> {
  collect();
  await new Promise((r) => setImmediate(r));
  collect();
}

/** Bytes in use: the JS heap plus ArrayBuffers and other memory held by JS objects. */
export function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}
