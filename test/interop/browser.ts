// Headless Chromium (Debian's package) driven by playwright-core, with the flags
// this machine needs: no background networking (the network is closed), a fresh
// profile each launch (playwright creates a new temporary user-data-dir per launch).
// Headless Firefox (Debian's firefox-esr) with a fresh profile of our own.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why Chromium cannot run here, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  return `${CHROMIUM} is missing: scripts/test-deps.mjs installs Debian's chromium with apt-get (npm test runs it)`;
}

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // WebTransport to a server whose certificate only the SPKI flag vouches for: the
      // dedicated WebTransport connection honours the flag only in developer mode
      '--webtransport-developer-mode',
      ...extraArgs,
    ],
  });
}

// Firefox: Debian's firefox-esr, headless, started with a URL; it is not automated (the
// interop page reports back: test/interop/firefox.test.ts).

export const FIREFOX = '/usr/bin/firefox-esr';
const CERTUTIL = '/usr/bin/certutil';

/** Why Firefox cannot run here, or undefined when it can. */
export function firefoxMissing(): string | undefined {
  for (const [path, pkg] of [
    [FIREFOX, 'firefox-esr'],
    [CERTUTIL, 'libnss3-tools'],
  ] as const) {
    if (!existsSync(path)) {
      return `${path} is missing: scripts/test-deps.mjs installs Debian's ${pkg} with apt-get (npm test runs it)`;
    }
  }
  return undefined;
}

/**
 * A fresh Firefox profile that starts quietly and, given a CA (PEM file), trusts it (put
 * into the profile's NSS database with certutil).
 */
export async function firefoxProfile(caFile?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'omniws-firefox-'));
  const prefs = {
    'browser.shell.checkDefaultBrowser': false,
    'browser.startup.homepage_override.mstone': 'ignore',
    'datareporting.policy.dataSubmissionEnabled': false,
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'app.update.disabledForTesting': true,
    'network.http.http2.websockets': true,
    // HTTP/3 (WebTransport's) to a server under a root the profile added: Firefox refuses
    // QUIC with such roots unless told otherwise
    'network.http.http3.disable_when_third_party_roots_found': false,
    'network.webtransport.enabled': true,
    'network.webtransport.datagrams.enabled': true,
  };
  await writeFile(
    join(dir, 'user.js'),
    Object.entries(prefs)
      .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
      .join('\n'),
  );
  if (caFile) {
    const db = `sql:${dir}`;
    for (const args of [
      ['-N', '-d', db, '--empty-password'],
      ['-A', '-d', db, '-n', 'omniws test CA', '-t', 'C,,', '-i', caFile],
    ]) {
      const r = spawnSync(CERTUTIL, args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`certutil ${args[0]} failed: ${r.stderr}`);
    }
  }
  return dir;
}
