// `omniws conformance server URL` and `omniws conformance client`: the case table as a
// tool for any implementation (docs/conformance.md). Prints progress (a line that
// rewrites itself on a terminal, one line per case that is not OK), writes the report,
// and exits 0 only when nothing FAILED.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Agent } from '../client/agent.js';
import { connect } from '../client/connect.js';
import { ensureCerts } from '../dev/certs.js';
import { type Handler, reply } from '../ws/handler.js';
import { runConnectCases } from './connect-cases.js';
import { startFuzzingServer } from './fuzzing-server.js';
import { remoteServerDriver } from './remote.js';
import { failedCount, summaryLine, writeReport } from './report.js';
import {
  type CaseResult,
  matcher,
  runSuite,
  type SuiteResult,
  selectCases,
  summarize,
} from './suite.js';

export const CONFORMANCE_USAGE = `usage:
  omniws conformance server URL [--http 1|2|3] [--cases PATTERN] [--exclude PATTERN]
                     [--report DIR] [--quick] [--insecure | --ca FILE]
  omniws conformance client [--port P] [--tls-port P2] [--host H] [--cases PATTERN]
                     [--report DIR] [--quick] [--certs DIR] [--no-http3] [--reference]`;

const TOOL = 'omniws conformance';

export function toolName(version: string | undefined): string {
  return version ? `${TOOL} ${version}` : TOOL;
}

/** Progress for a long run: a self-rewriting line on a TTY; what is not OK, always. */
export function progress(out: NodeJS.WriteStream = process.stderr) {
  const tty = out.isTTY === true;
  let width = 0;
  return (r: CaseResult, i: number, total: number) => {
    if (tty) {
      const line = `[${i + 1}/${total}] ${r.id} ${r.verdict}`;
      out.write(`\r${line.padEnd(width)}`);
      width = line.length;
      if (i + 1 === total) out.write('\n');
    }
    if (r.verdict !== 'OK' && r.verdict !== 'INFORMATIONAL') {
      const why = r.error ?? r.violations[0] ?? `events ${r.behavior}, close ${r.behaviorClose}`;
      out.write(`${tty ? '\r\x1b[K' : ''}${r.id} ${r.verdict}: ${why}\n`);
    }
  };
}

function sizesOf(quick: boolean) {
  // --quick: what `npm test` runs (9.3–9.6 at a quarter of Autobahn's sizes, 5 round trips
  // in 12.x/13.x instead of 1000)
  return quick ? { group9Scale: 4, deflateCount: 5 } : { group9Scale: 1, deflateCount: 1000 };
}

async function serverCmd(argv: string[], version?: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      http: { type: 'string', default: '1' },
      cases: { type: 'string' },
      exclude: { type: 'string' },
      report: { type: 'string' },
      quick: { type: 'boolean', default: false },
      insecure: { type: 'boolean', default: false },
      ca: { type: 'string' },
    },
  });
  const http = Number(values.http);
  if (positionals.length !== 1 || ![1, 2, 3].includes(http)) {
    console.error(CONFORMANCE_USAGE);
    return 2;
  }
  const url = new URL(positionals[0]!);
  const tls = {
    ...(values.insecure && { rejectUnauthorized: false }),
    ...(values.ca !== undefined && { ca: readFileSync(values.ca) }),
  };
  const cases = selectCases({
    role: 'server',
    cases: values.cases,
    exclude: values.exclude,
    foreign: true,
    ...sizesOf(values.quick),
  });
  const started = new Date().toISOString();
  const driver = await remoteServerDriver({ url, http: http as 1 | 2 | 3, tls });
  const show = progress();
  let results: CaseResult[];
  try {
    // groups 20 and 21 (HTTP/2 and HTTP/3 only): the extended CONNECT and its stream
    const take = matcher(values.cases) ?? (() => true);
    const drop = matcher(values.exclude) ?? (() => false);
    const connect = await runConnectCases(
      { url, http: http as 1 | 2 | 3, tls },
      (id) => take(id) && !drop(id),
      show,
    );
    results = [...(await runSuite(driver, cases, { onCase: show })), ...connect];
  } finally {
    await driver.close();
  }
  const result: SuiteResult = {
    tool: toolName(version),
    mode: 'server',
    target: url.href,
    http: http === 1 ? '1.1' : String(http),
    started,
    finished: new Date().toISOString(),
    summary: summarize(results),
    cases: results,
  };
  if (values.report !== undefined) {
    await writeReport(values.report, result);
    console.log(`report: ${values.report}/index.html`);
  }
  console.log(summaryLine(result));
  return failedCount(result) === 0 ? 0 : 1;
}

const echo: Handler<null> = { handleIn: (m, s) => reply(s, m.data) };

/**
 * The omniws client through every case on each HTTP version (agent "omniws"): the
 * reference run of `--reference`, and what `npm test` checks the fuzzing server with.
 */
