// A chat room written against ws (github.com/websockets/ws): the page at /, the room at
// /chat; each message goes to everyone in `wss.clients`. The server is node:http2's
// createSecureServer({ allowHTTP1: true }), so the page comes over HTTP/2 or HTTP/1.1.
//
// One line picks the library: the import from 'omniws/ws' (it was 'ws'). With 'ws',
// browsers open their WebSockets over HTTP/1.1 (a second connection); with 'omniws/ws',
// over HTTP/2 on the page's own connection (RFC 8441). ./http3.js adds HTTP/3, which only
// omniws/ws has.

import { readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { WebSocket, WebSocketServer } from 'omniws/ws';

export const page = await readFile(new URL('./index.html', import.meta.url), 'utf8');

/** Start the chat on `port` with the certificate `tls` ({ cert, key }). */
export async function start({ port = 3443, host = '127.0.0.1', tls }) {
  const server = http2.createSecureServer({ allowHTTP1: true, ...tls }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  const wss = new WebSocketServer({ server, path: '/chat' });
  let guests = 0;
  wss.on('connection', (ws, req) => {
    const name = `guest-${++guests}`;
    const welcome = { type: 'welcome', name, http: req.httpVersion, users: wss.clients.size };
    ws.send(JSON.stringify(welcome));
    ws.on('error', (err) => console.error(name, err.message));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const said = JSON.stringify({ type: 'say', from: name, text: data.toString() });
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(said);
      }
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return {
    wss,
    port: server.address().port,
    url: `https://localhost:${server.address().port}/`,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
