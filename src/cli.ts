// The `omniws` command: `serve` (the echo/info server that interop tests and
// browsers use) and `connect` (a wscat-like client). Both are contracts the
// interop tests rely on: output lines, flags and exit codes are documented in docs/cli.md.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect, type HttpChoice } from './client/connect.js';
import { CONFORMANCE_USAGE, conformanceCmd } from './conformance/command.js';
import { describeServed, type InteropOptions, serveInterop } from './dev/interop.js';
import { type Impairment, startLab } from './dev/lab.js';
import { CONGESTION_CONTROLLERS, type CongestionControl } from './h3/congestion.js';
import { fileTicketStore } from './h3/tickets.js';
import { workerInfo } from './scale/cluster.js';
import type { WebSocketError } from './ws/errors.js';
import { type CloseReason, type Handler, ok } from './ws/handler.js';
import type { Session } from './ws/session.js';
import type { PathStats } from './ws/transport.js';

const USAGE = `usage:
  omniws serve [--port P] [--host H] [--tls [--cert F --key F | --certs DIR]] [--tls-port P2]
               [--no-http3] [--redis URL [--history N]] [--workers N|auto] [--keylog FILE] [--cc C]
               [--qlog DIR] [--early-data]
  omniws connect URL [--http1 | --http2 | --http3 | --auto] [--subprotocol P] [--header K:V]
                 [--origin O] [--insecure | --ca FILE] [--binary] [--ping MS] [--linger MS]
                 [--keylog FILE] [--qlog DIR] [--cc reno|cubic|bbr] [--stats]
                 [--migrate-after MS] [--session-file FILE]
${CONFORMANCE_USAGE.split('\n').slice(1).join('\n')}
  omniws lab --to HOST:PORT [--port P] [--host H] [--loss PCT] [--delay MS] [--jitter MS]
             [--reorder PCT] [--rate R] [--seed N]`;

/** Exit codes of `omniws connect`. */
export const Exit = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  /** The connection ended without a clean close, or with a code other than 1000/1001. */
  Abnormal: 3,
} as const;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'serve') return serveCmd(rest);
  if (cmd === 'connect') return connectCmd(rest);
  if (cmd === 'conformance') return conformanceCmd(rest, packageVersion());
  if (cmd === 'lab') return labCmd(rest);
  console.error(USAGE);
  return cmd === undefined || cmd === '--help' || cmd === '-h' ? Exit.Ok : Exit.Usage;
}

