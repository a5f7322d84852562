// Registers the case table as ava tests for one PeerDriver: one test per case, titled
// with Autobahn's case number, run one after another (the fail-fast cases time pauses),
// then a summary of the verdicts per group. An h2 or h3 driver plugs in the same way.
//
// Group 9 runs at Autobahn's sizes (9.1/9.2 up to 16 MiB, 1000 round trips in 9.7/9.8),
// except that the default run divides the sizes of 9.3–9.6 (4 MiB in small fragments,
// 1 MiB in small chops) by OMNIWS_CONFORMANCE_SCALE (default 4; 1 with OMNIWS_SOAK=1).
//
// A suite may ask for `group9: 'ends'` (the h2 and h3 suites do, to keep `npm test`
// short): by default group 9 then runs the first and the last case of each subgroup
// (9.1.1 64 KiB and 9.1.6 16 MiB, …, 9.8.1 and 9.8.6), 16 of 54; OMNIWS_SOAK=1 runs all.

import test, { type ExecutionContext } from 'ava';
import { type Case, caseTable } from './cases.js';
import type { PeerDriver } from './peer.js';
import { type Report, runCase, type Verdict } from './runner.js';

const soak = process.env.OMNIWS_SOAK === '1';
const scale = Number(process.env.OMNIWS_CONFORMANCE_SCALE ?? (soak ? 1 : 4));

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
  /** 'ends': without OMNIWS_SOAK=1, only the first and last case of each 9.x subgroup. */
  group9?: 'all' | 'ends';
}

/** The first and the last case of each subgroup (9.1.1 and 9.1.6, …). */
export function subgroupEnds(cases: readonly Case[]): Case[] {
  const sub = (c: Case | undefined) => c?.id.split('.').slice(0, 2).join('.');
  return cases.filter((c, i) => sub(cases[i - 1]) !== sub(c) || sub(cases[i + 1]) !== sub(c));
}

export function registerSuite(
  name: string,
  makeDriver: () => Promise<PeerDriver>,
  opts: SuiteOptions = {},
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
  for (const [group, all] of caseTable({ group9Scale: scale })) {
    const cases = group === 9 && opts.group9 === 'ends' && !soak ? subgroupEnds(all) : all;
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
    if (left > 0) t.log(`${left} cases of group 9 run with OMNIWS_SOAK=1 only`);
    t.pass();
  });
}
