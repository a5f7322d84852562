// handleUpgrade(req, socket, head, cb): a node:http 'upgrade' as ws takes it (lib/
// websocket-server.js): ws's checks and answers in ws's order ('wsClientError' when
// someone listens), verifyClient, the 101 written line by line after the 'headers'
// event, then the socket carries an omniws server session.

import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { H1Transport } from '../../h1/transport.js';
import { acceptKey } from '../../h1/upgrade.js';
import type { RequestInfo } from '../../server/handler.js';
import type { SessionRegistry } from '../../server/registry.js';
import { kWebSocket } from './constants.js';
import {
  chooseProtocol,
  type Offer,
  offerOf,
  opened,
  type Refusal,
  refusalBody,
  type ServerCore,
  verify,
} from './server-core.js';
import { handlerOf, type WebSocket } from './websocket.js';

const KEY = /^[+/0-9A-Za-z]{22}==$/;

type UpgradeCallback = (ws: WebSocket, req: IncomingMessage) => void;
type MarkedSocket = Duplex & { [kWebSocket]?: WebSocket };

function socketOnError(this: Duplex): void {
  this.destroy();
}

/** ws's abortHandshake: the status, Connection: close, the message as the body; then the end. */
export function abortHandshake(socket: Duplex, r: Refusal): void {
  const { message, headers } = refusalBody(r);
  socket.once('finish', socket.destroy);
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status]}\r\n${Object.keys(headers)
      .map((h) => `${h}: ${headers[h]}`)
      .join('\r\n')}\r\n\r\n${message}`,
  );
}

/** A refusal ws reports to 'wsClientError' listeners when there are any. */
function refuse(core: ServerCore, req: IncomingMessage, socket: Duplex, r: Refusal): void {
  if (r.clientError && core.listenerCount('wsClientError') > 0) {
    const err = new Error(r.message);
    Error.captureStackTrace(err, refuse);
    core.emit('wsClientError', err, socket, req);
    return;
  }
  abortHandshake(socket, r);
}

/** ws's handleUpgrade. */
export function handleUpgrade(
  core: ServerCore,
  registry: SessionRegistry,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  cb: UpgradeCallback,
): void {
  socket.on('error', socketOnError);
  const key = req.headers['sec-websocket-key'];
  const upgrade = req.headers.upgrade;
  const version = Number(req.headers['sec-websocket-version']);
  let refusal: Refusal | undefined;
  if (req.method !== 'GET') {
    refusal = { status: 405, message: 'Invalid HTTP method', clientError: true };
  } else if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
    refusal = { status: 400, message: 'Invalid Upgrade header', clientError: true };
  } else if (key === undefined || !KEY.test(key)) {
    refusal = {
      status: 400,
      message: 'Missing or invalid Sec-WebSocket-Key header',
      clientError: true,
    };
  } else if (version !== 13 && version !== 8) {
    refusal = {
      status: 400,
      message: 'Missing or invalid Sec-WebSocket-Version header',
      headers: { 'Sec-WebSocket-Version': '13, 8' },
      clientError: true,
    };
  }
  if (refusal) {
    refuse(core, req, socket, refusal);
    return;
  }
  const offer = offerOf(core, req, req.headers);
  if ('status' in offer) {
    refuse(core, req, socket, offer);
    return;
  }
  const s = req.socket as TLSSocket;
  verify(core, req, !!(s.authorized || s.encrypted), version, (r) => {
    if (r) abortHandshake(socket, r);
    else complete(core, registry, offer, key!, req, socket, head, cb);
  });
}

function complete(
  core: ServerCore,
  registry: SessionRegistry,
  offer: Offer,
  key: string,
  req: IncomingMessage,
  socket: MarkedSocket,
  head: Buffer,
  cb: UpgradeCallback,
): void {
  // the client already sent its FIN
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return;
  }
  if (socket[kWebSocket]) {
    throw new Error(
      'server.handleUpgrade() was called more than once with the same socket, possibly due to a misconfiguration',
    );
  }
  if (!core.running) {
    abortHandshake(socket, { status: 503 });
    return;
  }
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(key)}`,
  ];
  const ws = new core.options.WebSocket(null, undefined, core.options);
  const protocol = chooseProtocol(core, offer.protocols, req);
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (offer.deflate) lines.push(`Sec-WebSocket-Extensions: ${offer.deflate.value}`);
  core.emit('headers', lines, req);
  socket.write(lines.concat('\r\n').join('\r\n'));
  socket.removeListener('error', socketOnError);
  socket[kWebSocket] = ws;
  // handleUpgrade takes any duplex, as ws does: what a net.Socket has besides, as no-ops
  const raw = socket as Duplex & Partial<Socket>;
  raw.setNoDelay ??= () => raw as Socket;
  raw.setTimeout ??= () => raw as Socket;
  const secure = (raw as TLSSocket).encrypted === true;
  const info: RequestInfo = {
    http: '1.1',
    method: 'GET',
    path: req.url ?? '/',
    pathname: (req.url ?? '/').split('?')[0]!,
    authority: req.headers.host,
    headers: req.headers,
    secure,
    remoteAddress: req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
  const handler = handlerOf(ws, { afterOpen: () => opened(core, ws, req, cb) });
  // as ws: what came with the request is read from the socket again, after 'connection'
  if (head.length > 0) raw.unshift(head);
  registry.start(
    new H1Transport(raw as Socket, null, secure),
    { ...core.sessionOptions, ...(core.deflate && { perMessageDeflate: core.deflate }) },
    { handler, state: null },
    info,
    {
      path: info.path,
      authority: info.authority,
      origin: req.headers.origin,
      subprotocol: protocol,
      extensions: offer.deflate?.value ?? '',
      offeredSubprotocols: [...offer.protocols],
      offeredExtensions: [],
      ...(offer.deflate && { deflate: offer.deflate.params }),
    },
  );
}