async function serveCmd(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      tls: { type: 'boolean', default: false },
      'tls-port': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      certs: { type: 'string' },
      'no-http3': { type: 'boolean', default: false },
      redis: { type: 'string' },
      workers: { type: 'string' },
      history: { type: 'string' },
      keylog: { type: 'string' },
      cc: { type: 'string' },
      qlog: { type: 'string' },
      'early-data': { type: 'boolean', default: false },
    },
  });
  if (values.cc !== undefined && !isCc(values.cc)) {
    console.error(`omniws serve: --cc takes ${CONGESTION_CONTROLLERS.join(', ')}\n${USAGE}`);
    return Exit.Usage;
  }
  const history = values.history === undefined ? undefined : Number(values.history);
  if (history !== undefined && (!(Number.isInteger(history) && history > 0) || !values.redis)) {
    console.error(`omniws serve: --history takes a count of messages, with --redis\n${USAGE}`);
    return Exit.Usage;
  }
  let workers: number | 'auto' | undefined;
  if (values.workers !== undefined) {
    workers = values.workers === 'auto' ? 'auto' : Number(values.workers);
    if (workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1 && workers <= 255)) {
      console.error(`omniws serve: --workers takes 1 to 255 or auto\n${USAGE}`);
      return Exit.Usage;
    }
  }
  // a worker (the same command, forked by the primary) serves quietly: the primary speaks
  const quiet = workerInfo() !== undefined;
  // No ports named: the interop set-up (plain 8080, TLS 8443). `--port P` alone: one
  // plain endpoint; with --tls that endpoint is TLS. `--tls-port` adds a TLS endpoint.
  const named = values.port !== undefined || values['tls-port'] !== undefined;
  const port = values.port === undefined ? undefined : Number(values.port);
  const tlsPort = values['tls-port'] === undefined ? undefined : Number(values['tls-port']);
  const opts: InteropOptions = {
    host: values.host ?? '127.0.0.1',
    port: named ? (values.tls ? null : (port ?? null)) : 8080,
    tlsPort: named ? (values.tls ? (port ?? tlsPort ?? 8443) : (tlsPort ?? null)) : 8443,
    log: quiet ? () => {} : (l) => console.log(l),
    ...(values.certs !== undefined && { certsDir: values.certs }),
    // without HTTP/3 the TLS port serves HTTP/2 and HTTP/1.1 alone (quiche's binding
    // does not exist for every platform)
    ...(values['no-http3'] && { http3: false }),
    ...(values.redis !== undefined && { redis: values.redis }),
    ...(workers !== undefined && { workers }),
    ...(history !== undefined && { history }),
    ...(values.keylog !== undefined && { keylog: values.keylog }),
    ...quicOf(values),
  };
  if (values.cert || values.key) {
    if (!values.cert || !values.key) {
      console.error(`omniws serve: --cert and --key go together\n${USAGE}`);
      return Exit.Usage;
    }
    opts.cert = readFileSync(values.cert);
    opts.key = readFileSync(values.key);
  }
  const served = await serveInterop(opts);
  // the signals are ours before the lines that say we are up: whoever reads them may
  // send one at once
  const stopped = untilStopped();
  const group = served.workers;
  if (group) {
    process.on('SIGUSR2', () => {
      console.log('restarting workers in turn');
      group.restartAll().then(
        () => console.log(`workers restarted (pids ${group.pids.join(', ')})`),
        (err: Error) => console.error(`omniws serve: restart failed: ${err.message}`),
      );
    });
  }
  if (!quiet) for (const line of describeServed(served)) console.log(line);
  if (group) {
    console.log(
      `workers: ${group.count} (pids ${group.pids.join(', ')}); SIGUSR2 restarts them in turn`,
    );
  }
  await stopped;
  if (!quiet) console.log('shutting down: closing sessions with 1001');
  await served.close();
  // a worker keeps its channel to the primary open: leave now (the primary forks another
  // unless it is shutting down too)
  if (quiet) process.exit(Exit.Ok);
  return Exit.Ok;
}

async function connectCmd(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseConnectArgs>;
  let headers: Record<string, string>;
  try {
    parsed = parseConnectArgs(argv);
    headers = headersOf(parsed.values.header ?? []);
  } catch (err) {
    console.error(`omniws connect: ${(err as Error).message}\n${USAGE}`);
    return Exit.Usage;
  }
  const { url, values, http } = parsed;
  const received = { at: Date.now() };
  let session: Session<null>;
  try {
    session = await connect<null>(url, {
      http,
      state: null,
      ...(values.subprotocol && { subprotocols: values.subprotocol }),
      ...(values.origin !== undefined && { origin: values.origin }),
      headers,
      ...tlsOf(values),
      ...(values.keylog !== undefined && { keylog: values.keylog }),
      ...quicOf(values),
      ...(values['session-file'] !== undefined && {
        sessionStore: fileTicketStore(values['session-file']),
      }),
      handler: printingHandler(received),
    });
  } catch (err) {
    const e = err as WebSocketError;
    console.error(`omniws connect: ${e.message}${e.status ? ` (HTTP ${e.status})` : ''}`);
    return Exit.Failed;
  }
  if (values.ping !== undefined) pingEvery(session, Number(values.ping));
  if (values['migrate-after'] !== undefined) migrateAfter(session, Number(values['migrate-after']));
  const rl = sendLines(session, values.binary === true, Number(values.linger ?? 500), received);
  // read the path's statistics just before the end: after it the connection may be gone
  let stats: PathStats | undefined;
  const sample = () => {
    stats = session.pathStats() ?? stats;
  };
  const sampler = values.stats ? setInterval(sample, 200) : undefined;
  sampler?.unref();
  const reason = await session.closed;
  if (sampler) clearInterval(sampler);
  rl.close();
  if (values.stats) {
    console.error(
      stats
        ? `stats ${JSON.stringify(stats)}`
        : `stats: none over HTTP/${session.http} (statistics come from QUIC: use --http3)`,
    );
  }
  return exitFor(reason);
}

