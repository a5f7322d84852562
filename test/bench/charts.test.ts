// bench/charts.ts: the SVG charts of the benchmark results. From a small results file
// made here: one well-formed SVG per table present, none for a table absent, the
// series and axis titles as text, the medians the markdown tables show, and the same
// bytes on every render. And the charts committed under bench/results/ are what
// bench/results/latest.json renders to now.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { chartsOf, renderCharts } from '../../bench/charts.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const run = (msgsPerSec: number) => ({ msgsPerSec, MBps: msgsPerSec / 1e6, cpuUs: 1 });

/** Two echo cases (3 rounds each) and the h2 section, as bench/run.ts writes them. */
const FIXTURE = {
  machine: {
    cpu: 'Fixture CPU',
    cores: 2,
    node: 'v20.0.0',
    date: '2026-01-02T03:04:05.000Z',
    command: 'npm run bench -- --only echo,h2',
    rounds: 3,
    secondsPerMeasurement: 3,
  },
  echo: [
    {
      type: 'text',
      size: 32,
      window: 64,
      // medians: 200k, 40k, 900k
      runs: {
        omniws: [run(100_000), run(300_000), run(200_000)],
        ws: [run(40_000), run(50_000), run(30_000)],
        raw: [run(900_000), run(800_000), run(1_000_000)],
      },
      omniwsVsWs: [2, 3, 2.5],
      omniwsVsRaw: [0.2, 0.3, 0.25],
      wsCpuOverOmniwsCpu: [4, 6, 5],
    },
    {
      type: 'binary',
      size: 1024 * 1024,
      window: 2,
      runs: {
        omniws: [run(700), run(700), run(700)],
        ws: [run(350), run(350), run(350)],
        raw: [run(1400), run(1400), run(1400)],
      },
      omniwsVsWs: [2, 2, 2],
      omniwsVsRaw: [0.5, 0.5, 0.5],
      wsCpuOverOmniwsCpu: [1.5, 1.5, 1.5],
    },
  ],
  h2: { exit: 0, output: '…', ratios: { '64 B, 1 socket': 0.95, '16 KiB, 50 sockets': 1.75 } },
  targets: [['text 32 B echo ≥ 3× ws msg/s', '2.50×', '**not met**']],
};

/** The first reason `xml` is not a well-formed XML document with one root, if any. */
function notWellFormed(xml: string): string | undefined {
  const entity = /&(?:#\d+|#x[\da-fA-F]+|lt|gt|amp|quot|apos);/y;
  const badText = (text: string): string | undefined => {
    if (text.includes('<')) return `a stray "<" in ${JSON.stringify(text.slice(0, 40))}`;
    for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
      entity.lastIndex = i;
      if (!entity.test(text)) return `a stray "&" in ${JSON.stringify(text.slice(i, i + 20))}`;
    }
    return undefined;
  };
  const tag =
    /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|<!--(?:(?!--)[\s\S])*-->|<\?xml[^?]*\?>/g;
  const attr = /([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const open: string[] = [];
  let roots = 0;
  let at = 0;
  for (const m of xml.matchAll(tag)) {
    const text = xml.slice(at, m.index);
    at = m.index + m[0].length;
    const why = badText(text);
    if (why) return why;
    if (open.length === 0 && text.trim()) return 'text outside the root element';
    const [, closing, name, attrs = '', selfClosing] = m;
    if (!name) continue; // a comment or the declaration
    if (closing) {
      if (attrs.trim() || selfClosing) return `</${name}> with attributes`;
      const last = open.pop();
      if (last !== name) return `</${name}> closes <${last ?? 'nothing'}>`;
      continue;
    }
    const seen = new Set<string>();
    for (const a of attrs.matchAll(attr)) {
      if (seen.has(a[1]!)) return `<${name}> repeats ${a[1]}`;
      seen.add(a[1]!);
      const whyValue = badText(a[2] ?? a[3] ?? '');
      if (whyValue) return whyValue;
    }
    if (open.length === 0) roots++;
    if (!selfClosing) open.push(name);
  }
  const tail = xml.slice(at);
  if (badText(tail) || tail.trim()) return `unparsed: ${JSON.stringify(tail.slice(0, 40))}`;
  if (open.length > 0) return `<${open.at(-1)}> is never closed`;
  if (roots !== 1) return `${roots} root elements`;
  return undefined;
}

/** Every line of text the chart draws (titles, labels, legends): a <text>, or each of its <tspan>s. */
function texts(svg: string): string[] {
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;|&apos;/g, "'")
      .replace(/&amp;/g, '&');
  return [...svg.matchAll(/<text\b[^>]*>([\s\S]*?)<\/text>/g)].flatMap((m) => {
    const lines = [...m[1]!.matchAll(/<tspan\b[^>]*>([\s\S]*?)<\/tspan>/g)].map((l) => l[1]!);
    return (lines.length > 0 ? lines : [m[1]!]).map(decode);
  });
}

function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(os.tmpdir(), 'omniws-charts-'));
  return f(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('the well-formedness check itself rejects broken XML', (t) => {
  t.is(notWellFormed('<svg a="1"><g/><text>x &amp; y</text></svg>'), undefined);
  t.truthy(notWellFormed('<svg><g></svg>'));
  t.truthy(notWellFormed('<svg><text>a < b</text></svg>'));
  t.truthy(notWellFormed('<svg><text>a & b</text></svg>'));
  t.truthy(notWellFormed('<svg a="1" a="2"></svg>'));
  t.truthy(notWellFormed('<svg></svg><svg></svg>'));
  t.truthy(notWellFormed('<svg><g>'));
});

test('one well-formed SVG per table of a results file, beside it, none for absent tables', async (t) => {
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'latest-fixture.json'), JSON.stringify(FIXTURE));
    // not a latest*.json: not read
    writeFileSync(join(dir, 'other.json'), JSON.stringify(FIXTURE));
    // a chart of a table the results no longer have goes
    writeFileSync(join(dir, 'latest-fixture.memory.svg'), '<svg/>');
    const written = await renderCharts(dir);
    t.deepEqual(
      written.map((p) => basename(p)),
      ['latest-fixture.echo.svg', 'latest-fixture.echo-vs-ws.svg', 'latest-fixture.h2.svg'],
    );
    t.deepEqual(readdirSync(dir).sort(), [
      'latest-fixture.echo-vs-ws.svg',
      'latest-fixture.echo.svg',
      'latest-fixture.h2.svg',
      'latest-fixture.json',
      'other.json',
    ]);
    for (const p of written) {
      const svg = readFileSync(p, 'utf8');
      t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), basename(p));
      t.regex(svg, /^<svg [^>]*><title>[^<]+<\/title>/, `${basename(p)} is named`);
      t.is(notWellFormed(svg), undefined, basename(p));
    }
  });
});

