// Registers the case table as ava tests for one PeerDriver: one test per case, titled
// with Autobahn's case number, run one after another (the fail-fast cases time pauses),
// then a summary of the verdicts per group. An h2 or h3 driver plugs in the same way.
//
// Group 9 runs at Autobahn's sizes (9.1/9.2 up to 16 MiB, 1000 round trips in 9.7/9.8),
// except that the default run divides the sizes of 9.3–9.6 (4 MiB in small fragments,
// 1 MiB in small chops) by OMNIWS_CONFORMANCE_SCALE (default 4; 1 with OMNIWS_SOAK=1).
//
// Groups 12 and 13 (permessage-deflate, cases-deflate.ts) make OMNIWS_DEFLATE_COUNT
// round trips per case (default 5; Autobahn's 1000 with OMNIWS_SOAK=1).
//
// A suite may ask for `subset: 'ends'` (the h2 and h3 suites do, to keep `npm test`
// short): by default groups 9, 12 and 13 then run the first and the last case of each
// subgroup (9.1.1 64 KiB and 9.1.6 16 MiB, …, 13.7.1 and 13.7.18): 16 of 54 in group 9,
// 10 of 90 in 12, 14 (server) or 12 (client) of 126 / 108 in 13. OMNIWS_SOAK=1 runs all.

import test, { type ExecutionContext } from 'ava';
import { type Case, caseTable } from '../../src/conformance/cases.js';
import { deflateCaseTable } from '../../src/conformance/cases-deflate.js';
import type { PeerDriver } from '../../src/conformance/peer.js';
import { type Report, runCase, type Verdict } from '../../src/conformance/runner.js';

const soak = process.env.OMNIWS_SOAK === '1';
const scale = Number(process.env.OMNIWS_CONFORMANCE_SCALE ?? (soak ? 1 : 4));
const deflateCount = Number(process.env.OMNIWS_DEFLATE_COUNT ?? (soak ? 1000 : 5));

function expected(c: Case): Verdict {
  return c.informational ? 'INFORMATIONAL' : 'OK';
}

function check(t: ExecutionContext, c: Case, r: Report): void {
  if (r.verdict === expected(c)) {
    t.pass();
    return;
  }
  t.fail(
    `${c.id}: ${r.verdict} (events ${r.behavior}, close ${r.behaviorClose}), expected ${expected(c)}\n` +
      JSON.stringify(r, null, 2),
  );
}

export interface SuiteOptions {
  /** The implementation's role (picks the 12.x / 13.x variants). */
  role: 'server' | 'client';
  /** 'ends': without OMNIWS_SOAK=1, only the first and last case of each subgroup of 9, 12, 13. */
  subset?: 'all' | 'ends';
}

/** The first and the last case of each subgroup (9.1.1 and 9.1.6, …). */
export function subgroupEnds(cases: readonly Case[]): Case[] {
  const sub = (c: Case | undefined) => c?.id.split('.').slice(0, 2).join('.');
  return cases.filter((c, i) => sub(cases[i - 1]) !== sub(c) || sub(cases[i + 1]) !== sub(c));
}

export function registerSuite(
  name: string,
  makeDriver: () => Promise<PeerDriver>,
  opts: SuiteOptions,
): void {
  let driver: PeerDriver | undefined;
  const verdicts = new Map<number, Map<Verdict, number>>();
  test.before(async () => {
    driver = await makeDriver();
  });
  test.after.always(async () => {
    await driver?.close();
  });
  let left = 0;
  const groups = [
    ...caseTable({ group9Scale: scale }),
    ...deflateCaseTable({ count: deflateCount })[opts.role],
  ];
  for (const [group, all] of groups) {
    const cases = group >= 9 && opts.subset === 'ends' && !soak ? subgroupEnds(all) : all;
    left += all.length - cases.length;
    const counts = new Map<Verdict, number>();
    verdicts.set(group, counts);
    for (const c of cases) {
      test.serial(`${name} ${c.id} ${c.description}`, async (t) => {
        const r = await runCase(driver!, c);
        counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
        check(t, c, r);
      });
    }
  }
  test.serial(`${name}: summary`, (t) => {
    for (const [group, counts] of verdicts) {
      const parts = [...counts].map(([v, n]) => `${n} ${v}`).join(', ');
      t.log(`group ${group}: ${parts}`);
    }
    if (left > 0) t.log(`${left} cases of groups 9, 12 and 13 run with OMNIWS_SOAK=1 only`);
    t.pass();
  });
}
