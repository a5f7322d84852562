// Fuzzing src/h1/upgrade.ts: validateH1Request with random request heads (methods,
// versions, header maps with the WebSocket fields present, missing, repeated, garbled),
// random negotiation options and hooks that throw. It never throws; a refusal is one of
// the documented statuses with string headers; an acceptance carries the right
// Sec-WebSocket-Accept and only a subprotocol that was offered.

import test from 'ava';
import fc from 'fast-check';
import { acceptKey, validateH1Request } from '../../src/h1/upgrade.js';
import type { NegotiationOptions } from '../../src/ws/negotiate.js';
import { runs } from './gen.js';

const STATUSES = new Set([400, 403, 405, 426, 500, 505]);

const junk = fc.string({ unit: 'binary', maxLength: 40 });
const field = (good: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 4, arbitrary: good },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: fc.array(fc.oneof(good, junk), { maxLength: 3 }) },
  );

const headersArb = fc
  .record(
    {
      host: field(fc.constantFrom('example.com', '127.0.0.1:8080', '[::1]:1', '')),
      upgrade: field(fc.constantFrom('websocket', 'WebSocket', 'h2c, websocket', 'websocket/13')),
      connection: field(fc.constantFrom('Upgrade', 'keep-alive, upgrade', 'close')),
      'sec-websocket-key': field(
        fc.oneof(
          fc
            .uint8Array({ minLength: 16, maxLength: 16 })
            .map((b) => Buffer.from(b).toString('base64')),
          fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b).toString('base64')),
        ),
      ),
      'sec-websocket-version': field(fc.constantFrom('13', '8', '13, 8', ' 13 ')),
      'sec-websocket-protocol': field(fc.constantFrom('chat', 'chat, superchat', 'a,,b', 'x y')),
      'sec-websocket-extensions': field(
        fc.constantFrom(
          'permessage-deflate',
          'permessage-deflate; client_max_window_bits',
          'permessage-deflate; server_max_window_bits=7',
          'foo; bar="baz"',
          'x;;',
        ),
      ),
      origin: field(fc.constantFrom('https://example.com', 'null')),
    },
    { requiredKeys: [] },
  )
  .chain((known) =>
    fc
      .dictionary(
        fc.string({ maxLength: 12 }).map((k) => k.toLowerCase()),
        junk,
        { maxKeys: 5 },
      )
      .map((extra) => ({ ...extra, ...known })),
  );

const hook = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof(
    value.map((v) => () => v),
    fc.constant(() => {
      throw new Error('hook failed');
    }),
  );

const optionsArb: fc.Arbitrary<NegotiationOptions> = fc.record(
  {
    subprotocols: fc.array(fc.constantFrom('chat', 'superchat', 'mqtt'), { maxLength: 3 }),
    selectSubprotocol: hook(fc.option(fc.constantFrom('chat', 'nope'), { nil: undefined })),
    checkOrigin: hook(fc.boolean()),
    negotiateExtensions: hook(fc.option(fc.constantFrom('foo', ''), { nil: undefined })),
    perMessageDeflate: fc.oneof(fc.boolean(), fc.constant({ serverNoContextTakeover: true })),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<NegotiationOptions>;

test('validateH1Request never throws and answers only documented statuses', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant('GET') },
        fc.constantFrom('POST', 'get', ''),
        junk,
      ),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant('1.1') },
        fc.constantFrom('1.0', '2.0', '0.9', 'x', ''),
      ),
      fc.oneof(fc.constant('/'), junk),
      headersArb,
      optionsArb,
      (method, httpVersion, url, headers, opts) => {
        const r = validateH1Request({ method, httpVersion, url, headers }, opts);
        if (!r.ok) {
          if (!STATUSES.has(r.status)) throw new Error(`status ${r.status}`);
          if (typeof r.error !== 'string') throw new Error('error is not a string');
          for (const v of Object.values(r.headers ?? {})) {
            if (typeof v !== 'string') throw new Error('a header that is not a string');
          }
          return true;
        }
        const key = String(headers['sec-websocket-key']).trim();
        if (r.responseHeaders['sec-websocket-accept'] !== acceptKey(key)) {
          throw new Error('wrong Sec-WebSocket-Accept');
        }
        const chosen = r.info.subprotocol;
        if (chosen !== undefined && !r.info.offeredSubprotocols.includes(chosen)) {
          throw new Error('a subprotocol that was not offered');
        }
        return r.info.path === url && method === 'GET';
      },
    ),
    { numRuns: runs(1000) },
  );
  t.pass();
});