test('the charts name their series and axes, and show the medians of the tables', async (t) => {
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'latest-fixture.json'), JSON.stringify(FIXTURE));
    await renderCharts(dir);
    const read = (table: string) =>
      texts(readFileSync(join(dir, `latest-fixture.${table}.svg`), 'utf8'));

    const echo = read('echo');
    for (const s of ['omniws', 'ws', 'raw TCP echo']) t.true(echo.includes(s), `series ${s}`);
    t.true(echo.includes('messages per second'), 'y axis title');
    t.true(echo.includes('message size'), 'column title');
    t.true(echo.includes('32 B') && echo.includes('1 MiB'), 'message sizes');
    t.true(echo.includes('text messages') && echo.includes('binary messages'));
    t.true(echo.includes('HTTP/1.1 echo: messages per second, by message size'), 'title');
    t.true(
      readFileSync(join(dir, 'latest-fixture.echo.svg'), 'utf8').includes(
        '<title>HTTP/1.1 echo: messages per second, by message size</title>',
      ),
    );
    t.true(echo.some((s) => s.includes('Fixture CPU, 2 cores, Node v20.0.0, 2026-01-02')));
    // medians of the three rounds, not a mean or the last round
    for (const v of ['200k', '40k', '900k', '700', '350', '1.4k']) {
      t.true(echo.includes(v), `value ${v}`);
    }
    t.false(echo.includes('300k'), 'the best round is not the median');

    const ratios = read('echo-vs-ws');
    t.true(ratios.includes('messages/s, omniws / ws'));
    t.true(ratios.includes('server CPU per message, ws / omniws'));
    t.true(ratios.includes('ratio (times)'));
    for (const v of ['2.50×', '5.00×', '2.00×', '1.50×']) t.true(ratios.includes(v), v);

    const h2 = read('h2');
    t.true(h2.includes('h2 / h1 (times)'), 'y axis title');
    t.true(h2.includes('message size, sockets or streams'), 'x axis title');
    t.true(h2.includes('0.95×') && h2.includes('1.75×'));
    // the case names break after their commas
    t.true(h2.includes('16 KiB') && h2.includes('50 sockets'));
  });
});

test('rendering is deterministic: the same results give the same bytes', async (t) => {
  const once = () =>
    withDir(async (dir) => {
      writeFileSync(join(dir, 'latest-fixture.json'), JSON.stringify(FIXTURE));
      const paths = await renderCharts(dir);
      return paths.map((p) => readFileSync(p, 'utf8'));
    });
  const first = await once();
  // another chart in between, whatever ids it counted up
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'latest.json'), readFileSync(join(root, 'bench/results/latest.json')));
    await renderCharts(dir);
  });
  const second = await once();
  t.is(first.length, 3);
  t.deepEqual(second, first);
  for (const svg of first) t.false(/\d{4}-\d\d-\d\dT\d\d:\d\d/.test(svg), 'no timestamp');
});

test('the charts committed under bench/results/ are what latest.json renders to', async (t) => {
  const results = JSON.parse(readFileSync(join(root, 'bench/results/latest.json'), 'utf8'));
  const tables = chartsOf(results).map((c) => c.name);
  for (const table of ['echo', 'memory', 'codec', 'setup', 'h2', 'h3', 'fanout', 'scale']) {
    t.true(tables.includes(table), `a chart of the ${table} table`);
  }
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'latest.json'), readFileSync(join(root, 'bench/results/latest.json')));
    for (const p of await renderCharts(dir)) {
      const committed = readFileSync(join(root, 'bench/results', basename(p)), 'utf8');
      // not t.is: a diff of two 50 KB lines says nothing
      t.true(readFileSync(p, 'utf8') === committed, `${basename(p)}: run npm run bench:charts`);
    }
  });
});
