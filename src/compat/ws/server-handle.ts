// A WebSocketServer as an omniws request handler (`wss.handle`): what serves its upgrades
// over HTTP/2 and HTTP/3 (extended CONNECT), and over any version when it is given to
// `serve()` or `attach()`. The same decisions as handleUpgrade (./server-core.ts), made
// on omniws's Request; a refusal is an HTTP answer, an acceptance a `websocket()` answer
// whose session drives a ws socket. `request` is an IncomingMessage built from the
// Request (./request.ts); 'wsClientError' is HTTP/1.1's handleUpgrade's alone.

import type { IncomingMessage } from 'node:http';
import { acceptKey } from '../../h1/upgrade.js';
import {
  buffered,
  type Request,
  type Response,
  type ResponseHeaders,
  websocket,
} from '../../server/handler.js';
import { pushedHeaders, requestMessage } from './request.js';
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

type Answer = Response | undefined;

function single(v: string | readonly string[] | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(', ');
}

/** A refusal as an HTTP answer: its status, the message as a text/html body, its headers. */
function refusalAnswer(r: Refusal): Response {
  const { message, headers } = refusalBody(r);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const name = k.toLowerCase();
    // node and the HTTP/2 and HTTP/3 framing set these themselves
    if (name === 'connection' || name === 'content-length' || v === undefined) continue;
    fields[name] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return buffered(r.status, fields, message);
}

/** Serve one request: undefined for what is not a WebSocket upgrade. */
export function handleRequest(
  core: ServerCore,
  req: Request,
  cb: (ws: WebSocket, req: IncomingMessage) => void,
): Answer | Promise<Answer> {
  if (!req.upgrade) return undefined;
  if (!core.running) return refusalAnswer({ status: 503 });
  const version = Number(single(req.headers['sec-websocket-version']));
  // RFC 8441 §5 and RFC 9220 §3 keep version 13; ws takes 8 over HTTP/1.1 too
  if (version !== 13 && !(version === 8 && req.http === '1.1')) {
    return refusalAnswer({
      status: 400,
      message: 'Missing or invalid Sec-WebSocket-Version header',
      headers: { 'sec-websocket-version': req.http === '1.1' ? '13, 8' : '13' },
    });
  }
  const nodeReq = requestMessage(req);
  const offer = offerOf(core, nodeReq, req.headers);
  if ('status' in offer) return refusalAnswer(offer);
  let answer: Answer;
  let done = false;
  let settle: ((a: Answer) => void) | undefined;
  verify(core, nodeReq, req.secure, version, (refusal) => {
    const a = refusal ? refusalAnswer(refusal) : accept(core, req, nodeReq, offer, cb);
    done = true;
    if (settle) settle(a);
    else answer = a;
  });
  if (done) return answer;
  return new Promise<Answer>((resolve) => {
    settle = resolve;
  });
}

function accept(
  core: ServerCore,
  req: Request,
  nodeReq: IncomingMessage,
  offer: Offer,
  cb: (ws: WebSocket, req: IncomingMessage) => void,
): Response {
  if (!core.running) return refusalAnswer({ status: 503 });
  const lines =
    req.http === '1.1'
      ? [
          'HTTP/1.1 101 Switching Protocols',
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Accept: ${acceptKey(single(req.headers['sec-websocket-key']) ?? '')}`,
        ]
      : [`HTTP/${req.http} 200 OK`];
  const ws = new core.options.WebSocket(null, undefined, core.options);
  const protocol = chooseProtocol(core, offer.protocols, nodeReq);
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  if (offer.deflate) lines.push(`Sec-WebSocket-Extensions: ${offer.deflate.value}`);
  const ours = lines.length;
  core.emit('headers', lines, nodeReq);
  const handler = handlerOf(ws, { afterOpen: () => opened(core, ws, nodeReq, cb) });
  return websocket(handler, null, {
    ...core.sessionOptions,
    ...(core.deflate && { perMessageDeflate: core.deflate }),
    selectSubprotocol: () => protocol,
    headers: pushedHeaders(lines, ours) as ResponseHeaders,
  });
}
