// Fuzzing the extended-CONNECT validators (src/ws/extended-connect.ts,
// src/h2/upgrade.ts, src/h3/upgrade.ts) with random header maps and field lists:
// pseudo-headers present, missing, repeated, garbled or out of order, the WebSocket
// fields good or junk, random negotiation options and hooks that throw. Only the result
// union comes back, never a throw: a refusal is a documented status with string headers
// (docs/errors.md); an acceptance has a CONNECT with :protocol websocket, a path that
// starts with '/', and only a subprotocol that was offered.

import test from 'ava';
import fc from 'fast-check';
import { validateH2Request } from '../../src/h2/upgrade.js';
import type { Header } from '../../src/h3/qpack.js';
import { validateH3Request } from '../../src/h3/upgrade.js';
import { isConnectionSpecific, validateExtendedConnect } from '../../src/ws/extended-connect.js';
import type { NegotiationOptions, UpgradeResult } from '../../src/ws/negotiate.js';
import { runs } from './gen.js';

const STATUSES = new Set([400, 403, 405, 500, 501]);

const junk = fc.string({ unit: 'binary', maxLength: 40 });
const good = <T extends string>(...v: T[]) =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...v) }, { weight: 1, arbitrary: junk });
const field = (g: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 5, arbitrary: g },
    { weight: 1, arbitrary: fc.array(g, { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const known = {
  ':method': good('CONNECT', 'GET', 'connect'),
  ':protocol': good('websocket', 'WebSocket', 'webtransport', ''),
  ':scheme': good('https', 'http', 'ws'),
  ':path': good('/', '/chat?x=1', '*', '', 'chat'),
  ':authority': good('example.com', 'localhost:443', ''),
  'sec-websocket-version': good('13', '8', ' 13 ', '13, 8'),
  'sec-websocket-protocol': good('chat', 'chat, superchat', 'a,,b', 'x y'),
  'sec-websocket-extensions': good(
    'permessage-deflate',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; server_max_window_bits=7',
    'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
    'foo; bar="baz"',
    'x;;',
  ),
  'sec-websocket-key': good('dGhlIHNhbXBsZSBub25jZQ=='),
  origin: good('https://example.com', 'null'),
  upgrade: good('websocket'),
  connection: good('Upgrade'),
  host: good('example.com'),
};

type Map_ = Record<string, string | string[] | undefined>;

const headerMap: fc.Arbitrary<Map_> = fc
  .record(
    Object.fromEntries(Object.entries(known).map(([k, v]) => [k, field(v)])) as Record<
      string,
      fc.Arbitrary<string | string[] | undefined>
    >,
    { requiredKeys: [] },
  )
  .chain((m) =>
    fc
      .dictionary(
        fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(':status', ':foo', 'te')),
        field(junk),
        { maxKeys: 4 },
      )
      .map((extra) => ({ ...extra, ...m })),
  );

/** A field list: the map's entries (arrays as repeated lines), shuffled sometimes. */
const fieldList: fc.Arbitrary<Header[]> = fc
  .tuple(headerMap, fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }))
  .map(([m, shuffle, swaps]) => {
    const out: Header[] = [];
    for (const [k, v] of Object.entries(m)) {
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) out.push([k, x]);
    }
    if (shuffle && out.length > 1) {
      for (const s of swaps) {
        const i = s % out.length;
        const j = (s >> 3) % out.length;
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
    }
    return out;
  });

const hook = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof(
    value.map((v) => () => v),
    fc.constant(() => {
      throw new Error('hook failed');
    }),
  );

const optionsArb = fc.record(
  {
    subprotocols: fc.array(fc.constantFrom('chat', 'superchat', 'mqtt'), { maxLength: 3 }),
    selectSubprotocol: hook(fc.option(fc.constantFrom('chat', 'nope'), { nil: undefined })),
    checkOrigin: hook(fc.boolean()),
    negotiateExtensions: hook(fc.option(fc.constantFrom('foo', ''), { nil: undefined })),
    perMessageDeflate: fc.oneof(fc.boolean(), fc.constant({ serverNoContextTakeover: true })),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<NegotiationOptions>;

/** The result union's contract; `method`/`protocol` as the validator saw them. */
function checkResult(r: UpgradeResult, method: unknown, protocol: unknown): void {
  if (!r.ok) {
    if (!STATUSES.has(r.status)) throw new Error(`status ${r.status}`);
    if (typeof r.error !== 'string' || r.error === '') throw new Error('error is not a string');
    for (const v of Object.values(r.headers ?? {})) {
      if (typeof v !== 'string') throw new Error('a header that is not a string');
    }
    return;
  }
  if (method !== 'CONNECT') throw new Error(`accepted method ${String(method)}`);
  if (String(protocol).toLowerCase() !== 'websocket') throw new Error('accepted :protocol');
  if (!r.info.path.startsWith('/')) throw new Error(`accepted path ${r.info.path}`);
  const chosen = r.info.subprotocol;
  if (chosen !== undefined && !r.info.offeredSubprotocols.includes(chosen)) {
    throw new Error('a subprotocol that was not offered');
  }
  for (const v of Object.values(r.responseHeaders)) {
    if (typeof v !== 'string') throw new Error('a response header that is not a string');
  }
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

test('validateExtendedConnect / validateH2Request never throw and answer only documented statuses', (t) => {
  fc.assert(
    fc.property(headerMap, optionsArb, (h, opts) => {
      const a = validateExtendedConnect(h, opts);
      checkResult(a, first(h[':method']), first(h[':protocol']));
      const b = validateH2Request(h, opts);
      // the h2 entry point is the shared validator: the same answer
      if (a.ok !== b.ok || (!a.ok && !b.ok && a.status !== b.status)) {
        throw new Error('validateH2Request differs from validateExtendedConnect');
      }
      return true;
    }),
    { numRuns: runs(2000) },
  );
  t.pass();
});

test('validateH3Request never throws: malformed field lists are 400, the rest as on h2', (t) => {
  fc.assert(
    fc.property(fieldList, optionsArb, (fields, opts) => {
      const r = validateH3Request(fields, opts);
      const method = fields.find(([k]) => k === ':method')?.[1];
      const protocol = fields.find(([k]) => k === ':protocol')?.[1];
      checkResult(r, method, protocol);
      if (r.ok) {
        // RFC 9114 §4.3: pseudo-headers first, each once; no uppercase or connection fields
        let regular = false;
        const seen = new Set<string>();
        for (const [k] of fields) {
          if (k.startsWith(':')) {
            if (regular || seen.has(k)) throw new Error(`accepted misplaced or repeated ${k}`);
            seen.add(k);
          } else regular = true;
          if (k !== k.toLowerCase()) throw new Error(`accepted uppercase ${k}`);
          if (isConnectionSpecific(k)) throw new Error(`accepted connection-specific ${k}`);
        }
      }
      return true;
    }),
    { numRuns: runs(2000) },
  );
  t.pass();
});
