// Every ```js snippet in README.md and in docs/*.md runs as it is (importing 'omniws'
// through the package's own exports) and prints what its `console.log(…); // expected`
// comments say. (The ```ts snippet of docs/client.md is compiled as
// test/whatwg/types.test.ts.)

import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

/** Snippets before README.md became a landing page (README 5, docs/http.md 6, docs/client.md 2). */
const SNIPPETS_BEFORE = 13;

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const snippets = docs.flatMap((doc) =>
  [...readFileSync(join(root, doc), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m, i) => ({
    doc,
    n: i + 1,
    code: m[1] ?? '',
  })),
);

test('README.md has a snippet, and no snippet was lost in the move to docs/', (t) => {
  t.true(snippets.filter((s) => s.doc === 'README.md').length >= 1);
  t.true(snippets.length >= SNIPPETS_BEFORE, `${snippets.length} snippets`);
});

test('README.md links every page of docs/', (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  for (const doc of docs.slice(1)) t.true(readme.includes(`](${doc})`), `${doc} is not linked`);
});

for (const { doc, n, code } of snippets) {
  test(`${doc} snippet ${n} runs and prints what it says`, async (t) => {
    const dir = join(root, 'dist', 'docs-snippets');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${doc.replace(/[/.]/g, '-')}-snippet-${n}.mjs`);
    writeFileSync(file, code);
    const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
    const expected = [...code.matchAll(/console\.log\(.*\/\/ (.+)$/gm)].map((m) => m[1]!.trim());
    t.true(expected.length > 0, 'the snippet says what it prints');
    for (const e of expected) t.true(stdout.includes(e), `expected "${e}" in:\n${stdout}`);
  });
}
