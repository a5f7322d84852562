// Autobahn|Testsuite groups 12 and 13 (permessage-deflate), as data. Each case agrees
// permessage-deflate, then makes `count` round trips of one message (Autobahn sends
// 1000), compressed by the peer in frames of the auto-fragment size, and checks the
// inflated echo byte for byte; the implementation runs with threshold 0 so every echo
// is compressed and inflated by the peer's own codec under the agreed parameters.
//
//   12.1–12.5: the default offer, five kinds of payload (Autobahn uses a JSON file, a
//              bitmap, German prose, an HTML page and a PDF; these are generated
//              stand-ins with the same character: ASCII structure, long runs, multi-byte
//              UTF-8, markup, incompressible bytes), 18 rows of size × fragmentation.
//   13.1–13.7: parameter combinations over the same 18 rows: context takeover or
//              not per direction, window bits 9 (Autobahn's 8, which zlib runs as 9) and
//              15, and a list of offers of which the first must be taken.
//
// With a server under test the peer offers the parameters and the server's own options
// name the client_* ones it answers with; with a client under test the client's options
// make the offer and the peer answers with the same parameters.

import type { Case } from './cases.js';
import { type DeflateResponse, renderResponse } from './deflate.js';
import type { ImplOptions } from './peer.js';

/** Autobahn's rows: [payload size, auto-fragment size (0: none)]. */
const ROWS: readonly (readonly [number, number])[] = [
  [16, 0],
  [64, 0],
  [256, 0],
  [1024, 0],
  [4096, 0],
  [8192, 0],
  [16384, 0],
  [32768, 0],
  [65536, 0],
  [131072, 0],
  [8192, 256],
  [16384, 256],
  [32768, 256],
  [65536, 256],
  [131072, 256],
  [131072, 1024],
  [131072, 4096],
  [131072, 32768],
];

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
}

/** UTF-8 text of exactly `n` bytes: pieces appended, the last cut at a character boundary. */
function textOf(n: number, piece: (i: number) => string): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const b = Buffer.from(piece(i), 'utf8');
    parts.push(b);
    len += b.length;
  }
  const all = Buffer.concat(parts);
  let cut = n;
  while (cut > 0 && (all[cut]! & 0xc0) === 0x80) cut--;
  const out = Buffer.alloc(n, 0x20);
  all.copy(out, 0, 0, cut);
  return out;
}

const WORDS =
  'Habe nun, ach! Philosophie, Juristerei und Medizin, und leider auch Theologie durchaus studiert, mit heißem Bemühn. Da steh ich nun, ich armer Tor! Und bin so klug als wie zuvor; heiße Magister, heiße Doktor gar, und ziehe schon an die zehen Jahr herauf, herab und quer und krumm meine Schüler an der Nase herum – und sehe, daß wir nichts wissen können!'.split(
    ' ',
  );

const KINDS: readonly { name: string; binary: boolean; make(n: number): Buffer }[] = [
  {
    name: 'JSON text (utf8)',
    binary: false,
    make: (n) => {
      const r = lcg(1);
      return textOf(
        n,
        (i) =>
          `{"id":${i},"name":"user-${r() % 1000}","active":${r() % 2 === 0},"tags":["a${r() % 7}","b${r() % 5}"],"score":${(r() % 10000) / 100}},`,
      );
    },
  },
  {
    name: 'bitmap (binary)',
    binary: true,
    make: (n) => {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) {
        const x = i % 512;
        const y = Math.floor(i / 512);
        out[i] = ((x >> 4) ^ (y >> 4)) & 1 ? 0xff : (x * y) & 0x0f;
      }
      return out;
    },
  },
  {
    name: 'German prose (utf8, multi-byte)',
    binary: false,
    make: (n) => {
      const r = lcg(3);
      return textOf(n, () => `${WORDS[r() % WORDS.length]} `);
    },
  },
  {
    name: 'HTML (utf8)',
    binary: false,
    make: (n) => {
      const r = lcg(4);
      return textOf(
        n,
        (i) =>
          `<div class="row r${i % 3}"><a href="/item/${r() % 5000}">Item ${i}</a><span>${r() % 100}</span></div>\n`,
      );
    },
  },
  {
    name: 'random bytes (binary, incompressible)',
    binary: true,
    make: (n) => {
      const r = lcg(5);
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i++) out[i] = r() & 0xff;
      return out;
    },
  },
];

export interface DeflateTableOptions {
  /** Round trips per case (Autobahn: 1000). */
  count: number;
}

const normal = { byPeer: true, codes: [1000], clean: true };

