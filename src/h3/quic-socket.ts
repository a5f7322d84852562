// The UDP sockets under QUIC: bind one (large buffers when the kernel allows), bind a
// list of hosts to one port, close one without caring whether it still was open.

import dgram from 'node:dgram';
import { isIP } from 'node:net';

/** Socket buffers we ask for (the kernel caps them at net.core.[rw]mem_max). */
const SOCKET_BUFFER = 4 * 1024 * 1024;

export function bindSocket(host: string, port: number): Promise<dgram.Socket> {
  const v6 = isIP(host) === 6;
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.removeListener('error', onError);
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER);
        socket.setSendBufferSize(SOCKET_BUFFER);
      } catch {
        // the defaults then
      }
      resolve(socket);
    });
  });
}

export function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/**
 * Bind every host to one port; with port 0, retry when a later host has that port taken.
 * `tolerant`: skip an address family the machine lacks (no IPv6) while one host binds.
 */
export async function bindAll(
  hosts: readonly string[],
  port: number,
  tolerant: boolean,
): Promise<dgram.Socket[]> {
  for (let attempt = 0; ; attempt++) {
    const sockets: dgram.Socket[] = [];
    try {
      let p = port;
      for (const [i, host] of hosts.entries()) {
        let s: dgram.Socket;
        try {
          s = await bindSocket(host, p);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const missing = code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
          if (tolerant && missing && (sockets.length > 0 || i < hosts.length - 1)) continue;
          throw err;
        }
        sockets.push(s);
        p = s.address().port;
      }
      return sockets;
    } catch (err) {
      await Promise.all(sockets.map(closeSocket));
      if (port !== 0 || attempt >= 8 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw err;
      }
    }
  }
}
