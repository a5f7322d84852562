// The `omniws` command as the interop tests and users drive it: serve prints its
// endpoints; connect echoes stdin lines and exits with documented codes.

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'omniws.js');

function run(
  args: string[],
  input = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(input);
  });
}

async function startServe(
  t: { teardown(f: () => void): void },
  extra: string[] = [],
): Promise<{
  proc: ChildProcess;
  plain: string;
  tls: string;
  ca: string;
  out: string;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-cli-'));
  const proc = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--tls-port', '0', '--certs', dir, ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => proc.kill('SIGKILL'));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 20_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      // the description ends with the browsers' command lines
      if ((out.match(/^listening /gm) ?? []).length >= 2 && out.includes('Node clients:')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const urls = [...out.matchAll(/^listening (\S+)$/gm)].map((m) => m[1]!);
  return {
    proc,
    plain: urls.find((u) => u.startsWith('ws:'))!,
    tls: urls.find((u) => u.startsWith('wss:'))!,
    ca: join(dir, 'ca.pem'),
    out,
  };
}

test('serve --no-http3: the TLS port serves HTTP/2 and HTTP/1.1 only', async (t) => {
  const s = await startServe(t, ['--no-http3']);
  t.notRegex(s.out, /HTTP\/3/);
  const h2 = await run(['connect', '--http2', '--ca', s.ca, s.tls], 'over h2\n');
  t.is(h2.code, 0, h2.stderr);
  t.regex(h2.stdout, /over h2/);
  // nothing holds the UDP port: we can bind it ourselves
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(Number(new URL(s.tls).port), '127.0.0.1', resolve);
  });
  udp.close();
});

test('serve + connect: echo over HTTP/1.1, HTTP/2 and HTTP/3, /info tells the version', async (t) => {
  const s = await startServe(t);
  t.regex(s.plain, /^ws:\/\/127\.0\.0\.1:\d+\/echo$/);
  t.regex(s.tls, /^wss:\/\/localhost:\d+\/echo$/);

  const h1 = await run(['connect', s.plain], 'hello\nwörld\n');
  t.is(h1.code, 0, h1.stderr);
  t.is(h1.stdout, 'hello\nwörld\n');

  const h2 = await run(['connect', '--http2', '--ca', s.ca, s.tls], 'over h2\n');
  t.is(h2.code, 0, h2.stderr);
  t.is(h2.stdout, 'over h2\n');

  const info1 = await run(['connect', '--subprotocol', 'echo', s.plain.replace('/echo', '/info')]);
  t.is(info1.code, 0, info1.stderr);
  t.like(JSON.parse(info1.stdout), { http: '1.1', subprotocol: 'echo', secure: false });

  const info2 = await run(['connect', '--auto', '--ca', s.ca, s.tls.replace('/echo', '/info')]);
  t.is(info2.code, 0, info2.stderr);
  t.like(JSON.parse(info2.stdout), { http: '2', secure: true });

  const h3 = await run(['connect', '--http3', '--ca', s.ca, s.tls], 'over h3\n');
  t.is(h3.code, 0, h3.stderr);
  t.is(h3.stdout, 'over h3\n');
  const info3 = await run(['connect', '--http3', '--ca', s.ca, s.tls.replace('/echo', '/info')]);
  t.is(info3.code, 0, info3.stderr);
  t.like(JSON.parse(info3.stdout), { http: '3', secure: true });

  // graceful stop: SIGTERM closes sessions and exits 0
  const exited = new Promise<number | null>((r) => s.proc.once('exit', (c) => r(c)));
  s.proc.kill('SIGTERM');
  t.is(await exited, 0);
});

