// Fuzzing src/ws/negotiate.ts: the Sec-WebSocket-Extensions and Sec-WebSocket-Protocol
// parsers on random strings over the characters their grammars care about. They never
// throw; what parseExtensions accepts formats back into a value it parses the same way.

import test from 'ava';
import fc from 'fast-check';
import { formatExtension, parseExtensions, parseSubprotocols } from '../../src/ws/headers.js';
import { runs } from './gen.js';

const grammarChars = fc.constantFrom(
  ...'abcxyz019-_.!~'.split(''),
  ',',
  ';',
  '=',
  '"',
  '\\',
  ' ',
  '\t',
  '\r',
  '\n',
  'é',
  '\u0000',
);
const token = fc.string({
  unit: fc.constantFrom(...'abcxyz019-_.!~'.split('')),
  minLength: 1,
  maxLength: 8,
});
const ws = fc.constantFrom('', ' ', '\t', '  ');
/** Mostly grammatical lists: tokens, parameters, quoted values with escapes, odd spacing. */
const structured = fc
  .array(
    fc.tuple(
      token,
      fc.array(
        fc.tuple(
          ws,
          token,
          fc.option(
            fc.oneof(
              token,
              token.map((v) => `"${v}"`),
              fc.constant('"a\\"b"'),
              fc.constant('"x'),
            ),
          ),
        ),
        { maxLength: 3 },
      ),
    ),
    { maxLength: 3 },
  )
  .chain((exts) =>
    ws.map((sp) =>
      exts
        .map(
          ([name, params]) =>
            name + params.map(([w, k, v]) => `${w};${w}${k}${v === null ? '' : `=${v}`}`).join(''),
        )
        .join(`${sp},${sp}`),
    ),
  );
const headerish = fc.oneof(
  structured,
  fc.string({ unit: grammarChars, maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

test('parseExtensions never throws; what it accepts round-trips through formatExtension', (t) => {
  fc.assert(
    fc.property(headerish, (value) => {
      const parsed = parseExtensions(value);
      if (parsed === null) return true;
      const again = parseExtensions(parsed.map(formatExtension).join(', '));
      return JSON.stringify(again) === JSON.stringify(parsed);
    }),
    { numRuns: runs(2000) },
  );
  t.pass();
});

test('parseSubprotocols never throws and returns tokens only', (t) => {
  fc.assert(
    fc.property(headerish, (value) => {
      const list = parseSubprotocols(value);
      return list === null || list.every((p) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p));
    }),
    { numRuns: runs(2000) },
  );
  t.pass();
});
