// The report of a conformance run: DIR/index.json (the SuiteResult as is) and a
// self-contained DIR/index.html (no scripts, no external files): the summary, then one
// row per case with its verdict, what was expected and observed, the RFC sections it
// checks, and the wire trace under a <details>.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Verdict } from './runner.js';
import type { CaseResult, SuiteResult } from './suite.js';

/** The verdicts from best to worst, as reports and the peer table list them. */
export const VERDICT_ORDER: readonly Verdict[] = [
  'OK',
  'NON-STRICT',
  'INFORMATIONAL',
  'UNIMPLEMENTED',
  'WRONG CODE',
  'UNCLEAN',
  'FAILED BY CLIENT',
  'FAILED',
];

const COLOR: Record<Verdict, string> = {
  OK: '#2e7d32',
  'NON-STRICT': '#9e9d24',
  INFORMATIONAL: '#1565c0',
  UNIMPLEMENTED: '#757575',
  'WRONG CODE': '#ef6c00',
  UNCLEAN: '#ef6c00',
  'FAILED BY CLIENT': '#c62828',
  FAILED: '#c62828',
};

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );
}

/** The verdicts a run must not have for `omniws conformance` to exit 0. */
export function failedCount(r: SuiteResult): number {
  return (r.summary.FAILED ?? 0) + (r.summary['FAILED BY CLIENT'] ?? 0);
}

/** One line: "517 cases: 510 OK, 7 NON-STRICT". */
export function summaryLine(r: Pick<SuiteResult, 'summary' | 'cases'>): string {
  const parts = VERDICT_ORDER.filter((v) => r.summary[v]).map((v) => `${r.summary[v]} ${v}`);
  return `${r.cases.length} cases: ${parts.join(', ') || 'none run'}`;
}

function observed(c: CaseResult): string {
  const lines = [...c.events];
  if (c.kind === 'connect') return lines.join('\n');
  if (c.implClose) {
    lines.push(
      `close frame from the implementation: ${c.implClose.code}${c.implClose.reason ? ` ${JSON.stringify(c.implClose.reason)}` : ''}`,
    );
  } else if (!c.error) lines.push('no close frame from the implementation');
  if (c.ending) lines.push(`the stream: ${c.ending}`);
  if (!c.error) {
    lines.push(
      `${c.closedByPeer ? 'the peer' : 'the implementation'} closed first; ${c.wasClean ? 'clean' : 'not clean'}; ${c.implClosedTcp ? 'connection closed by the implementation' : 'the peer had to kill the connection'}`,
    );
  }
  for (const v of c.violations) lines.push(`violation: ${v}`);
  return lines.join('\n');
}

function row(c: CaseResult): string {
  const trace = c.trace.length
    ? `<details><summary>wire (${c.trace.length} lines)</summary><pre>${esc(c.trace.join('\n'))}</pre></details>`
    : '';
  return `<tr id="case-${esc(c.id)}">
<td><a href="#case-${esc(c.id)}">${esc(c.id)}</a></td>
<td><span class="v" style="background:${COLOR[c.verdict]}">${esc(c.verdict)}</span><br><small>${c.ms} ms</small></td>
<td>${esc(c.description)}</td>
<td><pre>${esc(c.expected)}</pre></td>
<td><pre>${esc(observed(c))}</pre>${trace}</td>
<td>${esc(c.rfc.join(', '))}</td>
</tr>`;
}

export function renderHtml(r: SuiteResult): string {
  const counts = VERDICT_ORDER.filter((v) => r.summary[v])
    .map((v) => `<span class="v" style="background:${COLOR[v]}">${r.summary[v]} ${esc(v)}</span>`)
    .join(' ');
  const who = r.mode === 'server' ? 'server' : 'client';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>omniws conformance: ${esc(r.target)} over HTTP/${esc(r.http)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}
pre{margin:0;white-space:pre-wrap;font:12px/1.35 ui-monospace,monospace}
.v{color:#fff;border-radius:3px;padding:0 .4em;white-space:nowrap;font-weight:600}
</style></head><body>
<h1>WebSocket conformance of a ${who}</h1>
<p><b>${esc(r.target)}</b> over HTTP/${esc(r.http)}${r.agent ? `, agent <b>${esc(r.agent)}</b>` : ''}; ${esc(r.started)} to ${esc(r.finished)}; ${esc(r.tool)}.</p>
<p>${esc(summaryLine(r))}</p><p>${counts}</p>
<p>Verdicts as Autobahn|Testsuite gives them. FAILED: the events or frames break the RFC section named in the last column; UNIMPLEMENTED: permessage-deflate was not agreed.</p>
<table><thead><tr><th>case</th><th>verdict</th><th>what the peer does</th><th>expected</th><th>observed</th><th>checks</th></tr></thead>
<tbody>
${r.cases.map(row).join('\n')}
</tbody></table></body></html>
`;
}

/** Write DIR/index.json and DIR/index.html. */
export async function writeReport(dir: string, r: SuiteResult): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'index.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(join(dir, 'index.html'), renderHtml(r));
}
