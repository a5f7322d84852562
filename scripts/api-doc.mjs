// Writes docs/api.md: every export of every entry point of the package (the root and
// the subpaths in package.json "exports"), its kind, and the first sentence of the doc
// comment where it is declared; deprecated names with what replaces them.
//   node scripts/api-doc.mjs          write docs/api.md
//   node scripts/api-doc.mjs --check  exit 1 when docs/api.md differs from the code
// The entry points are lists of `export { … } from` statements; names are followed
// through re-exports (`export { x } from`, `export *`) to their declaration.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** package.json "exports" → [subpath, source .ts file]. */
function entries() {
  const out = [];
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object') continue;
    const js = target.default.replace(/^\.\/dist\//, '');
    out.push([
      sub === '.' ? 'omniws' : `omniws/${sub.slice(2)}`,
      join(root, js.replace(/\.js$/, '.ts')),
    ]);
  }
  return out;
}

const sources = new Map();
function source(file) {
  if (!sources.has(file)) sources.set(file, readFileSync(file, 'utf8'));
  return sources.get(file);
}

function resolveSpec(from, spec) {
  const file = resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
  return existsSync(file) ? file : null;
}

/** The doc comment right before `index` in `text` (its first sentence), if any. */
function docBefore(text, index) {
  const before = text.slice(0, index).trimEnd();
  if (!before.endsWith('*/')) return { summary: '', deprecated: null };
  const start = before.lastIndexOf('/**');
  if (start < 0) return { summary: '', deprecated: null };
  const body = before
    .slice(start + 3, -2)
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .join(' ')
    .trim();
  const dep = /@deprecated\s*([^@]*)/.exec(body);
  const text1 = body.replace(/@\w+[^@]*/g, '').trim();
  // "e.g." and "i.e." do not end a sentence
  const masked = text1.replace(/\b(e\.g|i\.e)\./g, (m) => m.replace(/\./g, '\u0000'));
  let sentence = (/^(.*?[.!?])(\s|$)/.exec(masked)?.[1] ?? masked).replace(/\u0000/g, '.');
  if (sentence.length > 180) sentence = `${sentence.slice(0, 170).replace(/\s+\S*$/, '')}…`;
  const deprecated = dep ? dep[1].trim().replace(/\.$/, '') : null;
  return { summary: sentence.replace(/\|/g, '\\|'), deprecated };
}

const DECL =
  /export\s+(?:declare\s+)?(?:default\s+)?(abstract\s+class|class|async\s+function|function|const|let|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g;

/** Find where `name` is declared, starting at `file`: { kind, summary, file }. */
function declaration(file, name, seen = new Set()) {
  const key = `${file}#${name}`;
  if (seen.has(key)) return null;
  seen.add(key);
  const text = source(file);
  for (const m of text.matchAll(DECL)) {
    if (m[2] !== name) continue;
    const kind = m[1].replace(/^async\s+/, '').replace(/^abstract\s+/, '');
    const doc = docBefore(text, m.index);
    // an undocumented constant with a short literal value says what it is by its value
    const value = /^\s*(?::[^=]+)?=\s*([^;\n]{1,40});/.exec(text.slice(m.index + m[0].length));
    if (
      !doc.summary &&
      kind === 'const' &&
      value &&
      /^(-?\d[\w.]*|'[^']*'|"[^"]*")$/.test(value[1].trim())
    ) {
      doc.summary = `\`${value[1].trim()}\``;
    }
    return { kind: kind === 'let' ? 'const' : kind, ...doc, file };
  }
  // re-exports: export { a, b as c } from '…'
  for (const m of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
    for (const item of m[1]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [orig, alias] = item.replace(/^type\s+/, '').split(/\s+as\s+/);
      if ((alias ?? orig) !== name) continue;
      const target = resolveSpec(file, m[2]);
      if (target) return declaration(target, orig, seen);
    }
  }
  for (const m of text.matchAll(/export\s+\*\s+from\s+'([^']+)'/g)) {
    const target = resolveSpec(file, m[1]);
    const d = target && declaration(target, name, seen);
    if (d) return d;
  }
  return null;
}

/** Every name an entry file exports, with the entry's own deprecation note. */
function exportsOf(file) {
  const text = source(file);
  const names = [];
  for (const m of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
    const note = docBefore(text, m.index).deprecated;
    for (const item of m[2]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const typeOnly = Boolean(m[1]) || item.startsWith('type ');
      const [orig, alias] = item.replace(/^type\s+/, '').split(/\s+as\s+/);
      names.push({ name: alias ?? orig, orig, from: resolveSpec(file, m[3]), typeOnly, note });
    }
  }
  for (const m of text.matchAll(/export\s+\*\s+from\s+'([^']+)'/g)) {
    const target = resolveSpec(file, m[1]);
    for (const d of source(target).matchAll(DECL)) {
      names.push({ name: d[2], orig: d[2], from: target, typeOnly: false, note: null });
    }
  }
  return names;
}

export function render() {
  const lines = [
    '# The public API',
    '',
    'Every export of every entry point, generated from the code by `node scripts/api-doc.mjs`',
    '(`npm test` fails when this page and the code differ). The root is what an application',
    'needs; the subpaths hold the building blocks. Importing `omniws`, `omniws/protocol` or',
    "`omniws/dev` loads no native code; `omniws/h3` loads quiche's binding. Names marked",
    'deprecated keep working until 0.3: [CHANGELOG.md](../CHANGELOG.md) says what replaces them.',
  ];
  const sources = entries()
    .map(([entry, file]) => `\`${entry}\` (\`${relative(root, file)}\`)`)
    .join(', ');
  lines.push('', `Entry points: ${sources}.`, '');
  lines.push('| import from | name | kind | what it is |', '| --- | --- | --- | --- |');
  for (const [entry, file] of entries()) {
    const rows = exportsOf(file)
      .map((e) => {
        const d = declaration(e.from, e.orig);
        if (!d) throw new Error(`api-doc: no declaration of ${e.orig} for ${entry}`);
        const kind =
          e.typeOnly && !['interface', 'type'].includes(d.kind) ? `${d.kind} (type)` : d.kind;
        const note = e.note ?? d.deprecated;
        const what = [
          note !== null && note !== undefined ? `**deprecated**: ${note}.` : '',
          d.summary,
        ]
          .filter(Boolean)
          .join(' ');
        return { name: e.name, kind, what, where: relative(root, d.file) };
      })
      .sort((x, y) => x.name.localeCompare(y.name));
    for (const r of rows) {
      lines.push(`| \`${entry}\` | \`${r.name}\` | ${r.kind} | ${r.what} (\`${r.where}\`) |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const out = join(root, 'docs', 'api.md');
  const text = render();
  if (process.argv.includes('--check')) {
    const now = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (now !== text) {
      console.error('docs/api.md differs from the code: run node scripts/api-doc.mjs');
      process.exit(1);
    }
  } else {
    writeFileSync(out, text);
    console.log(`wrote ${relative(root, out)}`);
  }
}