/** `--header K:V` values as a header map; a value without a colon is a usage error. */
function headersOf(list: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`bad --header "${h}" (want K:V)`);
    headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return headers;
}

function tlsOf(values: { insecure?: boolean; ca?: string }): {
  tls?: { rejectUnauthorized: false } | { ca: Buffer };
} {
  if (values.insecure) return { tls: { rejectUnauthorized: false } };
  if (values.ca) return { tls: { ca: readFileSync(values.ca) } };
  return {};
}

/** Prints text messages as lines, binary as hex, pongs on stderr; notes when data arrived. */
function printingHandler(received: { at: number }): Handler<null> {
  return {
    handleControl: (ctl, state) => {
      if (ctl.type === 'pong') process.stderr.write(`pong ${ctl.data.toString('utf8')}\n`);
      return ok(state);
    },
    handleIn: (msg, state) => {
      received.at = Date.now();
      if (msg.type === 'text') process.stdout.write(`${msg.data}\n`);
      else process.stdout.write(`${msg.data.toString('hex')}\n`);
      return ok(state);
    },
  };
}

/** `--migrate-after MS`: move the QUIC connection to a new local port, and say how it went. */
function migrateAfter(session: Session<null>, ms: number): void {
  const timer = setTimeout(() => {
    if (session.readyState !== 'open') return;
    session.migrate().then(
      (to) => console.error(`migrated to ${to.address}:${to.port}`),
      (err: Error) => console.error(`migration failed: ${err.message}`),
    );
  }, ms);
  timer.unref();
  void session.closed.then(() => clearTimeout(timer));
}

function pingEvery(session: Session<null>, every: number): void {
  const timer = setInterval(() => {
    if (session.readyState === 'open') session.send({ type: 'ping', data: String(Date.now()) });
  }, every);
  timer.unref();
  void session.closed.then(() => clearInterval(timer));
}

/**
 * Send each line of stdin as a message. On end of input, close once nothing has arrived
 * for `linger` ms: a close sent earlier would make us discard replies still on their way
 * (RFC 6455 §1.4).
 */
function sendLines(
  session: Session<null>,
  binary: boolean,
  linger: number,
  received: { at: number },
): ReturnType<typeof createInterface> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line) => {
    if (session.readyState !== 'open') return;
    try {
      session.send(binary ? Buffer.from(line, 'utf8') : line);
    } catch {
      // closing: the line is dropped, as the session has ended
    }
  });
  rl.on('close', () => {
    const check = () => {
      if (session.readyState !== 'open') return;
      const quiet = Date.now() - received.at;
      if (quiet >= linger) session.close(1000);
      else setTimeout(check, linger - quiet).unref();
    };
    received.at = Date.now();
    check();
  });
  return rl;
}

/** 0 for a clean close with 1000, 1001 or 1005; otherwise 3, and why on stderr. */
function exitFor(reason: CloseReason): number {
  if (reason.wasClean && (reason.code === 1000 || reason.code === 1001 || reason.code === 1005)) {
    return Exit.Ok;
  }
  console.error(
    `omniws connect: closed with ${reason.code}${reason.reason ? ` (${reason.reason})` : ''}${
      reason.error ? `: ${reason.error.message}` : ''
    }`,
  );
  return Exit.Abnormal;
}

function parseConnectArgs(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      subprotocol: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      origin: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      ca: { type: 'string' },
      binary: { type: 'boolean', default: false },
      linger: { type: 'string' },
      http1: { type: 'boolean', default: false },
      http2: { type: 'boolean', default: false },
      http3: { type: 'boolean', default: false },
      auto: { type: 'boolean', default: false },
      ping: { type: 'string' },
      keylog: { type: 'string' },
      cc: { type: 'string' },
      qlog: { type: 'string' },
      stats: { type: 'boolean', default: false },
      'migrate-after': { type: 'string' },
      'session-file': { type: 'string' },
    },
  });
  const migrateAfter = values['migrate-after'];
  if (migrateAfter !== undefined && !(Number(migrateAfter) >= 0)) {
    throw new Error('--migrate-after takes a number of milliseconds');
  }
  if (migrateAfter !== undefined && !values.http3) {
    throw new Error('--migrate-after moves a QUIC connection: add --http3');
  }
  if (values['session-file'] !== undefined && !values.http3) {
    throw new Error('--session-file keeps QUIC session tickets: add --http3');
  }
  if (values.cc !== undefined && !isCc(values.cc)) {
    throw new Error(`--cc takes ${CONGESTION_CONTROLLERS.join(', ')}`);
  }
  const url = positionals[0];
  if (url === undefined || positionals.length > 1) throw new Error('exactly one URL is needed');
  const picked = [values.http1, values.http2, values.http3, values.auto].filter(Boolean).length;
  if (picked > 1) throw new Error('choose one of --http1, --http2, --http3, --auto');
  const http: HttpChoice = values.http2 ? 2 : values.http3 ? 3 : values.auto ? 'auto' : 1;
  return { url, values, http };
}

