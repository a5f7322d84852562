// `npm test`: prepare (npm ci when needed, fresh build), lint + format check with
// Biome, the layers of src/ (no import cycle, no upward import: .dependency-cruiser.cjs),
// then every ava test. Ends with one plain line "N passed, N failed" (what
// CI reads) and exits non-zero on any failure.
//   node scripts/test.mjs [ava file globs…]    run a subset
//   OMNIWS_SOAK=1 npm test                     also run the long soak/fuzz tests
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = process.argv.slice(2);

// a fresh dist/test so that tests whose sources were deleted cannot run
rmSync(join(root, 'dist', 'test'), { recursive: true, force: true });
const prep = spawnSync(process.execPath, [join(root, 'scripts', 'prepare.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (prep.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const setup = spawnSync(process.execPath, [join(root, 'scripts', 'test-deps.mjs')], {
  cwd: root,
  stdio: 'inherit',
});
if (setup.status !== 0)
  console.error('test: installing interop peers failed; their tests will say why');

let lintFailed = 0;
if (files.length === 0) {
  const lint = spawnSync(join(root, 'node_modules', '.bin', 'biome'), ['ci', '--colors=off', '.'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (lint.status !== 0) {
    console.error('test: biome ci found problems (npm run format fixes formatting)');
    lintFailed = 1;
  }
  const layers = spawnSync(
    join(root, 'node_modules', '.bin', 'depcruise'),
    ['--config', '.dependency-cruiser.cjs', '--output-type', 'err', 'src'],
    { cwd: root, stdio: 'inherit' },
  );
  if (layers.status !== 0) {
    console.error('test: an import cycle or an upward import in src/ (see README, "Layout")');
    lintFailed += 1;
  }
}

const ava = spawn(
  process.execPath,
  [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...files],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
let passed = 0;
let failed = 0;
let buf = '';
ava.stdout.setEncoding('utf8');
ava.stdout.on('data', (d) => {
  process.stdout.write(d);
  buf += d;
  let i = buf.indexOf('\n');
  while (i >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    // skipped and todo tests count as neither
    const counted = !/# (SKIP|TODO)/.test(line);
    if (counted && /^ok \d+/.test(line)) passed++;
    else if (counted && /^not ok \d+/.test(line)) failed++;
    i = buf.indexOf('\n');
  }
});
ava.on('close', (code) => {
  failed += lintFailed;
  if (code !== 0 && failed === 0) failed = 1; // ava failed outside a test (crash, timeout)
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
});
