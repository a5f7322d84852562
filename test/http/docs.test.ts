// Every ```js snippet in docs/http.md runs as it is (importing 'omniws' through the
// package's own exports) and prints what its `console.log(…); // expected` comments say.

import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'http.md'), 'utf8');
const snippets = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
const run = promisify(execFile);

test('docs/http.md has snippets to run', (t) => {
  t.true(snippets.length >= 6);
});

snippets.forEach((code, i) => {
  test(`docs/http.md snippet ${i + 1} runs and prints what it says`, async (t) => {
    const dir = join(root, 'dist', 'docs-http');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `snippet-${i + 1}.mjs`);
    writeFileSync(file, code);
    const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
    const expected = [...code.matchAll(/console\.log\(.*\/\/ (.+)$/gm)].map((m) => m[1]!.trim());
    t.true(expected.length > 0, 'the snippet says what it prints');
    for (const e of expected) {
      t.true(stdout.includes(e), `expected "${e}" in:\n${stdout}`);
    }
  });
});
