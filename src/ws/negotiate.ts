// Header-level negotiation shared by every HTTP version: token lists, the
// Sec-WebSocket-Protocol choice, the Sec-WebSocket-Extensions grammar
// (RFC 6455 §9.1), the origin hook. Pure functions; they never throw on bad input
// from the peer (they return undefined/null instead) and never write anything.

import {
  type DeflateOptions,
  type DeflateParams,
  deflateOptionsOf,
  negotiateDeflateServer,
  PERMESSAGE_DEFLATE,
} from './deflate-negotiate.js';
import { type ExtensionOffer, headerValue, parseExtensions, parseSubprotocols } from './headers.js';

/** Options a server route gives for negotiation, on any HTTP version. */
export interface NegotiationOptions {
  /** Subprotocols the server speaks, in its order of preference. */
  subprotocols?: readonly string[];
  /** Custom choice; return undefined to choose none. Overrides `subprotocols`. */
  selectSubprotocol?: (offered: readonly string[]) => string | undefined;
  /** Origin policy: false → 403. Called with undefined when the request has no Origin. */
  checkOrigin?: (origin: string | undefined) => boolean;
  /**
   * Extension negotiation: gets the parsed offers, returns the accepted extensions'
   * response value ('' or undefined for none). Throwing rejects the handshake (400).
   */
  negotiateExtensions?: (offers: readonly ExtensionOffer[]) => string | undefined;
  /**
   * permessage-deflate (RFC 7692): true or options to accept it when offered (default off).
   * `negotiateExtensions`, if any, then sees only the other extensions' offers.
   */
  perMessageDeflate?: boolean | DeflateOptions;
}

/** The server's choice among the offered subprotocols (server preference order). */
export function selectSubprotocol(
  offered: readonly string[],
  opts: NegotiationOptions,
): string | undefined {
  if (offered.length === 0) return undefined;
  if (opts.selectSubprotocol) {
    const chosen = opts.selectSubprotocol(offered);
    // a choice the client did not offer would make the client fail the connection
    return chosen !== undefined && offered.includes(chosen) ? chosen : undefined;
  }
  for (const s of opts.subprotocols ?? []) if (offered.includes(s)) return s;
  return undefined;
}

/** Headers as node:http gives them: lower-case names, repeated fields as arrays. */
export type RawHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * What an accepted upgrade agreed: path, authority, origin, subprotocol, extensions, and what was
 * offered.
 */
export interface UpgradeInfo {
  path: string;
  authority: string | undefined;
  origin: string | undefined;
  subprotocol: string | undefined;
  /** Accepted extensions as sent in the response ('' for none). */
  extensions: string;
  offeredSubprotocols: readonly string[];
  offeredExtensions: readonly ExtensionOffer[];
  /** The agreed permessage-deflate parameters, when it was accepted. */
  deflate?: DeflateParams;
}

/**
 * A server's verdict on an upgrade request: accepted with response headers, or a status and an
 * error.
 */
export type UpgradeResult =
  | { ok: true; info: UpgradeInfo; responseHeaders: Record<string, string> }
  | { ok: false; status: number; error: string; headers?: Record<string, string> };

export function reject(
  status: number,
  error: string,
  headers?: Record<string, string>,
): UpgradeResult & { ok: false } {
  return headers ? { ok: false, status, error, headers } : { ok: false, status, error };
}

/**
 * What every HTTP version checks the same way: origin, subprotocol, extensions.
 * Used by the h1 validator and by the shared extended-CONNECT validator (h2, h3).
 */
