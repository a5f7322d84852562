// HTTP/3 is loaded on first use: its QUIC driver needs quiche's prebuilt native binding
// (from @matrixai/quic), which exists for fewer platforms than Node does. Everything
// else in omniws imports and works without it; `loadHttp3` turns a binding that does
// not load into one clear error.

import { WebSocketError } from '../ws/errors.js';

/** Run `load` (a dynamic import of HTTP/3 code); a failure becomes WS_ERR_HTTP3_UNAVAILABLE. */
export function loadHttp3<T>(load: () => Promise<T>): Promise<T> {
  return load().catch((err: unknown) => {
    throw new WebSocketError(
      'WS_ERR_HTTP3_UNAVAILABLE',
      `HTTP/3 is not available here: quiche's native binding (@matrixai/quic, ${process.platform}-${process.arch}) did not load: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  });
}
