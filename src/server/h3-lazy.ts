// listenH3, loaded on first use: serve() and the root's listenH3 reach HTTP/3 (and
// quiche's native binding) through here, so importing omniws loads neither.
import { loadHttp3 } from '../h3/load.js';
import type { HandleContext } from './context.js';
import type { H3Listener, H3ListenOptions } from './h3-server.js';

/** A standalone HTTP/3 server (see src/server/h3-server.ts), loaded on first use. */
export async function listenH3(opts: H3ListenOptions, shared?: HandleContext): Promise<H3Listener> {
  const m = await loadHttp3(() => import('./h3-server.js'));
  return m.listenH3(opts, shared);
}
