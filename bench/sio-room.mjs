// The fan-out room on Socket.IO 4 with @socket.io/redis-adapter (sharded pub/sub, Redis 7),
// the way its users scale out: every socket joins 'room', each 'm' event goes to the room
// (the sender included) in every process on the Redis. For bench/scale.ts.
// usage: node bench/sio-room.mjs PORT REDIS_URL
import { createServer } from 'node:http';
import { createClient } from '@redis/client';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 9703);
const url = process.argv[3] ?? 'redis://127.0.0.1:6379';
const pub = createClient({ url });
const sub = pub.duplicate();
pub.on('error', () => {});
sub.on('error', () => {});
await Promise.all([pub.connect(), sub.connect()]);
const http = createServer();
const io = new Server(http, {
  adapter: createShardedAdapter(pub, sub),
  transports: ['websocket'],
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
});
io.on('connection', (socket) => {
  socket.join('room');
  socket.on('m', (data) => io.to('room').emit('m', data));
});
http.listen(port, '127.0.0.1', () => console.log('listening', port));
