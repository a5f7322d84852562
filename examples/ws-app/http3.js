// The chat of ./server.js over HTTP/3 as well (RFC 9220): omniws/ws only. Its
// WebSocketServer is a request handler too (`wss.handle`); omniws's serve() runs it on
// UDP with the TCP server's port number, next to the page.
//   node examples/ws-app/http3.js      (certificates from omniws/dev, a throwaway CA)
// A browser finds HTTP/3 through Alt-Svc; Chromium can be told to use QUIC at once with
// --origin-to-force-quic-on=localhost:<port> (and --enable-features=EnableWebsocketsOverHttp3).

import { fileURLToPath } from 'node:url';
import { buffered, serve } from 'omniws';
import { page, start } from './server.js';

export async function startEverywhere({ port = 3443, host = '127.0.0.1', tls }) {
  const chat = await start({ port, host, tls });
  const h3 = await serve({
    port: chat.port,
    host,
    tls,
    http: [3],
    handle: (req) =>
      chat.wss.handle(req) ?? buffered(200, { 'content-type': 'text/html; charset=utf-8' }, page),
  });
  return {
    ...chat,
    async close() {
      await h3.close();
      await chat.close();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { readFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { ensureCerts } = await import('omniws/dev');
  const certs = await ensureCerts(join(tmpdir(), 'omniws-ws-app'));
  const tls = { cert: await readFile(certs.cert), key: await readFile(certs.key) };
  const { url } = await startEverywhere({ tls });
  console.log(`chat on ${url} (HTTP/1.1, HTTP/2 and HTTP/3); the CA is ${certs.ca}`);
}
