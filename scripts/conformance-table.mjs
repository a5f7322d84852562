// Builds the peer table of docs/conformance.md from `omniws conformance` reports:
//   node scripts/conformance-table.mjs NAME=DIR [NAME=DIR…]
// One row per report (its summary), then per report the cases that were not OK or
// INFORMATIONAL, grouped by verdict and by the reason the report gives.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const { VERDICT_ORDER: ORDER } = await import(
  new URL('../dist/src/conformance/report.js', import.meta.url).href
);
const rows = [];
const details = [];
for (const arg of process.argv.slice(2)) {
  const [name, dir] = arg.split('=');
  const r = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const counts = ORDER.map((v) => r.summary[v] ?? 0);
  rows.push(`| ${name} | HTTP/${r.http} | ${r.cases.length} | ${counts.join(' | ')} |`);
  const groups = new Map();
  for (const c of r.cases) {
    if (c.verdict === 'OK' || c.verdict === 'INFORMATIONAL') continue;
    const last = c.trace.filter((l) => l.startsWith('←')).at(-1) ?? '';
    const noClose = c.kind !== 'connect' && c.implClose === null && !c.error;
    const ended = c.ending ?? last.replace(/^← /, '');
    let why;
    if (c.violations[0] && !noClose) why = c.violations[0];
    else if (c.kind === 'connect') why = c.events.join('; ').slice(0, 120);
    else if (noClose) why = `no close frame; then ${ended || 'nothing'}`;
    else if (c.verdict === 'WRONG CODE') {
      const want = /close code ([^,)]*)/.exec(c.expected)?.[1] ?? '?';
      why = `closed with ${c.implClose.code}, expected ${want}`;
    } else if (c.behaviorClose !== 'OK' && c.behavior !== 'FAILED') why = `the close: ${ended}`;
    else
      why = c.events.join('; ').slice(0, 120) || `events ${c.behavior}, close ${c.behaviorClose}`;
    const key = `${c.verdict}: ${why.replace(/\d{2}:\d{2}:\d{2}/g, '…')}`;
    const list = groups.get(key) ?? [];
    list.push(c.id);
    groups.set(key, list);
  }
  if (groups.size > 0) {
    details.push(`\n**${name}, HTTP/${r.http}**\n`);
    for (const [key, ids] of groups) {
      const shown =
        ids.length > 12 ? `${ids.slice(0, 12).join(', ')} … (${ids.length})` : ids.join(', ');
      details.push(`- ${key.replace(/\|/g, '\\|')}: ${shown}`);
    }
  }
}
console.log(`| implementation | over | cases | ${ORDER.join(' | ')} |`);
console.log(`| --- | --- | --- | ${ORDER.map(() => '---').join(' | ')} |`);
for (const r of rows) console.log(r);
console.log(details.join('\n'));
