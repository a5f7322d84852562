// Firefox (Debian's firefox-esr, headless) runs the interop page of `omniws serve` over
// ws:// (HTTP/1.1) and wss:// (HTTP/2, RFC 8441), the pubsub room of two WebSockets
// included. Playwright drives stock Firefox only over WebDriver BiDi commands this ESR
// lacks (emulation.setMediaFeaturesOverride), so no automation protocol is used: the
// page, opened with ?report, POSTs its results to the server that served it.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type InteropReport, serveInterop } from '../../src/dev/interop.js';
import { FIREFOX, firefoxMissing, firefoxProfile } from './browser.js';

test.serial(
  'interop page passes in Firefox over ws:// (HTTP/1.1) and wss:// (HTTP/2)',
  async (t) => {
    t.timeout(120_000);
    const missing = firefoxMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const reports: InteropReport[] = [];
    const certsDir = await mkdtemp(join(tmpdir(), 'omniws-firefox-certs-'));
    const served = await serveInterop({
      port: 0,
      tlsPort: 0,
      http3: false,
      certsDir,
      onReport: (r) => reports.push(r),
    });
    t.teardown(async () => {
      await served.close();
      await rm(certsDir, { recursive: true, force: true });
    });
    for (const endpoint of served.endpoints) {
      const profile = await firefoxProfile(endpoint.secure ? served.certs!.ca : undefined);
      const before = reports.length;
      const firefox: ChildProcess = spawn(
        FIREFOX,
        // ?nowt: WebSockets only (this server has no HTTP/3); WebTransport is the next test
        ['--headless', '--no-remote', '--profile', profile, `${endpoint.page}?report&nowt`],
        { stdio: 'ignore', detached: true, env: { ...process.env, MOZ_HEADLESS: '1' } },
      );
      try {
        const deadline = Date.now() + 60_000;
        while (reports.length === before && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        // Firefox's content processes are in its process group
        try {
          process.kill(-firefox.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
        await rm(profile, { recursive: true, force: true });
      }
      const report = reports[before];
      if (!report) {
        t.fail(`${endpoint.page}: Firefox sent no report within 60 s`);
        continue;
      }
      t.regex(report.userAgent, /Firefox\/\d+/);
      t.is(report.title, 'interop: pass', JSON.stringify(report.results));
      t.deepEqual(
        report.results.map((r) => r.name),
        [
          'text echo',
          'binary echo',
          '1 MB echo',
          'close code 4000 echoed',
          'extensions',
          'pubsub across two WebSockets',
        ],
      );
      for (const r of report.results) {
        t.true(r.pass, `${endpoint.page} ${r.name}: ${r.detail ?? ''}`);
        // Firefox opens its WebSockets over the page's HTTP/2 connection (RFC 8441)
        t.is(r.http, endpoint.secure ? '2' : '1.1', `${endpoint.page} ${r.name}`);
      }
      t.regex(
        report.results.find((r) => r.name === 'extensions')?.detail ?? '',
        /^permessage-deflate/,
      );
      t.log(`${report.userAgent.replace(/.*(Firefox\/\S+).*/, '$1')} over ${endpoint.page}`);
    }
  },
);

test.serial(
  'the WebTransport checks of the interop page pass in Firefox (HTTP/3, the page over HTTP/2)',
  async (t) => {
    t.timeout(120_000);
    const missing = firefoxMissing();
    if (missing) {
      t.fail(missing);
      return;
    }
    const reports: InteropReport[] = [];
    const certsDir = await mkdtemp(join(tmpdir(), 'omniws-firefox-wt-certs-'));
    const served = await serveInterop({
      port: null,
      tlsPort: 0,
      certsDir,
      onReport: (r) => reports.push(r),
    });
    t.teardown(async () => {
      await served.close();
      await rm(certsDir, { recursive: true, force: true });
    });
    const endpoint = served.endpoints.find((e) => e.transport === 'h2+http/1.1')!;
    const profile = await firefoxProfile(served.certs!.ca);
    const firefox: ChildProcess = spawn(
      FIREFOX,
      ['--headless', '--no-remote', '--profile', profile, `${endpoint.page}?report`],
      { stdio: 'ignore', detached: true, env: { ...process.env, MOZ_HEADLESS: '1' } },
    );
    try {
      const deadline = Date.now() + 60_000;
      while (reports.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      try {
        process.kill(-firefox.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
      await rm(profile, { recursive: true, force: true });
    }
    const report = reports[0];
    if (!report) {
      t.fail('Firefox sent no report within 60 s');
      return;
    }
    const wt = report.results.filter((r) => r.name.startsWith('WebTransport'));
    t.deepEqual(
      wt.map((r) => r.name),
      [
        'WebTransport bidirectional echo',
        'WebTransport unidirectional both ways',
        'WebTransport datagram echo',
        'WebTransport close 4001 "bye" from the server',
      ],
      JSON.stringify(report.results),
    );
    for (const r of wt) {
      t.true(r.pass, `${r.name}: ${r.detail ?? ''}`);
      t.is(r.http, '3');
    }
    t.is(report.title, 'interop: pass', JSON.stringify(report.results));
    t.log(`${report.userAgent.replace(/.*(Firefox\/\S+).*/, '$1')}: WebTransport over HTTP/3`);
  },
);
