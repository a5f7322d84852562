// attach(): serve WebSockets (and, with `handle`, every request) on a server the
// application already has, whatever its kind: node:http and node:https (HTTP/1.1), or
// node:http2's createServer / createSecureServer (HTTP/2, and HTTP/1.1 with allowHTTP1).

import type http from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import type https from 'node:https';
import type { AttachedServer } from './context.js';
import { attachH1 } from './h1-server.js';
import { attachH2, type H2Options } from './h2-server.js';

/** Any node:http, node:https or node:http2 server: what `attach()` serves on. */
/** Any server of node's own that attach() takes. */
export type AnyNodeServer = http.Server | https.Server | Http2Server | Http2SecureServer;

/** The options of attach(): a server's options and HTTP/2 flow-control settings. */
export type AttachOptions = H2Options;

function isHttp2(server: AnyNodeServer): server is Http2Server | Http2SecureServer {
  // node:http2 servers alone can change the SETTINGS of the sessions they accept
  return typeof (server as Http2Server).updateSettings === 'function';
}

/**
 * Serve on `server` without disturbing its other listeners: what the handler (or the
 * routes) decline goes on to them. `close()` stops serving and closes the WebSockets
 * with 1001; the server itself stays the application's.
 */
export function attach(server: AnyNodeServer, opts: AttachOptions): AttachedServer {
  return isHttp2(server) ? attachH2(server, opts) : attachH1(server, opts);
}
