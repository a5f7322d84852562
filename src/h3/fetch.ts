// One plain HTTP/3 request (RFC 9114 §4.1) on the pooled connections WebSockets use:
// what QUIC experimenters need beside a WebSocket to see 0-RTT at work. A connection
// that resumes a session allowing early data (`quic.earlyData` on both sides) carries
// the request in its 0-RTT packets when the request is safe to replay (RFC 8470 §4: GET,
// HEAD, OPTIONS, TRACE, no `:protocol`); anything else waits for the handshake, unless
// `earlyData: 'always'` asks to send it early anyway, to see what a server does with it.

import { parseWsUrl } from '../h1/client.js';
import { type H3ClientOptions, pooledConnection } from './client.js';
import { isReplaySafe } from './connection.js';
import { H3_REQUEST_CANCELLED } from './errors.js';
import type { Header } from './qpack.js';

/** Options of `fetchH3()`: the request, and the connection options WebSockets take. */
export interface H3FetchOptions
  extends Pick<
    H3ClientOptions<unknown>,
    'tls' | 'quic' | 'keylog' | 'h3Pool' | 'sessionIdleTimeout'
  > {
  /** Default GET. */
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /**
   * When the request may ride 0-RTT data: 'safe' (default) if it is safe to replay,
   * 'never', or 'always' (an experiment: how does the server treat an unsafe request in
   * early data? RFC 8470 wants it held or answered 425).
   */
  earlyData?: 'safe' | 'never' | 'always';
  /** The whole exchange, connection included, in ms (default 30 000). */
  timeout?: number;
  /** Largest response body kept (default 16 MiB); beyond it the request fails. */
  maxBody?: number;
}

/** The answer of `fetchH3()`. */
export interface H3FetchResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The request left in 0-RTT packets, before the handshake completed. */
  earlyData: boolean;
  /** The connection resumed an earlier TLS session. */
  resumed: boolean;
}

/** Send one request over HTTP/3 to an https:// URL and read the whole response. */
export async function fetchH3(
  input: string | URL,
  opts: H3FetchOptions = {},
): Promise<H3FetchResponse> {
  const u = parseWsUrl(input);
  if (!u.secure) throw new TypeError('HTTP/3 runs over TLS: use an https:// URL');
  const method = (opts.method ?? 'GET').toUpperCase();
  const fields: Header[] = [
    [':method', method],
    [':scheme', 'https'],
    [':authority', u.authority],
    [':path', u.path],
  ];
  for (const [k, v] of Object.entries(opts.headers ?? {})) fields.push([k.toLowerCase(), v]);
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  const timeout = opts.timeout ?? 30_000;
  const maxBody = opts.maxBody ?? 16 * 1024 * 1024;
  const pooled = pooledConnection(u, {
    ...opts,
    handshakeTimeout: timeout,
  } as H3ClientOptions<unknown>);
  pooled.retain();
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      (async () => {
        const h3 = await pooled.opened;
        const policy = opts.earlyData ?? 'safe';
        if (
          h3.quic.earlyData &&
          (policy === 'never' || (policy === 'safe' && !isReplaySafe(fields)))
        ) {
          await h3.handshakeDone();
        }
        const early = h3.quic.earlyData;
        const s = h3.request(fields, body === undefined);
        if (body !== undefined) s.sendData(body, true);
        return await new Promise<H3FetchResponse>((resolve, reject) => {
          let status = 0;
          let headers: Record<string, string> = {};
          const chunks: Uint8Array[] = [];
          let size = 0;
          s.setSink({
            onHeaders(f, trailers) {
              if (trailers) return;
              const st = Number(f.find(([k]) => k === ':status')?.[1]);
              if (st < 200) return;
              status = st;
              headers = {};
              for (const [k, v] of f)
                if (!k.startsWith(':'))
                  headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
            },
            onData(chunk) {
              size += chunk.length;
              if (size > maxBody) {
                s.reset(H3_REQUEST_CANCELLED);
                reject(new Error(`the response body exceeds ${maxBody} bytes`));
                return;
              }
              chunks.push(chunk);
            },
            onEnd() {
              if (status === 0) reject(new Error('the server ended the stream without a response'));
              else
                resolve({
                  status,
                  headers,
                  body: Buffer.concat(chunks),
                  earlyData: early,
                  resumed: h3.quic.stats().resumed,
                });
            },
            onAbort(err) {
              reject(err);
            },
            onDrain() {},
            onStopped() {
              // the server stopped reading the request: its answer still comes (a 425, a 413)
            },
            onClose() {
              if (status === 0) reject(new Error('the stream closed before a response'));
            },
          });
        });
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no HTTP/3 response within ${timeout} ms`)),
          timeout,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    pooled.release();
  }
}
