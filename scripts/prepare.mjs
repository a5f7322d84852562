// Makes a fresh clone runnable: installs dependencies with `npm ci` (falling back
// to `npm install`) when node_modules is missing or older than package-lock.json,
// then compiles TypeScript to dist/ (fast enough with native tsc to do every time).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');

function run(cmd, args) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
  });
  if (r.status !== 0) {
    console.error(`prepare: ${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const stamp = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
  console.error('prepare: installing dependencies (npm ci)');
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (ci.status !== 0) {
    // The registry here lacks some other platforms' optional binaries (Biome's, QUIC's), so
    // package-lock.json lists them as stubs; should npm ci still refuse, npm install copes.
    console.error('prepare: npm ci failed; trying npm install');
    run('npm', ['install', '--no-audit', '--no-fund']);
  }
}
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);
