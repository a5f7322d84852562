// ReconnectPolicy: full-jitter backoff, the cap, maxAttempts and the default retry
// rules, with an injected random source (no timers, no sockets).

import test from 'ava';
import {
  defaultShouldRetry,
  type ReconnectOptions,
  ReconnectPolicy,
  type RetryReason,
} from '../../src/client/reconnect.js';
import { WebSocketError } from '../../src/ws/errors.js';

const closed = (code: number): RetryReason => ({ phase: 'open', code, kind: 'remote' });

test('backoff caps grow by the factor up to maxDelay', (t) => {
  const p = new ReconnectPolicy({ initialDelay: 100, factor: 2, maxDelay: 1000 });
  t.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => p.cap(n)),
    [100, 200, 400, 800, 1000, 1000],
  );
});

test('full jitter: a uniform delay in [0, cap)', (t) => {
  let r = 0;
  const p = new ReconnectPolicy({ initialDelay: 100, random: () => r });
  t.is(p.delay(3), 0);
  r = 0.5;
  t.is(p.delay(3), 200);
  r = 0.999;
  t.is(p.delay(3), 399);
});

test("jitter 'none': exactly the cap", (t) => {
  const p = new ReconnectPolicy({ initialDelay: 50, jitter: 'none', random: () => 0 });
  t.deepEqual(
    [1, 2, 3].map((n) => p.delay(n)),
    [50, 100, 200],
  );
});

test('decide: retries with a delay until maxAttempts', (t) => {
  const p = new ReconnectPolicy({ initialDelay: 10, maxAttempts: 2, jitter: 'none' });
  t.deepEqual(p.decide(closed(1006), 1), { retry: true, attempt: 1, delay: 10 });
  t.deepEqual(p.decide(closed(1006), 2), { retry: true, attempt: 2, delay: 20 });
  t.deepEqual(p.decide(closed(1006), 3), { retry: false, why: 'max-attempts' });
  t.deepEqual(p.decide(closed(1008), 1), { retry: false, why: 'not-retryable' });
});

test('default rule: never after 1002, 1003, 1007, 1008, 1009, 1010', (t) => {
  for (const code of [1002, 1003, 1007, 1008, 1009, 1010]) {
    t.false(defaultShouldRetry(closed(code)), String(code));
  }
});

test('default rule: always after network loss, 1000, 1001, 1005, 1006, 1011–1014, 4000', (t) => {
  for (const code of [1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4000]) {
    t.true(defaultShouldRetry(closed(code)), String(code));
  }
  const lost = new WebSocketError('WS_ERR_CONNECTION_LOST', 'lost', { closeCode: 1006 });
  t.true(defaultShouldRetry({ phase: 'open', code: 1006, kind: 'error', error: lost }));
});

test('default rule: handshakes', (t) => {
  const refused = new WebSocketError('WS_ERR_HANDSHAKE', 'connection failed: ECONNREFUSED', {
    cause: Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  });
  const hs = (error: WebSocketError): RetryReason => ({
    phase: 'handshake',
    code: 1006,
    error,
    status: error.status,
  });
  t.true(defaultShouldRetry(hs(refused)), 'refused');
  t.true(defaultShouldRetry(hs(new WebSocketError('WS_ERR_HANDSHAKE_TIMEOUT', 'slow'))));
  // a certificate that does not verify fails the same way every time (issue 16)
  const unknownCa = Object.assign(new Error('unable to verify'), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
  t.false(
    defaultShouldRetry(
      hs(new WebSocketError('WS_ERR_CERTIFICATE', 'certificate', { cause: unknownCa })),
    ),
  );
  for (const status of [500, 502, 503]) {
    t.true(
      defaultShouldRetry(hs(new WebSocketError('WS_ERR_HANDSHAKE_STATUS', 'x', { status }))),
      String(status),
    );
  }
  for (const status of [400, 401, 403, 404, 426, 429]) {
    t.false(
      defaultShouldRetry(hs(new WebSocketError('WS_ERR_HANDSHAKE_STATUS', 'x', { status }))),
      String(status),
    );
  }
  // a wrong answer (bad Sec-WebSocket-Accept, an unoffered subprotocol) will not change
  t.false(defaultShouldRetry(hs(new WebSocketError('WS_ERR_HANDSHAKE', 'bad accept'))));
  t.false(defaultShouldRetry(hs(new WebSocketError('WS_ERR_INVALID_URL', 'x'))));
  t.false(defaultShouldRetry(hs(new WebSocketError('WS_ERR_INVALID_ARGUMENT', 'x'))));
  t.false(defaultShouldRetry(hs(new WebSocketError('WS_ERR_EXTENDED_CONNECT_UNSUPPORTED', 'x'))));
});

test('a custom shouldRetry replaces the default (e.g. retry 429)', (t) => {
  const p = new ReconnectPolicy({
    shouldRetry: (r) => r.status === 429 || defaultShouldRetry(r),
    jitter: 'none',
  });
  const tooMany = new WebSocketError('WS_ERR_HANDSHAKE_STATUS', 'x', { status: 429 });
  t.true(p.decide({ phase: 'handshake', code: 1006, status: 429, error: tooMany }, 1).retry);
});

test('the clock is injectable', (t) => {
  const p = new ReconnectPolicy({ now: () => 42 });
  t.is(p.now(), 42);
});

test('bad options throw WS_ERR_INVALID_ARGUMENT', (t) => {
  for (const o of [
    { initialDelay: -1 },
    { maxDelay: Number.NaN },
    { factor: 0.5 },
    { maxAttempts: -1 },
    { jitter: 'half' as 'full' },
  ]) {
    const e = t.throws(() => new ReconnectPolicy(o));
    t.is((e as WebSocketError).code, 'WS_ERR_INVALID_ARGUMENT');
  }
});

test('Retry-After of a refused handshake is honoured: seconds or an HTTP-date, capped by maxRetryAfter', (t) => {
  const now = Date.parse('2026-12-07T00:00:00Z');
  const policy = (o: ReconnectOptions = {}) =>
    new ReconnectPolicy({ initialDelay: 10, jitter: 'none', now: () => now, ...o });
  const refused = (retryAfter?: string) => ({
    phase: 'handshake' as const,
    code: 1006,
    status: 503,
    error: new WebSocketError('WS_ERR_HANDSHAKE_STATUS', 'busy', {
      status: 503,
      response: {
        status: 503,
        headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
      },
    }),
  });
  const delay = (d: ReturnType<ReconnectPolicy['decide']>) => (d.retry ? d.delay : -1);
  t.is(delay(policy().decide(refused('7'), 1)), 7000, 'delay-seconds');
  t.is(delay(policy().decide(refused('Mon, 07 Dec 2026 00:00:10 GMT'), 1)), 10_000, 'an HTTP-date');
  t.is(delay(policy().decide(refused('soon'), 1)), 10, 'unparsable: the backoff');
  t.is(delay(policy().decide(refused(), 1)), 10, 'none: the backoff');
  t.is(delay(policy({ maxRetryAfter: 2000 }).decide(refused('60'), 1)), 2000, 'capped');
  t.is(
    delay(policy({ initialDelay: 5000 }).decide(refused('1'), 1)),
    5000,
    'the longer of the two',
  );
});
