// The compat layer's rule in .dependency-cruiser.cjs: src/compat imports the layers
// below it but not dev or conformance, and no layer below imports src/compat.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const run = promisify(execFile);

test('compat may not import dev, and server may not import compat; compat → server is fine', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omniws-compat-layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
    }),
    'src/compat/ws/up.ts': "import { d } from '../../dev/d.js';\nexport const up = d;\n",
    'src/compat/ws/down.ts': "import { s } from '../../server/s.js';\nexport const down = s;\n",
    'src/dev/d.ts': 'export const d = 1;\n',
    'src/server/s.ts': 'export const s = 1;\n',
    'src/server/up.ts': "import { down } from '../compat/ws/down.js';\nexport const u = down;\n",
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const { stdout } = await run(
    join(root, 'node_modules', '.bin', 'depcruise'),
    ['--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'json', 'src'],
    { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const violations = (
    JSON.parse(stdout) as { summary: { violations: { rule: { name: string }; from: string }[] } }
  ).summary.violations.map((v) => `${v.rule.name} ${v.from}`);
  t.deepEqual(violations.sort(), [
    'compat-imports-down src/compat/ws/up.ts',
    'server-imports-down src/server/up.ts',
  ]);
});
