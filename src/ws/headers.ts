// The header grammar of RFC 6455 shared by every HTTP version: token lists,
// Sec-WebSocket-Protocol (§4.1) and Sec-WebSocket-Extensions (§9.1). Pure functions
// that return null for input that does not follow the grammar; they never throw.

/** The header value as one string ('' when absent; repeated fields joined with ", "). */
export function headerValue(v: string | readonly string[] | undefined): string {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : v.join(', ');
}

/** Case-insensitive check that a comma-separated token list contains `token`. */
export function hasToken(value: string, token: string): boolean {
  const t = token.toLowerCase();
  for (const part of value.split(',')) {
    if (part.trim().toLowerCase() === t) return true;
  }
  return false;
}

// RFC 7230 §3.2.6 tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(s: string): boolean {
  return TOKEN.test(s);
}

/**
 * Parse Sec-WebSocket-Protocol: a list of tokens (RFC 6455 §4.1). Returns null for a
 * malformed list (an empty element or a non-token), the tokens otherwise.
 */
export function parseSubprotocols(value: string): string[] | null {
  if (value.trim() === '') return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const p = part.trim();
    if (!isToken(p)) return null;
    out.push(p);
  }
  return out;
}

/** One extension of a Sec-WebSocket-Extensions value: its name and parameters (RFC 6455 §9.1). */
export interface ExtensionOffer {
  name: string;
  /** Parameters in order; `true` for a parameter without a value. */
  params: [string, string | true][];
}

/**
 * Parse Sec-WebSocket-Extensions (RFC 6455 §9.1):
 *   extension-list = 1#extension; extension = token *( ";" extension-param )
 *   extension-param = token [ "=" (token | quoted-string) ]
 * Returns null when the value does not follow the grammar.
 */
export function parseExtensions(value: string): ExtensionOffer[] | null {
  const out: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const ws = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const token = (): string | null => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(value[i]!)) i++;
    return i > start ? value.slice(start, i) : null;
  };
  ws();
  if (i === n) return [];
  for (;;) {
    ws();
    const name = token();
    if (name === null) return null;
    const offer: ExtensionOffer = { name, params: [] };
    ws();
    while (value[i] === ';') {
      i++;
      ws();
      const pname = token();
      if (pname === null) return null;
      ws();
      let pvalue: string | true = true;
      if (value[i] === '=') {
        i++;
        ws();
        if (value[i] === '"') {
          i++;
          let s = '';
          while (i < n && value[i] !== '"') {
            if (value[i] === '\\') i++;
            if (i < n) s += value[i++];
          }
          if (value[i] !== '"') return null;
          i++;
          // RFC 6455 §9.1: a quoted value must still be a token once unquoted
          if (!isToken(s)) return null;
          pvalue = s;
        } else {
          const t = token();
          if (t === null) return null;
          pvalue = t;
        }
        ws();
      }
      offer.params.push([pname, pvalue]);
    }
    out.push(offer);
    ws();
    if (i === n) return out;
    if (value[i] !== ',') return null;
    i++;
  }
}

/** Write an ExtensionOffer back as Sec-WebSocket-Extensions text. */
export function formatExtension(e: ExtensionOffer): string {
  let s = e.name;
  for (const [k, v] of e.params) s += v === true ? `; ${k}` : `; ${k}=${v}`;
  return s;
}