function rows(
  group: string,
  what: string,
  kind: (typeof KINDS)[number],
  count: number,
  impl: { server: ImplOptions; client: ImplOptions },
  expect: Partial<DeflateResponse>,
): { server: Case[]; client: Case[] } {
  const server: Case[] = [];
  const client: Case[] = [];
  ROWS.forEach(([size, frag], i) => {
    const data = kind.make(size);
    const base = {
      id: `${group}.${i + 1}`,
      description: `${what}: ${count} ${kind.name} messages of ${size} bytes${frag > 0 ? `, auto-fragmented to ${frag}` : ''}, compressed, echoed.`,
      steps: [
        { deflateLoop: { count, data, binary: kind.binary, fragmentSize: frag } },
      ] as Case['steps'],
      ok: [],
      close: normal,
      deflate: { expect },
      timeout: 20_000,
    };
    server.push({ ...base, impl: impl.server });
    client.push({ ...base, impl: impl.client });
  });
  return { server, client };
}

/** 13.x parameter sets: what the client asks and the server grants. */
interface Params {
  snct?: boolean;
  cnct?: boolean;
  smwb?: number;
  cmwb?: number;
}

function offerOf(p: Params): string {
  const parts = ['permessage-deflate'];
  if (p.snct) parts.push('server_no_context_takeover');
  if (p.cnct) parts.push('client_no_context_takeover');
  if (p.smwb !== undefined) parts.push(`server_max_window_bits=${p.smwb}`);
  // a bare client_max_window_bits lets the server limit the client's window
  parts.push('client_max_window_bits');
  return parts.join('; ');
}

function expectOf(p: Params): Partial<DeflateResponse> {
  return {
    serverNoContextTakeover: p.snct ?? false,
    clientNoContextTakeover: p.cnct ?? false,
    serverMaxWindowBits: p.smwb ?? 15,
    clientMaxWindowBits: p.cmwb ?? 15,
  };
}

function implFor(
  p: Params,
  offers: readonly Params[],
): { server: ImplOptions; client: ImplOptions } {
  const zero = { threshold: 0 };
  return {
    // the server is asked for server_*; it imposes client_* from its own options
    server: {
      perMessageDeflate: {
        ...zero,
        ...(p.cnct && { clientNoContextTakeover: true }),
        ...(p.cmwb !== undefined && { clientMaxWindowBits: p.cmwb }),
      },
      peerExtensions: offers.map(offerOf).join(', '),
    },
    // the client offers all of it; the peer grants it
    client: {
      perMessageDeflate: {
        ...zero,
        ...(p.snct && { serverNoContextTakeover: true }),
        ...(p.cnct && { clientNoContextTakeover: true }),
        ...(p.smwb !== undefined && { serverMaxWindowBits: p.smwb }),
        ...(p.cmwb !== undefined && { clientMaxWindowBits: p.cmwb }),
      },
      peerExtensions: renderResponse({
        ...(p.snct && { serverNoContextTakeover: true }),
        ...(p.cnct && { clientNoContextTakeover: true }),
        ...(p.smwb !== undefined && { serverMaxWindowBits: p.smwb }),
        ...(p.cmwb !== undefined && { clientMaxWindowBits: p.cmwb }),
      }),
    },
  };
}

const SETS_13: readonly { what: string; offers: readonly Params[] }[] = [
  { what: 'default parameters', offers: [{}] },
  { what: 'no context takeover, both directions', offers: [{ snct: true, cnct: true }] },
  { what: 'window bits 9 both ways', offers: [{ smwb: 9, cmwb: 9 }] },
  { what: 'window bits 15 both ways', offers: [{ smwb: 15, cmwb: 15 }] },
  {
    what: 'no context takeover and window bits 9',
    offers: [{ snct: true, cnct: true, smwb: 9, cmwb: 9 }],
  },
  {
    what: 'no context takeover and window bits 15',
    offers: [{ snct: true, cnct: true, smwb: 15, cmwb: 15 }],
  },
  {
    what: 'three offers, the first taken',
    offers: [{ snct: true, smwb: 9, cmwb: 9 }, { snct: true }, {}],
  },
];

/** Groups 12 and 13 for a server under test (`server`) and a client under test (`client`). */
export function deflateCaseTable(opts: DeflateTableOptions): {
  server: Map<number, Case[]>;
  client: Map<number, Case[]>;
} {
  const s12: Case[] = [];
  const c12: Case[] = [];
  KINDS.forEach((kind, k) => {
    const impl = implFor({}, [{}]);
    const r = rows(`12.${k + 1}`, 'default offer', kind, opts.count, impl, expectOf({}));
    s12.push(...r.server);
    c12.push(...r.client);
  });
  const s13: Case[] = [];
  const c13: Case[] = [];
  SETS_13.forEach((set, k) => {
    const p = set.offers[0]!;
    // the payload of 13.x: Autobahn sends text; the JSON kind is text with structure
    const r = rows(
      `13.${k + 1}`,
      set.what,
      KINDS[0]!,
      opts.count,
      implFor(p, set.offers),
      expectOf(p),
    );
    s13.push(...r.server);
    // a client offers one element: 13.7's list of offers is a server-side case
    if (set.offers.length === 1) c13.push(...r.client);
  });
  return {
    server: new Map([
      [12, s12],
      [13, s13],
    ]),
    client: new Map([
      [12, c12],
      [13, c13],
    ]),
  };
}
