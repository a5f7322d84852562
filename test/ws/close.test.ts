// Tests of src/ws/close.ts: which codes may appear on the wire (RFC 6455 §7.4 and
// the IANA registry), building close payloads for the application (errors, never
// rewrites) and parsing received ones (1002 / 1007 on bad input).

import assert from 'node:assert/strict';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  isValidWireCloseCode,
  MAX_CLOSE_REASON,
  validateClose,
} from '../../src/ws/close.js';
import { type ErrorCode, WebSocketError } from '../../src/ws/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function assertWsError(
  t: ExecutionContext,
  fn: () => unknown,
  code: ErrorCode,
  closeCode: number | undefined,
  message?: string,
): void {
  const err = t.throws<WebSocketError>(fn, { instanceOf: WebSocketError }, message);
  t.is(err?.code, code, message);
  t.is(err?.closeCode, closeCode, message);
}

// ── the allowed-code table ──────────────────────────────────────────────────

const ALLOWED = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
const REFUSED = [
  0,
  1,
  999,
  1004,
  1005,
  1006,
  1015,
  1016,
  1999,
  2000,
  2999,
  5000,
  65535,
  -1000,
  1000.5,
  NaN,
  Infinity,
];

test('isValidWireCloseCode: allowed codes', (t) => {
  for (const code of ALLOWED) t.true(isValidWireCloseCode(code), String(code));
});

test('isValidWireCloseCode: refused codes', (t) => {
  for (const code of REFUSED) t.false(isValidWireCloseCode(code), String(code));
});

test('isValidWireCloseCode over every 16-bit code matches the three ranges', (t) => {
  const allowed: number[] = [];
  for (let c = 0; c <= 0xffff; c++) if (isValidWireCloseCode(c)) allowed.push(c);
  t.is(allowed.length, 4 + 8 + 2000);
  t.is(allowed[0], 1000);
  t.is(allowed.at(-1), 4999);
});

test('the reserved CloseCode constants are exactly the ones refused on the wire', (t) => {
  for (const [name, code] of Object.entries(CloseCode)) {
    const reserved = name === 'NoStatus' || name === 'Abnormal' || name === 'TlsHandshake';
    t.is(isValidWireCloseCode(code), !reserved, name);
  }
});

// ── encodeClosePayload (what the application asks us to send) ───────────────

test('encode with no code: an empty payload', (t) => {
  t.is(encodeClosePayload().length, 0);
  t.is(encodeClosePayload(undefined, '').length, 0);
});

test('encode with a code only', (t) => {
  t.is(Buffer.from(encodeClosePayload(1000)).toString('hex'), '03e8');
  t.is(Buffer.from(encodeClosePayload(4999)).toString('hex'), '1387');
});

test('encode with a code and a reason', (t) => {
  t.is(Buffer.from(encodeClosePayload(1001, 'bye')).toString('hex'), '03e9627965');
  t.is(Buffer.from(encodeClosePayload(3000, 'é')).toString('hex'), '0bb8c3a9');
});

test('encode refuses a reason without a code', (t) => {
  assertWsError(
    t,
    () => encodeClosePayload(undefined, 'why'),
    'WS_ERR_INVALID_ARGUMENT',
    undefined,
  );
});

test('encode refuses every code not allowed on the wire, never rewriting it', (t) => {
  for (const code of REFUSED) {
    assertWsError(
      t,
      () => encodeClosePayload(code),
      'WS_ERR_CLOSE_CODE_NOT_ALLOWED',
      undefined,
      String(code),
    );
  }
});

test('encode allows a reason of 123 bytes and refuses 124 (counted in UTF-8 bytes)', (t) => {
  t.is(MAX_CLOSE_REASON, 123);
  t.is(encodeClosePayload(1000, 'a'.repeat(123)).length, 125);
  assertWsError(
    t,
    () => encodeClosePayload(1000, 'a'.repeat(124)),
    'WS_ERR_CLOSE_REASON_TOO_LONG',
    undefined,
  );
  // 62 characters, 124 bytes
  assertWsError(
    t,
    () => encodeClosePayload(1000, 'é'.repeat(62)),
    'WS_ERR_CLOSE_REASON_TOO_LONG',
    undefined,
  );
  t.is(encodeClosePayload(1000, `${'é'.repeat(61)}a`).length, 125);
});

test('validateClose throws what encodeClosePayload throws', (t) => {
  t.notThrows(() => validateClose(1000, 'ok'));
  t.notThrows(() => validateClose());
  assertWsError(t, () => validateClose(1005), 'WS_ERR_CLOSE_CODE_NOT_ALLOWED', undefined);
  assertWsError(
    t,
    () => validateClose(1000, 'x'.repeat(200)),
    'WS_ERR_CLOSE_REASON_TOO_LONG',
    undefined,
  );
});

// ── decodeClosePayload (what the peer sent) ──────────────────────────────────

test('decode an empty payload: 1005, no reason', (t) => {
  t.deepEqual(decodeClosePayload(new Uint8Array(0)), { code: 1005, reason: '' });
});

test('decode a code only and a code with a reason', (t) => {
  t.deepEqual(decodeClosePayload(hex('03e8')), { code: 1000, reason: '' });
  t.deepEqual(decodeClosePayload(hex('0fa0 e282ac')), { code: 4000, reason: '€' });
});

test('decode a view into a larger buffer reads only the view', (t) => {
  const backing = hex('ffff 03e9 6f6b ffff');
  t.deepEqual(decodeClosePayload(backing.subarray(2, 6)), { code: 1001, reason: 'ok' });
});

test('decode a 1-byte payload: 1002', (t) => {
  assertWsError(t, () => decodeClosePayload(hex('03')), 'WS_ERR_INVALID_CLOSE_PAYLOAD', 1002);
});

test('decode a code not allowed on the wire: 1002', (t) => {
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    assertWsError(t, () => decodeClosePayload(p), 'WS_ERR_INVALID_CLOSE_CODE', 1002, String(code));
  }
});

test('decode a reason that is not UTF-8: 1007', (t) => {
  for (const reason of ['ff', 'e282', 'eda080', 'c0af', '61 80']) {
    assertWsError(
      t,
      () => decodeClosePayload(hex(`03e8${reason}`)),
      'WS_ERR_INVALID_CLOSE_REASON',
      1007,
      reason,
    );
  }
});

test('property: encode → decode round trip for every allowed code and reason', (t) => {
  const codeArb = fc.oneof(
    fc.constantFrom(...ALLOWED),
    fc.integer({ min: 3000, max: 4999 }),
    fc.integer({ min: 1007, max: 1014 }),
  );
  fc.assert(
    fc.property(codeArb, fc.string({ unit: 'binary', maxLength: 40 }), (code, reason) => {
      const bytes = Buffer.byteLength(reason);
      if (bytes > MAX_CLOSE_REASON) {
        assert.throws(() => encodeClosePayload(code, reason), {
          code: 'WS_ERR_CLOSE_REASON_TOO_LONG',
        });
        return;
      }
      const payload = encodeClosePayload(code, reason);
      assert.equal(payload.length, 2 + bytes);
      assert.deepEqual(decodeClosePayload(payload), {
        code,
        reason: Buffer.from(reason).toString(),
      });
    }),
    { numRuns: 500 },
  );
  t.pass();
});
