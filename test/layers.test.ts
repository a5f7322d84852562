// The layering checker (.dependency-cruiser.cjs, run by `npm test`): src/ passes it, and
// it fails a tree with an import cycle, an upward import, a socket in the engine, or a
// second file loading the QUIC binding, naming the rule each breaks.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');
const run = promisify(execFile);

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function cruise(cwd: string): Promise<Violation[]> {
  const { stdout } = await run(depcruise, ['--config', config, '--output-type', 'json', 'src'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

test('src/ has no import cycle and no upward import', async (t) => {
  const violations = await cruise(root);
  t.deepEqual(
    violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  );
});

test('the checker fails a cycle, an upward import, a socket in the engine, a second QUIC file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omniws-layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
    }),
    // a cycle inside one layer
    'src/ws/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'src/ws/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    // the engine reaching up into the server layer, and for a socket
    'src/ws/up.ts':
      "import { s } from '../server/s.js';\nimport net from 'node:net';\nexport const up = [s, net];\n",
    'src/server/s.ts': 'export const s = 1;\n',
    // a wire module reaching up into the client layer
    'src/h2/w.ts': "import { c } from '../client/c.js';\nexport const w = c;\n",
    'src/client/c.ts': 'export const c = 1;\n',
    // the QUIC binding loaded outside src/h3/quic.ts
    'src/h3/other.ts': "import '@matrixai/quic/native/index.js';\nexport const o = 1;\n",
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const seen = new Set((await cruise(dir)).map((v) => `${v.rule.name} ${v.from}`));
  for (const expected of [
    'no-circular src/ws/a.ts',
    'ws-imports-down src/ws/up.ts',
    'ws-no-sockets src/ws/up.ts',
    'wire-imports-down src/h2/w.ts',
    'one-quic-file src/h3/other.ts',
  ]) {
    t.true(seen.has(expected), `${expected} in ${[...seen].join(', ')}`);
  }
});
