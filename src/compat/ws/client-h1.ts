// A client's HTTP/1.1 handshake the way ws makes it (lib/websocket.js initAsClient): every
// http.request / https.request option, ws+unix: sockets, userinfo as Basic auth, redirects
// with ws's rules for which headers survive them, the 'upgrade', 'redirect' and
// 'unexpected-response' events, and ws's checks of the 101 with ws's messages. The socket
// of an accepted 101 then carries an omniws client session.

import { randomBytes } from 'node:crypto';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import querystring from 'node:querystring';
import tls from 'node:tls';
import { clientSession } from '../../h1/client.js';
import { H1Transport } from '../../h1/transport.js';
import { acceptKey } from '../../h1/upgrade.js';
import { type ClientExtensions, clientExtensions } from '../../ws/deflate.js';
import { parseExtensions } from '../../ws/headers.js';
import { CONNECTING } from './constants.js';
import type { ClientHost } from './internal.js';
import { type ClientOptions, deflateOptionsOf, sessionOptionsOf } from './options.js';
import { parseTarget } from './url.js';

const kAborted = Symbol('omniws.ws.aborted');
type Req = ClientRequest & { [kAborted]?: boolean };

/** What a chain of redirects remembers of its first request. */
interface Chain {
  redirects: number;
  ipc: boolean;
  secure: boolean;
  hostOrSocketPath: string | undefined;
  /** The options, with header names in lower case once redirects are followed. */
  options: ClientOptions;
}

function netConnect(options: any): Socket {
  options.path = options.socketPath;
  return net.connect(options);
}

function tlsConnect(options: any): Socket {
  options.path = undefined;
  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host) ? '' : options.host;
  }
  return tls.connect(options);
}

/** The ws option names that are not http.request's. */
const OURS = [
  'protocols',
  'handshakeTimeout',
  'perMessageDeflate',
  'followRedirects',
  'maxRedirects',
  'origin',
  'protocolVersion',
  'finishRequest',
  'maxPayload',
  'closeTimeout',
  'http',
];

/** Start (or, after a redirect, restart) the HTTP/1.1 handshake of `host`. */
export function openH1(
  host: ClientHost,
  url: URL,
  protocols: readonly string[],
  options: ClientOptions,
  chain?: Chain,
): void {
  const ws = host.ws;
  const c: Chain = chain ?? {
    redirects: 0,
    ipc: false,
    secure: false,
    hostOrSocketPath: undefined,
    options,
  };
  options = c.options;
  const version = options.protocolVersion ?? 13;
  const followRedirects = options.followRedirects ?? false;
  const opts: Record<string, any> = { ...options };
  for (const k of OURS) delete opts[k];
  // an omniws Agent pools HTTP/2 and HTTP/3 connections: node:http takes only its own
  if (opts.agent !== undefined && opts.agent !== false && !(opts.agent instanceof http.Agent)) {
    delete opts.agent;
  }
  Object.assign(opts, { socketPath: undefined, hostname: undefined, method: 'GET' });
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  const key = randomBytes(16).toString('base64');
  const pmd = options.perMessageDeflate ?? true;
  let ext: ClientExtensions | undefined;
  opts.createConnection ??= secure ? tlsConnect : netConnect;
  opts.defaultPort ??= secure ? 443 : 80;
  opts.port = url.port || opts.defaultPort;
  opts.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  opts.headers = {
    ...opts.headers,
    'Sec-WebSocket-Version': version,
    'Sec-WebSocket-Key': key,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
  };
  opts.path = url.pathname + url.search;
  opts.timeout = options.handshakeTimeout;
  if (pmd) {
    ext = clientExtensions({ perMessageDeflate: deflateOptionsOf(pmd) });
    opts.headers['Sec-WebSocket-Extensions'] = ext.offer;
  }
  if (protocols.length) opts.headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  if (options.origin) {
    opts.headers[version < 13 ? 'Sec-WebSocket-Origin' : 'Origin'] = options.origin;
  }
  if (url.username || url.password) {
    opts.auth = `${querystring.unescape(url.username)}:${querystring.unescape(url.password)}`;
  }
  if (ipc) {
    const i = opts.path.indexOf(':');
    if (i === -1) {
      opts.socketPath = opts.path;
      opts.path = '';
    } else {
      opts.socketPath = opts.path.slice(0, i);
      opts.path = opts.path.slice(i + 1);
    }
  }

  const request = secure ? https.request : http.request;
  let req: Req | null;
  if (followRedirects) {
    if (c.redirects === 0) {
      c.ipc = ipc;
      c.secure = secure;
      c.hostOrSocketPath = ipc ? opts.socketPath : url.host;
      // header names in lower case from here on, so that a redirect can drop them
      const headers = options.headers;
      c.options = options = { ...options, headers: {} };
      for (const [k, v] of Object.entries(headers ?? {})) options.headers![k.toLowerCase()] = v;
    } else if (ws.listenerCount('redirect') === 0) {
      const sameHost = ipc
        ? c.ipc && opts.socketPath === c.hostOrSocketPath
        : !c.ipc && url.host === c.hostOrSocketPath;
      // curl 7.77's rule, as ws: credentials do not follow to another host or to plain text
      if (!sameHost || (c.secure && !secure)) {
        delete opts.headers.authorization;
        delete opts.headers.cookie;
        if (!sameHost) delete opts.headers.host;
        opts.auth = undefined;
      }
    }
    if (opts.auth && !options.headers!.authorization) {
      options.headers!.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    }
    req = request(opts);
    if (c.redirects) ws.emit('redirect', (ws as unknown as { url: string }).url, req);
  } else {
    req = request(opts);
  }

  const abortWith = (message: string, target: Req | Socket) => {
    host.closing();
    if ('setHeader' in target) {
      target[kAborted] = true;
      target.destroy();
      if (target.socket && !target.socket.destroyed) target.socket.destroy();
    } else {
      target.destroy();
    }
    process.nextTick(() => host.fail(new Error(message)));
  };
  const current = req;
  host.onAbort(() => {
    current[kAborted] = true;
    current.destroy();
    if (current.socket && !current.socket.destroyed) current.socket.destroy();
  });

  if (opts.timeout) {
    req.on('timeout', () => abortWith('Opening handshake has timed out', current));
  }
  req.on('error', (err) => {
    if (req === null || req[kAborted]) return;
    req = null;
    host.fail(err);
  });
  req.on('response', (res: IncomingMessage) => {
    const location = res.headers.location;
    const status = res.statusCode ?? 0;
    if (location && followRedirects && status >= 300 && status < 400) {
      if (++c.redirects > (options.maxRedirects ?? 10)) {
        abortWith('Maximum redirects exceeded', current);
        return;
      }
      current[kAborted] = true;
      current.destroy();
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        host.fail(new SyntaxError(`Invalid URL: ${location}`));
        return;
      }
      const target = parseTarget(next);
      host.setUrl(target.url.href);
      if (target.error) {
        host.fail(target.error);
        return;
      }
      openH1(host, target.url, protocols, options, c);
    } else if (!ws.emit('unexpected-response', current, res)) {
      abortWith(`Unexpected server response: ${res.statusCode}`, current);
    }
  });
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    ws.emit('upgrade', res);
    // the application may have closed from a listener of 'upgrade'
    if (ws.readyState !== CONNECTING) {
      socket.destroy();
      return;
    }
    req = null;
    const problem = checkResponse(res, key, protocols, ext);
    if (problem !== undefined) {
      abortWith(problem, socket);
      return;
    }
    startSession(host, options, ext, res, socket, head, url, opts.headers);
  });
  if (options.finishRequest) options.finishRequest(req, ws);
  else req.end();
}