test('connect exit codes: usage 2, refused connection 1, untrusted certificate 1, HTTP status 1', async (t) => {
  const usage = await run(['connect']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /exactly one URL/);
  const refused = await run(['connect', 'ws://127.0.0.1:1/echo']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /ECONNREFUSED/);
  const s = await startServe(t);
  const untrusted = await run(['connect', s.tls]);
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /certificate/);
  const notFound = await run(['connect', s.plain.replace('/echo', '/nope')]);
  t.is(notFound.code, 1);
  t.regex(notFound.stderr, /404/);
  const insecure = await run(['connect', '--insecure', s.tls], 'ok\n');
  t.is(insecure.code, 0, insecure.stderr);
  t.is(insecure.stdout, 'ok\n');
});

test('serve --keylog --cc bbr; connect --http3 --cc reno --keylog --stats: secrets in both files, the statistics at the end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-cli-keylog-'));
  const serverKeys = join(dir, 'server.keys');
  const clientKeys = join(dir, 'client.keys');
  const s = await startServe(t, ['--keylog', serverKeys, '--cc', 'bbr']);
  const r = await run(
    [
      'connect',
      `${s.tls}`,
      '--http3',
      '--ca',
      s.ca,
      '--cc',
      'reno',
      '--keylog',
      clientKeys,
      '--stats',
      '--linger',
      '200',
    ],
    'hello\n',
  );
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'hello\n');
  const line = r.stderr.split('\n').find((l) => l.startsWith('stats '));
  t.truthy(line, r.stderr);
  const stats = JSON.parse(line!.slice('stats '.length)) as Record<string, unknown>;
  t.is(stats.cc, 'reno');
  t.true((stats.bytesSent as number) > 0 && (stats.rtt as number) > 0);
  for (const f of [serverKeys, clientKeys]) {
    t.regex(await readFile(f, 'utf8'), /^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]+ [0-9a-f]+$/m);
  }
  // --migrate-after: the QUIC connection moves to a new port and the WebSocket still
  // closes cleanly over it (exit 0)
  const moved = await run(
    ['connect', s.tls, '--http3', '--ca', s.ca, '--migrate-after', '50', '--linger', '600'],
    'before\n',
  );
  t.is(moved.code, 0, moved.stderr);
  t.is(moved.stdout, 'before\n');
  t.regex(moved.stderr, /^migrated to [0-9a-f.:]+:\d+$/m);
  // --session-file: a second process resumes the session the first one was given
  const tickets = join(dir, 'tickets.json');
  const statsOf = (stderr: string) => {
    const l = stderr.split('\n').find((x) => x.startsWith('stats '));
    return JSON.parse(l?.slice('stats '.length) ?? 'null') as { resumed: boolean } | null;
  };
  const withTicketFile = ['--http3', '--ca', s.ca, '--session-file', tickets, '--stats'];
  const fresh = await run(['connect', s.tls, ...withTicketFile, '--linger', '200'], 'one\n');
  t.is(fresh.code, 0, fresh.stderr);
  t.is(statsOf(fresh.stderr)?.resumed, false);
  // a ticket stands in for the certificate check: for the owner's eyes only
  t.is((await stat(tickets)).mode & 0o777, 0o600);
  const again = await run(['connect', s.tls, ...withTicketFile, '--linger', '200'], 'two\n');
  t.is(again.code, 0, again.stderr);
  t.is(again.stdout, 'two\n');
  t.is(statsOf(again.stderr)?.resumed, true);
  const noQuic = await run(['connect', s.plain, '--migrate-after', '50'], '');
  t.is(noQuic.code, 2);
  t.regex(noQuic.stderr, /--migrate-after moves a QUIC connection: add --http3/);
  const noTickets = await run(['connect', s.plain, '--session-file', tickets], '');
  t.is(noTickets.code, 2);
  t.regex(noTickets.stderr, /--session-file keeps QUIC session tickets: add --http3/);
  // over HTTP/1.1 there is no QUIC path: says so
  const h1 = await run(['connect', s.plain, '--stats', '--linger', '100'], 'x\n');
  t.regex(h1.stderr, /stats: none over HTTP\/1\.1/);
  // a controller the binding does not offer: usage
  const bad = await run(['connect', s.plain, '--cc', 'bbr2'], '');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--cc takes reno, cubic, bbr/);
});
