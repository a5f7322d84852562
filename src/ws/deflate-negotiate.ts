// permessage-deflate negotiation (RFC 7692 §5, §7.1) as pure functions: parsed
// Sec-WebSocket-Extensions elements in, a response value and the agreed
// parameters out. No zlib here; `deflate.ts` turns the agreed parameters into
// compressors. The server picks the first acceptable offer and declines the
// others; the client checks the one response element against what it offered.

import type { ExtensionOffer } from './headers.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** What one side wants; on a server it shapes the response, on a client the offer. */
export interface DeflateOptions {
  /** Ask for (client) or announce (server) that the server resets its context per message. */
  serverNoContextTakeover?: boolean;
  /** Ask for (server) or announce (client) that the client resets its context per message. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server's compressor, 8–15 (2^n bytes; zlib uses 9 for 8). */
  serverMaxWindowBits?: number;
  /**
   * Client's compressor window, 8–15. Client: a number offers that limit, true (default)
   * offers the parameter without a value ("you may choose"), false omits it. Server: a
   * number limits the client when the client's offer allows it.
   */
  clientMaxWindowBits?: number | boolean;
  /** Messages shorter than this many bytes are sent uncompressed, RSV1 clear (default 1024). */
  threshold?: number;
  /** zlib compression level 0–9 (default 6, zlib's default). */
  level?: number;
  /** zlib memLevel 1–9 for our compressor (default 8; memory ≈ 2^(memLevel+9) bytes). */
  memLevel?: number;
  /** Concurrent zlib jobs per process, shared by every connection with this value (default 10). */
  concurrency?: number;
}

/**
 * The lean preset, for servers holding many mostly idle connections: the server's
 * compressor starts afresh for each message (server_no_context_takeover) and is
 * freed in between, 4 KiB windows both ways (when the client allows limiting its
 * window, as browsers do) and memLevel 4. bench/deflate-memory.ts measures about
 * 50 KiB per idle connection instead of about 255 KiB (defaults, and ws's), for a
 * lower ratio on small server messages. Spread it: `{ ...DEFLATE_LEAN, threshold: 256 }`.
 * Note: Node's bundled (Chromium) zlib keeps a 64 KiB hash table whatever memLevel says.
 */
export const DEFLATE_LEAN: Readonly<DeflateOptions> = Object.freeze({
  serverNoContextTakeover: true,
  serverMaxWindowBits: 12,
  clientMaxWindowBits: 12,
  memLevel: 4,
});

/** The agreed parameters of one connection (window bits 8–15, 15 when not limited). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

// RFC 7692 §7.1.2.1: server_max_window_bits = %x38-39 / %x31 %x30-35 ; 8..15, no leading zero
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

type Parsed = {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** true: present without a value. */
  clientMaxWindowBits: number | true | undefined;
};

/**
 * The parameters of one permessage-deflate element, or a reason it is invalid.
 * RFC 7692 §7.1: an element with an unknown parameter, a repeated parameter or an
 * invalid value is unacceptable (a server declines that offer; a client fails).
 */
export function parseDeflateParams(e: ExtensionOffer): Parsed | string {
  const p: Parsed = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of e.params) {
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // RFC 7692 §7.1.1.1, §7.1.1.2: "This extension parameter has no value."
        if (value !== true) return `${name} takes no value`;
        if (name === 'server_no_context_takeover') p.serverNoContextTakeover = true;
        else p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) return `invalid ${name}`;
        p.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        // RFC 7692 §7.1.2.2: in an offer it "MAY have no value"; the response checks that
        if (value !== true && !WINDOW_BITS.test(value)) return `invalid ${name}`;
        p.clientMaxWindowBits = value === true ? true : Number(value);
        break;
      default:
        return `unknown parameter ${name}`;
    }
  }
  return p;
}

function checkWindowOption(name: string, v: number | boolean | undefined): void {
  if (typeof v === 'number' && !(Number.isInteger(v) && v >= 8 && v <= 15)) {
    throw new RangeError(`${name} must be an integer from 8 to 15, got ${v}`);
  }
}

/** Throws a RangeError for option values out of range (a programming error, not the peer's). */
export function validateDeflateOptions(o: DeflateOptions): void {
  checkWindowOption('serverMaxWindowBits', o.serverMaxWindowBits);
  checkWindowOption('clientMaxWindowBits', o.clientMaxWindowBits);
  if (o.memLevel !== undefined && !(Number.isInteger(o.memLevel) && o.memLevel >= 1)) {
    throw new RangeError('memLevel must be an integer from 1 to 9');
  }
  if (o.memLevel !== undefined && o.memLevel > 9) {
    throw new RangeError('memLevel must be an integer from 1 to 9');
  }
  if (o.level !== undefined && !(Number.isInteger(o.level) && o.level >= -1 && o.level <= 9)) {
    throw new RangeError('level must be an integer from -1 to 9');
  }
  if (o.concurrency !== undefined && !(Number.isInteger(o.concurrency) && o.concurrency >= 1)) {
    throw new RangeError('concurrency must be a positive integer');
  }
  if (o.threshold !== undefined && !(o.threshold >= 0)) {
    throw new RangeError('threshold must be >= 0');
  }
}

/** `true` → {}, false/undefined → null. */
export function deflateOptionsOf(v: boolean | DeflateOptions | undefined): DeflateOptions | null {
  if (v === undefined || v === false) return null;
  return v === true ? {} : v;
}

function format(params: [string, string | true][]): string {
  let s = PERMESSAGE_DEFLATE;
  for (const [k, v] of params) s += v === true ? `; ${k}` : `; ${k}=${v}`;
  return s;
}

