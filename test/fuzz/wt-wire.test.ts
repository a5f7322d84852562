// The WebTransport wire decoders (src/h3/wt-wire.ts) on arbitrary input: they return or
// throw WtWireError, nothing else; what the encoders write decodes to what went in.

import test from 'ava';
import fc from 'fast-check';
import {
  CapsuleParser,
  decodeDatagram,
  encodeAvailableProtocols,
  encodeCapsule,
  encodeCloseCapsule,
  encodeDatagram,
  encodeDrainCapsule,
  encodeStreamHeader,
  h3ToWtCode,
  isWtProtocol,
  parseAvailableProtocols,
  parseWtProtocol,
  readSessionId,
  sfString,
  WtWireError,
  wtToH3Code,
} from '../../src/h3/wt-wire.js';

const onlyOurs = (fn: () => unknown) => {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof WtWireError;
  }
};

test('property: capsule bytes in any split parse or throw WtWireError', (t) => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const p = new CapsuleParser(1024);
      return chunks.every((c) => onlyOurs(() => p.push(c)));
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: session IDs and datagram prefixes of arbitrary bytes decode or throw WtWireError', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), fc.nat(8), (bytes, at) => {
      return onlyOurs(() => readSessionId(bytes, at)) && onlyOurs(() => decodeDatagram(bytes));
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: close and drain capsules, split anywhere, come back whole, GREASE capsules between them skipped', (t) => {
  fc.assert(
    fc.property(
      fc.nat(0xffffffff),
      fc.string({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 50 }),
      fc.array(fc.nat(200), { maxLength: 4 }),
      (code, reason, grease, cuts) => {
        // a GREASE type (0x29 * N + 0x17) beyond 2^53, as Chromium sends first
        const greaseType = encodeCapsuleWithBigType(0x29n * 0x3fffffffffn + 0x17n, grease);
        const wire = Buffer.concat([
          greaseType,
          encodeDrainCapsule(),
          encodeCloseCapsule(code, reason),
        ]);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const p = new CapsuleParser();
        const got: unknown[] = [];
        let from = 0;
        for (const at of [...points, wire.length]) {
          got.push(...p.push(wire.subarray(from, at)));
          from = at;
        }
        const known = got.filter((c) => (c as { type: string }).type !== 'other');
        return (
          JSON.stringify(known) ===
          JSON.stringify([{ type: 'drain' }, { type: 'close', code, reason }])
        );
      },
    ),
    { numRuns: 1000 },
  );
  t.pass();
});

function encodeCapsuleWithBigType(type: bigint, value: Uint8Array): Buffer {
  // an 8-byte varint type, then the length, then the value
  const head = Buffer.alloc(8);
  head.writeBigUInt64BE(type | (0b11n << 62n));
  return Buffer.concat([head, Buffer.from(encodeCapsule(0, value).subarray(1))]);
}

test('stream headers and datagrams round-trip; WebTransport codes map into HTTP/3 and back', (t) => {
  fc.assert(
    fc.property(
      fc.nat(1 << 20),
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(0xffffffff),
      (q, payload, code) => {
        const id = q * 4;
        const d = decodeDatagram(encodeDatagram(id, payload));
        const h = encodeStreamHeader('uni', id);
        const s = readSessionId(h, 2); // 0x54 takes a two-byte varint
        return (
          d.sessionId === id &&
          Buffer.from(d.payload).equals(Buffer.from(payload)) &&
          s !== null &&
          s.id === id &&
          h3ToWtCode(wtToH3Code(code)) === code
        );
      },
    ),
    { numRuns: 2000 },
  );
  // the draft's examples: the first code, and the reserved codepoints skipped
  t.is(wtToH3Code(0), 0x52e4a40fa8dbn);
  t.is(h3ToWtCode(0x52e4a40fa8dbn), 0);
  t.is(h3ToWtCode(0x100), null);
  t.throws(() => readSessionId(Uint8Array.of(0x02), 0), { instanceOf: WtWireError });
  t.throws(() => encodeCloseCapsule(1, 'x'.repeat(1025)), { instanceOf: RangeError });
});

const protocolName = fc
  .string({
    minLength: 1,
    maxLength: 24,
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  })
  .filter(isWtProtocol);

test('property: WT-Available-Protocols and WT-Protocol written by us parse back to what went in', (t) => {
  fc.assert(
    fc.property(fc.uniqueArray(protocolName, { maxLength: 6 }), (list) => {
      const back = parseAvailableProtocols(encodeAvailableProtocols(list));
      return (
        JSON.stringify(back) === JSON.stringify(list) &&
        list.every((p) => parseWtProtocol(sfString(p)) === p)
      );
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('property: any field value parses to a list of strings or null, never throws', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (v) => {
      const list = parseAvailableProtocols(v);
      const one = parseWtProtocol(v);
      return (
        (list === null || list.every((x) => typeof x === 'string')) &&
        (one === null || typeof one === 'string')
      );
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

test('WT-Available-Protocols: RFC 9651 List of Strings, parameters dropped, anything else ignored', (t) => {
  t.deepEqual(parseAvailableProtocols('"chat", "chat-v2"'), ['chat', 'chat-v2']);
  t.deepEqual(parseAvailableProtocols('"moqt-16";v=1, "a\\"b"'), ['moqt-16', 'a"b']);
  t.deepEqual(parseAvailableProtocols(''), []);
  for (const bad of ['chat', '"chat",', '"chat" "x"', '"unterminated', '"a\\x"', '("a" "b")']) {
    t.is(parseAvailableProtocols(bad), null, bad);
  }
  t.is(parseWtProtocol('"chat"'), 'chat');
  t.is(parseWtProtocol('"chat";x=1'), 'chat');
  t.is(parseWtProtocol('"chat", "b"'), null);
  t.is(parseWtProtocol('chat'), null);
  t.is(sfString('a"b\\c'), '"a\\"b\\\\c"');
});
