// The docs say only what the code has: docs/api.md is what scripts/api-doc.mjs makes of
// the entry points; every error code of the ErrorCode union is in docs/errors.md and no
// other is; every flag of `omniws serve` / `omniws connect` is in docs/cli.md and no
// other is; every option named in an options table exists in src/; relative links
// between the docs lead to files that exist.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const docs = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`),
];

function srcFiles(dir = join(root, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? srcFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** Markdown table rows: [header cells, rows of cells]. */
function tables(md: string): { header: string[]; rows: string[][] }[] {
  const out: { header: string[]; rows: string[][] }[] = [];
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  const lines = md.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    const t = { header: cells(lines[i]!), rows: [] as string[][] };
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim().startsWith('|'); j++) t.rows.push(cells(lines[j]!));
    out.push(t);
    i = j;
  }
  return out;
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

test('docs/api.md is what scripts/api-doc.mjs makes of the code', async (t) => {
  const { render } = (await import(pathToFileURL(join(root, 'scripts', 'api-doc.mjs')).href)) as {
    render(): string;
  };
  t.is(read('docs/api.md'), render(), 'run node scripts/api-doc.mjs');
});

test('docs/errors.md documents every error code, and only those', (t) => {
  const union = read('src/ws/errors.ts').match(/export type ErrorCode =([\s\S]*?);/)![1]!;
  const inCode = new Set([...union.matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]!));
  const documented = new Set<string>();
  for (const table of tables(read('docs/errors.md'))) {
    for (const row of table.rows) {
      for (const c of codeSpans(row[0] ?? ''))
        if (/^[A-Z0-9_]*ERR[A-Z0-9_]*$/.test(c)) documented.add(c);
    }
  }
  t.true(inCode.size > 30);
  t.deepEqual(
    [...inCode].filter((c) => !documented.has(c)),
    [],
    'codes without a row',
  );
  t.deepEqual(
    [...documented].filter((c) => !inCode.has(c)),
    [],
    'rows for codes that do not exist',
  );
});

test('docs/cli.md documents every flag of the command, and only those', (t) => {
  const cli = read('src/cli.ts');
  const inCode = new Set<string>();
  for (const block of cli.matchAll(/options:\s*\{([\s\S]*?)\n\s{4}\}/g)) {
    for (const m of block[1]!.matchAll(/^\s*'?([a-z][a-z0-9-]*)'?:\s*\{\s*type:/gm))
      inCode.add(`--${m[1]}`);
  }
  const documented = new Set<string>();
  for (const table of tables(read('docs/cli.md'))) {
    for (const row of table.rows) {
      for (const c of codeSpans(row[0] ?? '')) {
        for (const f of c.matchAll(/--[a-z][a-z0-9-]*/g)) documented.add(f[0]);
      }
    }
  }
  t.true(inCode.size >= 15);
  t.deepEqual(
    [...inCode].filter((f) => !documented.has(f)),
    [],
    'flags without a row',
  );
  t.deepEqual(
    [...documented].filter((f) => !inCode.has(f)),
    [],
    'rows for flags that do not exist',
  );
});

test('every option named in an options table exists in src/', (t) => {
  const declared = new Set<string>();
  for (const f of srcFiles()) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s+(?:readonly\s+)?([A-Za-z_]\w*)\??:/gm)) {
      declared.add(m[1]!);
    }
  }
  const unknown: string[] = [];
  let checked = 0;
  for (const doc of docs) {
    for (const table of tables(read(doc))) {
      if (!/^(option|limit)s?$/i.test(table.header[0] ?? '')) continue;
      for (const row of table.rows) {
        for (const c of codeSpans(row[0] ?? '')) {
          // `a` / `b` and `a: value` name options; `quic.maxIdleTimeout` names one inside another
          const name = c.split(/[.:(\s=]/)[0]!;
          if (!/^[a-z]\w*$/.test(name)) continue;
          checked++;
          if (!declared.has(name)) unknown.push(`${doc}: ${c}`);
        }
      }
    }
  }
  t.true(checked > 20, `only ${checked} options checked`);
  t.deepEqual(unknown, []);
});

test('relative links between the docs lead to files that exist', (t) => {
  const broken: string[] = [];
  for (const doc of docs) {
    for (const m of read(doc).matchAll(/\]\((?!https?:|mailto:|#)([^)\s#]+)(#[^)]*)?\)/g)) {
      const target = resolve(dirname(join(root, doc)), m[1]!);
      if (!existsSync(target)) broken.push(`${doc} → ${m[1]}`);
    }
  }
  t.deepEqual(broken, []);
});
