// One table of response shapes, run over every transport: HTTP/1.1 (plain and TLS),
// HTTP/2 (TLS and h2c) and HTTP/3, each server with the same handler. Every case says
// what a client of that version must see.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { BODY_HIGH_WATER } from '../../src/server/body.js';
import {
  buffered,
  file,
  type LoopEnd,
  loop,
  type RequestHandler,
  stream,
  websocket,
} from '../../src/server/handler.js';
import { WebSocketError } from '../../src/ws/errors.js';
import { type Handler, ok, reply, stop } from '../../src/ws/handler.js';
import {
  type Fetched,
  makeCerts,
  removeCerts,
  type Served,
  serveOn,
  type TestCerts,
  TRANSPORTS,
  type TransportName,
} from './helpers.js';

const FILE_BYTES = Buffer.alloc(100_000);
for (let i = 0; i < FILE_BYTES.length; i++) FILE_BYTES[i] = (i * 7) & 0xff;
const BIG = 4 * 1024 * 1024;

let certs: TestCerts;
let dir: string;
let filePath: string;
const servers = new Map<TransportName, Served>();
const errors: Error[] = [];
const loopEnds = new Map<string, LoopEnd>();

const echo: Handler<null> = { handleIn: (msg, state) => reply(state, msg.data) };

const handle: RequestHandler = async (req) => {
  switch (req.pathname) {
    case '/buffered':
      return buffered(
        200,
        { 'content-type': 'text/plain; charset=utf-8', 'x-multi': ['a', 'b'] },
        'héllo',
      );
    case '/plain-object':
      return { status: 201, headers: { 'x-shape': 'plain' }, body: 'made' };
    case '/head':
      return buffered(200, { 'content-type': 'text/plain' }, 'twelve bytes');
    case '/204':
      return buffered(204, { 'x-why': 'nothing' }, 'never sent');
    case '/304':
      return buffered(304, { etag: '"v1"' });
    case '/stream':
      return stream(200, { 'content-type': 'text/plain', trailer: 'x-checksum' }, async (send) => {
        await send('one ');
        await send(Buffer.from('two '));
        await send('three', { fin: { 'x-checksum': 'c0ffee' } });
      });
    case '/stream-big':
      return stream(200, { 'content-type': 'application/octet-stream' }, async (send) => {
        const chunk = Buffer.alloc(64 * 1024, 0x5a);
        for (let sent = 0; sent < BIG; sent += chunk.length) await send(chunk);
      });
    case '/stream-throws':
      return stream(200, {}, async (send) => {
        await send('partial');
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('producer failed');
      });
    case '/file': {
      const offset = Number(req.query.get('offset') ?? 0);
      const length = req.query.has('length') ? Number(req.query.get('length')) : undefined;
      return file(
        200,
        { 'content-type': 'application/octet-stream' },
        {
          path: filePath,
          offset,
          ...(length !== undefined && { length }),
        },
      );
    }
    case '/file-missing':
      return file(200, {}, { path: join(dir, 'nope') });
    case '/loop': {
      const l = loop(200, { 'content-type': 'text/event-stream' }, 0, {
        handleInfo(info, push, n) {
          push(`data: ${String(info)}\n\n`);
          return n + 1 >= 5 ? stop(n + 1) : ok(n + 1);
        },
        terminate(reason) {
          loopEnds.set(req.query.get('id') ?? '', reason);
        },
      });
      // infos posted before the response started wait for it
      l.post('first');
      let i = 0;
      const timer = setInterval(() => {
        if (!l.post(`tick ${i++}`)) clearInterval(timer);
      }, 5);
      return l;
    }
    case '/echo-body':
      return buffered(200, { 'content-type': 'application/octet-stream' }, await req.body.buffer());
    case '/echo-stream':
      return stream(200, {}, async (send) => {
        for await (const chunk of req.body) await send(chunk);
      });
    case '/slow-read': {
      // the most the reader held unread: what flow control let the peer send ahead
      let consumed = 0;
      let most = 0;
      for await (const chunk of req.body) {
        consumed += chunk.length;
        most = Math.max(most, req.body.received - consumed);
        await new Promise((r) => setTimeout(r, 1));
      }
      return buffered(200, {}, JSON.stringify({ consumed, most }));
    }
    case '/limit':
      await req.body.buffer(1000);
      return buffered(200, {}, 'unreachable');
    case '/info':
      return buffered(
        200,
        { 'content-type': 'application/json' },
        JSON.stringify({
          http: req.http,
          method: req.method,
          path: req.path,
          pathname: req.pathname,
          query: Object.fromEntries(req.query),
          secure: req.secure,
          tls: req.tls && { protocol: req.tls.protocol, alpn: req.tls.alpn },
          remote: req.remoteAddress,
          header: req.headers['x-test'],
          upgrade: req.upgrade,
          length: req.body.length ?? null,
        }),
      );
    case '/ws':
      return websocket(echo, null);
    case '/auth':
      if (req.headers.authorization !== 'Bearer letmein') {
        return buffered(401, { 'www-authenticate': 'Bearer realm="omniws"' }, 'who are you?\n');
      }
      return websocket(echo, null, { headers: { 'x-welcome': 'yes' } });
    case '/bad-name':
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'x' };
    case '/connection-specific':
      return buffered(200, { 'keep-alive': 'timeout=5' }, 'h1 only');
    case '/throws':
      throw new Error('handler failed');
    default:
      return undefined;
  }
};