// ── server ───────────────────────────────────────────────────────────────────

/**
 * Server side: accept the first acceptable permessage-deflate offer (RFC 7692 §5:
 * offers are in the client's order of preference). Returns the response element
 * and the agreed parameters, or null to decline (no permessage-deflate then).
 * Elements of other extensions are ignored.
 */
export function negotiateDeflateServer(
  offers: readonly ExtensionOffer[],
  opts: DeflateOptions = {},
): { response: string; params: DeflateParams } | null {
  validateDeflateOptions(opts);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const p = parseDeflateParams(offer);
    if (typeof p === 'string') continue; // RFC 7692 §7.1: decline this offer
    const resp: [string, string | true][] = [];
    // RFC 7692 §7.1.1.1: an offer with server_no_context_takeover is accepted only by
    // including it; a server may also include it unasked.
    const serverNoCtx = p.serverNoContextTakeover || opts.serverNoContextTakeover === true;
    if (serverNoCtx) resp.push(['server_no_context_takeover', true]);
    // RFC 7692 §7.1.1.2: a server MAY include client_no_context_takeover, offered or not.
    const clientNoCtx = p.clientNoContextTakeover || opts.clientNoContextTakeover === true;
    if (clientNoCtx) resp.push(['client_no_context_takeover', true]);
    // RFC 7692 §7.1.2.1: accepted "by including the server_max_window_bits extension
    // parameter … with the same or smaller value as the offer"; without it in the offer
    // the response MAY include it.
    let serverBits = 15;
    const ownServer = opts.serverMaxWindowBits;
    if (p.serverMaxWindowBits !== undefined) {
      serverBits = Math.min(p.serverMaxWindowBits, ownServer ?? 15);
      resp.push(['server_max_window_bits', String(serverBits)]);
    } else if (ownServer !== undefined && ownServer < 15) {
      serverBits = ownServer;
      resp.push(['server_max_window_bits', String(serverBits)]);
    }
    // RFC 7692 §7.1.2.2: without client_max_window_bits in the offer the response
    // "MUST NOT include" it; with it, the server may limit the client's window.
    let clientBits = 15;
    if (p.clientMaxWindowBits !== undefined) {
      const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
      const own = typeof opts.clientMaxWindowBits === 'number' ? opts.clientMaxWindowBits : 15;
      clientBits = Math.min(offered, own);
      if (clientBits < 15 || p.clientMaxWindowBits !== true) {
        resp.push(['client_max_window_bits', String(clientBits)]);
      }
    }
    return {
      response: format(resp),
      params: {
        serverNoContextTakeover: serverNoCtx,
        clientNoContextTakeover: clientNoCtx,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
    };
  }
  return null;
}

// ── client ───────────────────────────────────────────────────────────────────

/** Client side: the Sec-WebSocket-Extensions value to offer. */
export function buildDeflateOffer(opts: DeflateOptions = {}): string {
  validateDeflateOptions(opts);
  const params: [string, string | true][] = [];
  if (opts.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (opts.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (opts.serverMaxWindowBits !== undefined) {
    params.push(['server_max_window_bits', String(opts.serverMaxWindowBits)]);
  }
  const c = opts.clientMaxWindowBits ?? true;
  if (c !== false) params.push(['client_max_window_bits', c === true ? true : String(c)]);
  return format(params);
}

/**
 * Client side: check the server's permessage-deflate response elements against
 * what `buildDeflateOffer(opts)` offered. RFC 7692 §5 and §7.1: a client fails the
 * connection on a response that is invalid or that its offer did not allow.
 */
export function acceptDeflateResponse(
  response: readonly ExtensionOffer[],
  opts: DeflateOptions = {},
): DeflateParams | { error: string } {
  const mine = response.filter((e) => e.name === PERMESSAGE_DEFLATE);
  if (mine.length !== 1) {
    return { error: `expected one ${PERMESSAGE_DEFLATE} element, got ${mine.length}` };
  }
  const p = parseDeflateParams(mine[0]!);
  if (typeof p === 'string') return { error: `${PERMESSAGE_DEFLATE}: ${p}` };
  // RFC 7692 §7.1.2.1: the server answers with "the same or smaller value as the offer"
  if (
    opts.serverMaxWindowBits !== undefined &&
    p.serverMaxWindowBits !== undefined &&
    p.serverMaxWindowBits > opts.serverMaxWindowBits
  ) {
    return { error: `${PERMESSAGE_DEFLATE}: server_max_window_bits above the offer` };
  }
  const offeredClient = opts.clientMaxWindowBits ?? true;
  let clientBits = typeof offeredClient === 'number' ? offeredClient : 15;
  if (p.clientMaxWindowBits !== undefined) {
    // RFC 7692 §7.1.2.2: a response with client_max_window_bits when the offer had none
    // fails the connection; in a response it always has a value.
    if (offeredClient === false) {
      return { error: `${PERMESSAGE_DEFLATE}: client_max_window_bits was not offered` };
    }
    if (p.clientMaxWindowBits === true) {
      return { error: `${PERMESSAGE_DEFLATE}: client_max_window_bits without a value` };
    }
    if (p.clientMaxWindowBits > clientBits) {
      return { error: `${PERMESSAGE_DEFLATE}: client_max_window_bits above the offer` };
    }
    clientBits = p.clientMaxWindowBits;
  }
  return {
    serverNoContextTakeover: p.serverNoContextTakeover,
    // RFC 7692 §7.1.1.2: offering it is a promise not to take over, answered or not
    clientNoContextTakeover: p.clientNoContextTakeover || opts.clientNoContextTakeover === true,
    serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: clientBits,
  };
}