function packageVersion(): string | undefined {
  try {
    const pkg = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function isCc(name: string): name is CongestionControl {
  return (CONGESTION_CONTROLLERS as readonly string[]).includes(name);
}

/** A rate: bytes per second, or with a unit (10mbit, 500kbit, 1gbit, 2mbyte). */
export function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|byte|kbyte|mbyte)?$/i.exec(v.trim());
  if (!m)
    throw new Error(
      `--rate takes bytes per second or a number with kbit, mbit, gbit, kbyte, mbyte: ${v}`,
    );
  const n = Number(m[1]);
  const unit = (m[2] ?? 'byte').toLowerCase();
  const bits = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 } as Record<string, number>;
  const bytes = { byte: 1, kbyte: 1e3, mbyte: 1e6 } as Record<string, number>;
  return unit in bits ? (n * bits[unit]!) / 8 : n * bytes[unit]!;
}

async function labCmd(argv: string[]): Promise<number> {
  let lab: Awaited<ReturnType<typeof startLab>>;
  let what: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        to: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        loss: { type: 'string' },
        delay: { type: 'string' },
        jitter: { type: 'string' },
        reorder: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
      },
    });
    const to = /^\[?([^\]]+?)\]?:(\d+)$/.exec(values.to ?? '');
    if (!to) throw new Error('--to HOST:PORT is needed');
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const impairment: Impairment = {
      ...(values.loss !== undefined && { loss: Number(values.loss) / 100 }),
      ...(values.delay !== undefined && { delay: num(values.delay)! }),
      ...(values.jitter !== undefined && { jitter: num(values.jitter)! }),
      ...(values.reorder !== undefined && { reorder: Number(values.reorder) / 100 }),
      ...(values.rate !== undefined && { rate: parseRate(values.rate) }),
    };
    lab = await startLab({
      host: values.host,
      port: num(values.port) ?? 0,
      target: { host: to[1]!, port: Number(to[2]) },
      seed: num(values.seed) ?? 1,
      ...impairment,
    });
    what = `${to[1]}:${to[2]} (loss ${values.loss ?? 0}%, delay ${values.delay ?? 0} ms, jitter ${values.jitter ?? 0} ms, reorder ${values.reorder ?? 0}%, rate ${values.rate ?? 'unlimited'})`;
  } catch (err) {
    console.error(`omniws lab: ${(err as Error).message}\n${USAGE}`);
    return Exit.Usage;
  }
  // listening for the signals before saying we are up: whoever reads that line may stop us
  const stopped = untilStopped();
  console.log(`lab: udp ${lab.host}:${lab.port} → ${what}, each way`);
  await stopped;
  const c = lab.counters;
  console.log(`lab: up ${JSON.stringify(c.up)}, down ${JSON.stringify(c.down)}`);
  await lab.close();
  return Exit.Ok;
}

/** Resolves on the first SIGINT or SIGTERM (listening from now on). */
function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** HTTP/3's QUIC settings from --cc, --qlog and --early-data (none when none is given). */
function quicOf(values: {
  cc?: string | undefined;
  qlog?: string | undefined;
  'early-data'?: boolean | undefined;
}): {
  quic?: { cc?: CongestionControl; qlogDir?: string; earlyData?: boolean };
} {
  if (values.cc === undefined && values.qlog === undefined && !values['early-data']) return {};
  return {
    quic: {
      ...(values.cc !== undefined && { cc: values.cc as CongestionControl }),
      ...(values.qlog !== undefined && { qlogDir: values.qlog }),
      ...(values['early-data'] && { earlyData: true }),
    },
  };
}