export function negotiateCommon(
  h: RawHeaders,
  opts: NegotiationOptions,
):
  | {
      ok: true;
      info: Omit<UpgradeInfo, 'path' | 'authority'>;
      responseHeaders: Record<string, string>;
    }
  | (UpgradeResult & { ok: false }) {
  const originValue = h.origin === undefined ? undefined : headerValue(h.origin);
  if (opts.checkOrigin) {
    let allowed = false;
    try {
      allowed = opts.checkOrigin(originValue);
    } catch {
      allowed = false;
    }
    if (!allowed) return reject(403, `origin ${originValue ?? '(none)'} is not allowed`);
  }
  const offered = parseSubprotocols(headerValue(h['sec-websocket-protocol']));
  if (offered === null) return reject(400, 'malformed Sec-WebSocket-Protocol');
  let subprotocol: string | undefined;
  try {
    subprotocol = selectSubprotocol(offered, opts);
  } catch (err) {
    return reject(500, `subprotocol selection failed: ${(err as Error).message}`);
  }
  const offers = parseExtensions(headerValue(h['sec-websocket-extensions']));
  if (offers === null) return reject(400, 'malformed Sec-WebSocket-Extensions');
  let extensions = '';
  let deflate: DeflateParams | undefined;
  let others = offers;
  const pmd = deflateOptionsOf(opts.perMessageDeflate);
  if (pmd && offers.length > 0) {
    const d = negotiateDeflateServer(offers, pmd);
    if (d) {
      extensions = d.response;
      deflate = d.params;
    }
    others = offers.filter((o) => o.name !== PERMESSAGE_DEFLATE);
  }
  if (opts.negotiateExtensions && others.length > 0) {
    try {
      const more = opts.negotiateExtensions(others) ?? '';
      if (more !== '') extensions = extensions === '' ? more : `${extensions}, ${more}`;
    } catch (err) {
      return reject(400, `extension negotiation failed: ${(err as Error).message}`);
    }
  }
  const responseHeaders: Record<string, string> = {};
  // RFC 6455 §4.2.2: no subprotocol chosen → the header is omitted
  if (subprotocol !== undefined) responseHeaders['sec-websocket-protocol'] = subprotocol;
  if (extensions !== '') responseHeaders['sec-websocket-extensions'] = extensions;
  return {
    ok: true,
    info: {
      origin: originValue,
      subprotocol,
      extensions,
      offeredSubprotocols: offered,
      offeredExtensions: offers,
      ...(deflate !== undefined && { deflate }),
    },
    responseHeaders,
  };
}

/**
 * What a client checks the server's answer against: the subprotocols offered, an extensions
 * acceptor.
 */
export interface ResponseCheckOptions {
  subprotocols?: readonly string[];
  /** Accept the server's extensions value; return false (or throw) to fail. Default: accept none. */
  acceptExtensions?: (response: readonly ExtensionOffer[]) => boolean;
}

/** The verdict on a server's answer: the agreed subprotocol and extensions, or why it fails. */
export type ResponseResult =
  | { ok: true; subprotocol: string | undefined; extensions: string }
  | { ok: false; error: string };

/** The part of the client's response checks that every HTTP version shares. */
export function validateNegotiatedResponse(
  headers: RawHeaders,
  opts: ResponseCheckOptions,
): ResponseResult {
  const proto = headers['sec-websocket-protocol'];
  let subprotocol: string | undefined;
  if (proto !== undefined) {
    const p = headerValue(proto).trim();
    // RFC 6455 §4.1: a subprotocol "that was not present in the client's handshake" fails
    if (!(opts.subprotocols ?? []).includes(p)) {
      return { ok: false, error: `server chose subprotocol "${p}" that was not offered` };
    }
    subprotocol = p;
  }
  const extValue = headerValue(headers['sec-websocket-extensions']).trim();
  if (extValue !== '') {
    const parsed = parseExtensions(extValue);
    if (parsed === null) return { ok: false, error: 'malformed Sec-WebSocket-Extensions' };
    let accepted = false;
    try {
      accepted = opts.acceptExtensions ? opts.acceptExtensions(parsed) : false;
    } catch {
      accepted = false;
    }
    if (!accepted) {
      return { ok: false, error: `server accepted extensions that were not offered: ${extValue}` };
    }
  }
  return { ok: true, subprotocol, extensions: extValue };
}