/** ws's checks of a 101, in ws's order; the message of the first that fails. */
function checkResponse(
  res: IncomingMessage,
  key: string,
  protocols: readonly string[],
  ext: ClientExtensions | undefined,
): string | undefined {
  const upgrade = res.headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== 'websocket') {
    return 'Invalid Upgrade header';
  }
  if (res.headers['sec-websocket-accept'] !== acceptKey(key)) {
    return 'Invalid Sec-WebSocket-Accept header';
  }
  const serverProt = res.headers['sec-websocket-protocol'];
  if (serverProt !== undefined) {
    if (protocols.length === 0) return 'Server sent a subprotocol but none was requested';
    if (!protocols.includes(serverProt)) return 'Server sent an invalid subprotocol';
  } else if (protocols.length > 0) {
    return 'Server sent no subprotocol';
  }
  const value = res.headers['sec-websocket-extensions'];
  if (value === undefined) return undefined;
  if (ext === undefined) {
    return 'Server sent a Sec-WebSocket-Extensions header but no extension was requested';
  }
  const parsed = parseExtensions(value);
  if (parsed === null) return 'Invalid Sec-WebSocket-Extensions header';
  const names = new Set(parsed.map((e) => e.name));
  if (names.size !== 1 || !names.has('permessage-deflate')) {
    return 'Server indicated an extension that was not requested';
  }
  return ext.accept(parsed) ? undefined : 'Invalid Sec-WebSocket-Extensions header';
}

/** The accepted 101: an omniws client session on its socket. */
function startSession(
  host: ClientHost,
  options: ClientOptions,
  ext: ClientExtensions | undefined,
  res: IncomingMessage,
  socket: Socket,
  head: Buffer,
  url: URL,
  sent: Record<string, unknown>,
): void {
  const secure = url.protocol === 'wss:';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(sent)) headers[k.toLowerCase()] = String(v);
  const resHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) resHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const none = clientExtensions({});
  // as ws: what came with the 101 is read from the socket again, after 'open'
  if (head.length > 0) socket.unshift(head);
  const session = clientSession(
    { handler: host.handler(), state: null, ...sessionOptionsOf(options) },
    ext ?? none,
    new H1Transport(socket, null, secure),
    {
      http: '1.1',
      secure,
      method: 'GET',
      path: url.pathname + url.search,
      authority: url.host,
      headers,
      subprotocol: res.headers['sec-websocket-protocol'],
      extensions: res.headers['sec-websocket-extensions'] ?? '',
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      response: { status: 101, headers: resHeaders },
    },
  );
  session.start();
}