export async function runReferenceClient(
  base: { plain: string; secure: string },
  count: number,
  ca: Buffer,
  versions: readonly (1 | 2 | 3)[],
  deflateOf: (i: number) => object | undefined,
): Promise<void> {
  const agent = new Agent();
  try {
    for (const http of versions) {
      const origin = http === 1 ? base.plain : base.secure;
      for (let i = 1; i <= count; i++) {
        const pmd = deflateOf(i);
        try {
          const session = await connect(`${origin}/runCase?case=${i}&agent=omniws`, {
            http,
            agent,
            handler: echo,
            state: null,
            tls: { ca, servername: 'localhost' },
            closeTimeout: 3000,
            ...(pmd !== undefined && { perMessageDeflate: pmd }),
          });
          await session.closed;
        } catch {
          // the case's report says what went wrong
        }
      }
      const last = await connect(`${origin}/updateReports?agent=omniws`, {
        http,
        agent,
        handler: echo,
        state: null,
        tls: { ca, servername: 'localhost' },
      });
      await last.closed;
    }
  } finally {
    agent.close();
  }
}

async function clientCmd(argv: string[], version?: string): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '9001' },
      'tls-port': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      cases: { type: 'string' },
      exclude: { type: 'string' },
      report: { type: 'string' },
      quick: { type: 'boolean', default: false },
      certs: { type: 'string' },
      'no-http3': { type: 'boolean', default: false },
      reference: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  const tlsPort =
    values['tls-port'] !== undefined ? Number(values['tls-port']) : port === 0 ? 0 : port + 1;
  const paths = await ensureCerts(values.certs);
  const cases = selectCases({
    role: 'client',
    cases: values.cases,
    exclude: values.exclude,
    foreign: true,
    ...sizesOf(values.quick),
  });
  const show = progress();
  const server = await startFuzzingServer({
    host: values.host,
    port,
    tlsPort,
    cert: readFileSync(paths.cert),
    key: readFileSync(paths.key),
    http3: !values['no-http3'],
    cases,
    reportDir: values.report,
    tool: toolName(version),
    onCase: (key, r, total) =>
      show({ ...r, id: `${key} ${r.id}` }, cases.indexOf(cases.find((c) => c.id === r.id)!), total),
  });
  const plain = `ws://localhost:${server.port}`;
  const secure = `wss://localhost:${server.tlsPort}`;
  if (values.reference) {
    const versions: (1 | 2 | 3)[] = values['no-http3'] ? [1, 2] : [1, 2, 3];
    await runReferenceClient(
      { plain, secure },
      cases.length,
      readFileSync(paths.ca),
      versions,
      (i) => {
        const c = cases[i - 1]!;
        return c.deflate ? c.impl?.perMessageDeflate : undefined;
      },
    );
    let failed = 0;
    for (const key of server.results.keys()) {
      const r = server.result(key)!;
      console.log(`${key}: ${summaryLine(r)}`);
      failed += failedCount(r);
    }
    if (values.report !== undefined) console.log(`report: ${values.report}/`);
    await server.close();
    return failed === 0 ? 0 : 1;
  }
  // the signals are ours before the lines that say we are up: whoever reads them may
  // send one at once
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const page = `https://localhost:${server.tlsPort}/`;
  console.log(`conformance cases for clients: ${cases.length}`);
  console.log(`  ws://  (HTTP/1.1)         ${plain}/runCase?case=N&agent=NAME (Autobahn's URLs)`);
  console.log(`  wss:// (HTTP/1.1, HTTP/2)  ${secure}/runCase?case=N&agent=NAME`);
  if (!values['no-http3']) console.log(`  HTTP/3 (UDP ${server.tlsPort})     the same wss:// URLs`);
  console.log(`browser page: http://localhost:${server.port}/ (HTTP/1.1), ${page} (HTTP/2)`);
  console.log(
    `  Chromium: chromium --ignore-certificate-errors-spki-list=${paths.spkiSha256} ${page}`,
  );
  if (!values['no-http3']) {
    console.log(
      `  Chromium, HTTP/3: chromium --ignore-certificate-errors-spki-list=${paths.spkiSha256} --enable-quic --origin-to-force-quic-on=localhost:${server.tlsPort} --enable-features=EnableWebsocketsOverHttp3 ${page}`,
    );
  }
  console.log(
    `reports: http://localhost:${server.port}/report/${values.report ? ` and ${values.report}/` : ''}`,
  );
  await stopped;
  await server.close();
  return 0;
}

export async function conformanceCmd(argv: string[], version?: string): Promise<number> {
  const [mode, ...rest] = argv;
  if (mode === 'server') return serverCmd(rest, version);
  if (mode === 'client') return clientCmd(rest, version);
  console.error(CONFORMANCE_USAGE);
  return mode === undefined || mode === '--help' ? 0 : 2;
}
