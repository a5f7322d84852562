// The fan-out room on `ws`, the way its users write one: every connection is in the room,
// and each message is sent to every client of the server in a loop, the sender included.
// usage: node bench/ws-room.mjs PORT
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] ?? 9702);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const c of wss.clients) c.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => console.log('listening', port));