test.before(async () => {
  certs = await makeCerts('http-shapes');
  dir = await mkdtemp(join(tmpdir(), 'omniws-http-shapes-'));
  filePath = join(dir, 'data.bin');
  await writeFile(filePath, FILE_BYTES);
  for (const name of TRANSPORTS) {
    servers.set(name, await serveOn(name, certs, { handle, onError: (e) => errors.push(e) }));
  }
});

test.after.always(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  await removeCerts(certs);
  await rm(dir, { recursive: true, force: true });
});

type Case = (t: ExecutionContext, s: Served) => Promise<void>;

function hasDate(t: ExecutionContext, r: Fetched): void {
  t.regex(r.headers.date ?? '', /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
}

const cases: Record<string, Case> = {
  'buffered: status, headers (one field per array value), body, content-length, date': async (
    t,
    s,
  ) => {
    const r = await s.fetch({ path: '/buffered' });
    t.is(r.status, 200);
    t.is(r.body.toString(), 'héllo');
    t.is(r.headers['content-length'], String(Buffer.byteLength('héllo')));
    t.is(r.headers['content-type'], 'text/plain; charset=utf-8');
    t.is(r.headers['x-multi'], 'a, b');
    hasDate(t, r);
    t.true(r.complete);
  },
  'a plain { status, headers, body } object is a buffered response': async (t, s) => {
    const r = await s.fetch({ path: '/plain-object' });
    t.is(r.status, 201);
    t.is(r.headers['x-shape'], 'plain');
    t.is(r.body.toString(), 'made');
  },
  'HEAD: the GET headers (content-length included), no body': async (t, s) => {
    const r = await s.fetch({ method: 'HEAD', path: '/head' });
    t.is(r.status, 200);
    t.is(r.headers['content-length'], '12');
    t.is(r.bytes, 0);
    hasDate(t, r);
  },
  '204: no body, no content-length': async (t, s) => {
    const r = await s.fetch({ path: '/204' });
    t.is(r.status, 204);
    t.is(r.bytes, 0);
    t.is(r.headers['x-why'], 'nothing');
    t.is(r.headers['content-length'], undefined);
  },
  '304: no body': async (t, s) => {
    const r = await s.fetch({ path: '/304' });
    t.is(r.status, 304);
    t.is(r.bytes, 0);
    t.is(r.headers.etag, '"v1"');
  },
  'stream: chunks, then trailers with the last one': async (t, s) => {
    const r = await s.fetch({ path: '/stream' });
    t.is(r.status, 200);
    t.is(r.body.toString(), 'one two three');
    t.is(r.trailers['x-checksum'], 'c0ffee');
    t.is(r.headers.trailer, 'x-checksum');
    t.true(r.complete);
    if (s.http === '1.1') t.is(r.headers['transfer-encoding'], 'chunked');
  },
  'stream: 4 MiB sent with backpressure arrives whole': async (t, s) => {
    const r = await s.fetch({ path: '/stream-big' });
    t.is(r.status, 200);
    t.is(r.bytes, BIG);
    t.true(r.body.every((b) => b === 0x5a));
    t.true(r.complete);
  },
  'stream: a producer that throws cuts the response off visibly': async (t, s) => {
    const before = errors.length;
    const r = await s.fetch({ path: '/stream-throws' }).catch((err: Error) => err);
    if (r instanceof Error) {
      t.pass(`the client failed: ${r.message}`);
    } else {
      t.false(r.complete, 'the client must not take the response for complete');
      // What was sent before the failure, or less: a reset ends the stream at once
      // (RFC 9113 §6.4; RFC 9000 §3.1), and what still waited for flow control (here
      // behind the 4 MiB responses on the same connection) is never sent. h2's reset says
      // it was an error: INTERNAL_ERROR (0x2), not NO_ERROR.
      t.true('partial'.startsWith(r.body.toString()), `body ${JSON.stringify(String(r.body))}`);
      if (s.http === '2') t.is(r.rstCode, 0x2);
    }
    t.true(errors.slice(before).some((e) => e.message === 'producer failed'));
  },
  'file: a range with content-length': async (t, s) => {
    const r = await s.fetch({ path: '/file?offset=1000&length=50000' });
    t.is(r.status, 200);
    t.is(r.headers['content-length'], '50000');
    t.deepEqual(r.body, FILE_BYTES.subarray(1000, 51000));
    const rest = await s.fetch({ path: '/file?offset=99000' });
    t.deepEqual(rest.body, FILE_BYTES.subarray(99000));
    const head = await s.fetch({ method: 'HEAD', path: '/file' });
    t.is(head.headers['content-length'], String(FILE_BYTES.length));
    t.is(head.bytes, 0);
  },
  'file: a missing file answers 404': async (t, s) => {
    const r = await s.fetch({ path: '/file-missing' });
    t.is(r.status, 404);
  },
  'loop: posted infos are pushed until handleInfo returns stop': async (t, s) => {
    const r = await s.fetch({ path: `/loop?id=${s.name}` });
    t.is(r.status, 200);
    t.is(r.headers['content-type'], 'text/event-stream');
    const events = r.body.toString().split('\n\n').filter(Boolean);
    t.deepEqual(events, [
      'data: first',
      'data: tick 0',
      'data: tick 1',
      'data: tick 2',
      'data: tick 3',
    ]);
    t.true(r.complete);
    t.deepEqual(loopEnds.get(s.name), { kind: 'normal' });
  },
  'body: read whole': async (t, s) => {
    const body = Buffer.alloc(300_000, 7);
    const r = await s.fetch({ method: 'POST', path: '/echo-body', body });
    t.is(r.status, 200);
    t.deepEqual(r.body, body);
  },
  'body: streamed back chunk by chunk': async (t, s) => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i & 0xff;
    const r = await s.fetch({ method: 'POST', path: '/echo-stream', body });
    t.is(r.status, 200);
    t.true(r.body.equals(body));
  },
  'body: a slow reader holds the sender back (the reader keeps at most its high-water mark)':
    async (t, s) => {
      const body = Buffer.alloc(4 * 1024 * 1024, 1);
      const r = await s.fetch({ method: 'POST', path: '/slow-read', body });
      const { consumed, most } = JSON.parse(r.body.toString());
      t.is(consumed, body.length);
      t.log(`the reader held at most ${most} bytes unread`);
      t.true(most <= BODY_HIGH_WATER + 256 * 1024, `held ${most} bytes unread`);
    },
  'body: above the limit → 413': async (t, s) => {
    const r = await s.fetch({ method: 'POST', path: '/limit', body: Buffer.alloc(5000) });
    t.is(r.status, 413);
  },
  'the request: method, path, query, headers, version, peer, TLS': async (t, s) => {
    const r = await s.fetch({ path: '/info?a=1&b=two', headers: { 'x-test': 'yes' } });
    const info = JSON.parse(r.body.toString());
    t.is(info.http, s.http);
    t.is(info.method, 'GET');
    t.is(info.path, '/info?a=1&b=two');
    t.is(info.pathname, '/info');
    t.deepEqual(info.query, { a: '1', b: 'two' });
    t.is(info.header, 'yes');
    t.is(info.secure, s.secure);
    t.is(info.remote, '127.0.0.1');
    t.false(info.upgrade);
    if (s.secure) {
      t.is(info.tls.protocol, 'TLSv1.3');
      t.is(info.tls.alpn, s.http === '3' ? 'h3' : s.http === '2' ? 'h2' : undefined);
    } else {
      t.is(info.tls, undefined);
    }
  },
  'websocket: the upgrade on this HTTP version, echo': async (t, s) => {
    const got: string[] = [];
    const session = await s.websocket(
      '/ws',
      {
        handleIn: (msg, state: null) => {
          got.push(msg.data as string);
          return stop(state);
        },
      },
      null,
    );
    t.is(session.http, s.http);
    session.send('ping over the handler');
    await session.closed;
    t.deepEqual(got, ['ping over the handler']);
  },
  'websocket() answering a plain request: 426 + Upgrade (h1), 405 + Allow: CONNECT (h2/h3)': async (
    t,
    s,
  ) => {
    const r = await s.fetch({ path: '/ws' });
    if (s.http === '1.1') {
      t.is(r.status, 426);
      t.is(r.headers.upgrade, 'websocket');
    } else {
      t.is(r.status, 405);
      t.is(r.headers.allow, 'CONNECT');
    }
  },
  '401 + www-authenticate instead of an upgrade; with credentials, the upgrade': async (t, s) => {
    const err = await t.throwsAsync(s.websocket('/auth', echo, null), {
      instanceOf: WebSocketError,
    });
    t.is(err?.code, 'WS_ERR_HANDSHAKE_STATUS');
    t.is(err?.status, 401);
    t.is(err?.response?.status, 401);
    t.is(err?.response?.headers['www-authenticate'], 'Bearer realm="omniws"');
    // the same rides along as the cause, as before `response` existed
    const cause = err?.cause as { headers: Record<string, string | string[]> };
    t.is(cause.headers['www-authenticate'], 'Bearer realm="omniws"');
    const session = await s.websocket('/auth', echo, null, { authorization: 'Bearer letmein' });
    t.is(session.http, s.http);
    session.close(1000);
    await session.closed;
  },
  'an upper-case header name: 500 and HTTP_ERR_INVALID_HEADER to onError': async (t, s) => {
    const before = errors.length;
    const r = await s.fetch({ path: '/bad-name' });
    t.is(r.status, 500);
    const e = errors
      .slice(before)
      .find((x) => (x as WebSocketError).code === 'HTTP_ERR_INVALID_HEADER');
    t.truthy(e);
    t.regex(e!.message, /"Content-Type".*content-type/);
  },
  'a connection-specific header: fine on HTTP/1.1, refused on h2/h3': async (t, s) => {
    const r = await s.fetch({ path: '/connection-specific' });
    t.is(r.status, s.http === '1.1' ? 200 : 500);
  },
  'a handler that throws: 500, reported to onError': async (t, s) => {
    const before = errors.length;
    const r = await s.fetch({ path: '/throws' });
    t.is(r.status, 500);
    t.true(errors.slice(before).some((e) => e.message === 'handler failed'));
  },
  'undefined (declined) on a standalone server: 404': async (t, s) => {
    const r = await s.fetch({ path: '/not-mine' });
    t.is(r.status, 404);
  },
};

for (const name of TRANSPORTS) {
  for (const [title, run] of Object.entries(cases)) {
    test(`${name}: ${title}`, (t) => run(t, servers.get(name)!));
  }
}
