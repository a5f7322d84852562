// One run of the case table against one implementation: which cases (Autobahn's
// patterns), at which sizes, one after another through a PeerDriver, each judged by the
// runner and collected into a SuiteResult for the report. A case that cannot even start
// (no 101, no 200, no SETTINGS_ENABLE_CONNECT_PROTOCOL) is FAILED with the reason.

import { type Case, caseTable, compareIds } from './cases.js';
import { deflateCaseTable } from './cases-deflate.js';
import type { PeerDriver } from './peer.js';
import { type Report, runCase, type Verdict } from './runner.js';

export interface SelectOptions {
  /** The implementation's role: picks the 12.x / 13.x variants. */
  role: 'server' | 'client';
  /** Autobahn's case patterns, comma-separated: `1.*,2.1,9.1.*` (default: all). */
  cases?: string | undefined;
  /** Cases to leave out, the same way. */
  exclude?: string | undefined;
  /** Divide the sizes of 9.3–9.6 by this (default 1: Autobahn's sizes). */
  group9Scale?: number;
  /** Round trips per case of groups 12 and 13 (default 1000, Autobahn's). */
  deflateCount?: number;
  /** Only cases that any implementation can be judged by (none of omniws' own settings). */
  foreign?: boolean;
}

export function matcher(patterns: string | undefined): ((id: string) => boolean) | null {
  if (patterns === undefined || patterns.trim() === '') return null;
  const res = patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`));
  return (id) => res.some((re) => re.test(id));
}

/** The cases of a run, in Autobahn's order. */
export function selectCases(opts: SelectOptions): Case[] {
  const all = [
    ...caseTable({ group9Scale: opts.group9Scale ?? 1 }).values(),
    ...deflateCaseTable({ count: opts.deflateCount ?? 1000 })[opts.role].values(),
  ].flat();
  const take = matcher(opts.cases);
  const drop = matcher(opts.exclude);
  return all
    .filter((c) => !opts.foreign || (c.echoFrames === undefined && !c.impl?.fragmentSize))
    .filter((c) => (take === null || take(c.id)) && (drop === null || !drop(c.id)))
    .sort((a, b) => compareIds(a.id, b.id));
}

export interface CaseResult extends Report {
  description: string;
  /** 'connect': a case of groups 20–21 (the extended CONNECT and its stream), not frames. */
  kind?: 'connect';
  /** Why the case could not run (the handshake failed), if it could not. */
  error?: string;
}

export interface SuiteResult {
  tool: string;
  /** 'server': a server was tested (the peer is the client); 'client': the reverse. */
  mode: 'server' | 'client';
  target: string;
  http: string;
  agent?: string;
  started: string;
  finished: string;
  summary: Partial<Record<Verdict, number>>;
  cases: CaseResult[];
}

export function summarize(cases: readonly CaseResult[]): Partial<Record<Verdict, number>> {
  const out: Partial<Record<Verdict, number>> = {};
  for (const c of cases) out[c.verdict] = (out[c.verdict] ?? 0) + 1;
  return out;
}

/** A case that never got a WebSocket: FAILED, saying why. */
export function failedToOpen(c: Case, transport: string, err: unknown): CaseResult {
  const msg = err instanceof Error ? err.message : String(err);
  const rfc =
    transport === 'h1'
      ? ['RFC 6455 §4.1', '§4.2.2']
      : transport === 'h2'
        ? ['RFC 8441 §3', '§4', '§5']
        : ['RFC 9220 §3', 'RFC 8441 §4'];
  return {
    id: c.id,
    description: c.description,
    verdict: 'FAILED',
    behavior: 'FAILED',
    behaviorClose: 'FAILED',
    events: [],
    implClose: null,
    closedByPeer: false,
    wasClean: false,
    implClosedTcp: false,
    violations: [`the opening handshake failed: ${msg}`],
    rfc,
    expected: 'a WebSocket (101, or 200 to the extended CONNECT)',
    trace: [],
    ending: '',
    ms: 0,
    error: msg,
  };
}

/** Run one case; a failed opening handshake becomes a FAILED result. */
export async function runOne(driver: PeerDriver, c: Case): Promise<CaseResult> {
  try {
    return { ...(await runCase(driver, c)), description: c.description };
  } catch (err) {
    return failedToOpen(c, driver.transport, err);
  }
}

export interface RunOptions {
  /** Called after each case (progress on a terminal). */
  onCase?: (r: CaseResult, index: number, total: number) => void;
}

/** Every case through the driver, one after another. */
export async function runSuite(
  driver: PeerDriver,
  cases: readonly Case[],
  opts: RunOptions = {},
): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const r = await runOne(driver, c);
    out.push(r);
    opts.onCase?.(r, i, cases.length);
  }
  return out;
}
