// Pictures of the benchmark results (issue 22): one SVG chart per results table, made
// from the JSON that bench/run.ts writes. renderCharts(dir) reads every latest*.json in
// dir and writes `<name>.<table>.svg` beside it (latest.json → latest.echo.svg, …),
// removing `<name>.*.svg` files of tables the JSON no longer has. bench/run.ts calls
// renderResultCharts() after each run; `npm run bench:charts` renders from the JSON alone.
//
// The specs are Vega-Lite, compiled to Vega and rendered headless (View.toSVG(), no
// canvas). Text widths are estimated, not measured with a font, and the SVG definition
// ids are reset before each chart, so the same JSON gives the same bytes on any machine.
// The figures are the medians the markdown tables show, computed the same way; the only
// date in a chart is the run's own, from the JSON.

import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Chart {
  /** The table it pictures: the file is `<results name>.<name>.svg`. */
  name: string;
  spec: TopLevelSpec;
}

type Json = Record<string, unknown>;
type Row = Record<string, string | number>;

// ── reading the results ──────────────────────────────────────────────────────

const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : Number.NaN);
const nums = (x: unknown): number[] => (Array.isArray(x) ? x.map(num) : []);

/** As bench/run.ts and the section scripts compute it: the middle value, or the mean of the two. */
function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median of one field over a list of runs. */
const medianOf = (runs: unknown, field: string): number =>
  median(Array.isArray(runs) ? runs.map((r) => num(isObj(r) ? r[field] : undefined)) : []);

function sizeLabel(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

const keep = (rows: Row[]): Row[] =>
  rows.filter((r) => Object.values(r).every((v) => typeof v === 'string' || Number.isFinite(v)));

// ── common look ──────────────────────────────────────────────────────────────

/** One colour per server wherever it appears. */
const COLORS: Record<string, string> = {
  omniws: '#4c78a8',
  'omniws-hibernate': '#72b7b2',
  ws: '#f58518',
  'raw TCP echo': '#9d9d9d',
  'node:http floor': '#9d9d9d',
  Bun: '#e45756',
};
const OTHER_COLORS = ['#54a24b', '#b279a2', '#eeca3b', '#ff9da6', '#9d755d', '#bab0ac'];

function colorScale(domain: readonly string[]) {
  let i = 0;
  const range = domain.map((d) => COLORS[d] ?? OTHER_COLORS[i++ % OTHER_COLORS.length]!);
  return { domain: [...domain], range };
}

/** Where the figures come from, under every title: the command, the machine, the date. */
function subtitle(results: Json): string[] {
  const m = isObj(results.machine) ? results.machine : {};
  const str = (k: string) => (typeof m[k] === 'string' ? (m[k] as string) : '');
  const rounds = num(m.rounds);
  const secs = num(m.secondsPerMeasurement);
  const run = [
    str('command') || 'npm run bench',
    Number.isFinite(rounds)
      ? `${rounds} round${rounds === 1 ? '' : 's'}${Number.isFinite(secs) ? ` of ${secs} s` : ''}`
      : '',
  ].filter(Boolean);
  const machine = [
    str('cpu') && `${str('cpu')}${Number.isFinite(num(m.cores)) ? `, ${num(m.cores)} cores` : ''}`,
    str('node') && `Node ${str('node')}`,
    str('date').slice(0, 10),
  ].filter(Boolean);
  return [run.join(', '), machine.join(', ')].filter(Boolean);
}

const CONFIG = {
  background: 'white',
  font: 'sans-serif',
  title: { anchor: 'start', fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555' },
  // no truncation: without canvas, vega estimates 0.8 em per character, more than drawn
  axis: { labelFontSize: 11, titleFontSize: 11, labelLimit: 0 },
  header: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 0, orient: 'bottom' },
  view: { stroke: '#ddd' },
} as const;

/** `note`: what the table's heading says beyond the title, first line of the subtitle. */
function top(results: Json, title: string, note: string, body: Json): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: [note, ...subtitle(results)] },
    config: CONFIG,
    ...body,
  } as TopLevelSpec;
}

/** Long category names break after their commas. */
const BREAK_LABELS = "split(datum.label, ', ')";

/** A value label above each bar: `fmt` is a d3 format (`~s`: 684k, `.2f`: 7.11). */
function barText(field: string, fmt: string): Json {
  return {
    mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9 },
    encoding: {
      text: { field, type: 'quantitative', format: fmt },
      color: { value: '#333' },
    },
  };
}

/**
 * Grouped bars: one group per `x` category, one bar per series, the value above each bar.
 * `facet`, when given, repeats the chart per value of that field, each panel with its own
 * y scale (sizes from 32 B to 1 MiB differ by thousands of times).
 */
function groupedBars(o: {
  rows: Row[];
  x: string;
  xTitle: string | null;
  series: string;
  seriesTitle: string;
  seriesOrder: string[];
  y: string;
  yTitle: string;
  /** d3 formats: `format` for the values above the bars, `axisFormat` for the y axis. */
  format: string;
  axisFormat?: string;
  width: number;
  height?: number;
  column?: { field: string; title: string | null; order: string[] };
  row?: { field: string; title: string | null; order: string[] };
  xOrder?: string[];
}): Json {
  // one bar per category when the series is the category: the legend names them
  const alone = o.x === o.series;
  const encoding = {
    x: {
      field: o.x,
      type: 'nominal',
      title: o.xTitle,
      sort: o.xOrder ?? null,
      axis: alone ? null : { labelAngle: 0, labelExpr: BREAK_LABELS },
    },
    ...(!alone && { xOffset: { field: o.series, type: 'nominal', sort: o.seriesOrder } }),
    y: {
      field: o.y,
      type: 'quantitative',
      title: o.yTitle,
      axis: o.axisFormat ? { format: o.axisFormat } : {},
    },
    color: {
      field: o.series,
      type: 'nominal',
      title: o.seriesTitle,
      sort: o.seriesOrder,
      scale: colorScale(o.seriesOrder),
    },
  };
  const layer = {
    width: o.width,
    height: o.height ?? 200,
    encoding,
    layer: [{ mark: 'bar' }, barText(o.y, o.format)],
  };
  if (!o.column && !o.row) return { data: { values: o.rows }, ...layer };
  const facet: Json = {};
  if (o.column)
    facet.column = { field: o.column.field, title: o.column.title, sort: o.column.order };
  if (o.row) facet.row = { field: o.row.field, title: o.row.title, sort: o.row.order };
  return {
    data: { values: o.rows },
    facet,
    spec: layer,
    resolve: { scale: { y: 'independent' } },
  };
}

/**
 * Bars of ratios with a dashed rule at 1.0 (as fast as the reference) and each ratio
 * above its bar; `series`, when given, puts several ratios side by side per category.
 */
function ratioBars(o: {
  rows: Row[];
  x: string;
  xTitle: string | null;
  series?: { field: string; title: string; order: string[] };
  yTitle: string;
  width: number;
  column?: { field: string; title: string | null; order: string[] };
}): Json {
  const x = {
    field: o.x,
    type: 'nominal',
    title: o.xTitle,
    sort: null,
    axis: { labelAngle: 0, labelExpr: BREAK_LABELS },
  };
  const xOffset = o.series && { field: o.series.field, type: 'nominal', sort: o.series.order };
  const color = o.series
    ? {
        field: o.series.field,
        type: 'nominal',
        title: o.series.title,
        sort: o.series.order,
        scale: colorScale(o.series.order),
      }
    : { value: COLORS.omniws };
  const y = { field: 'ratio', type: 'quantitative', title: o.yTitle };
  // the rule is an aggregate over all rows: one per panel
  const one = { aggregate: 'min', field: 'one', type: 'quantitative' };
  const spec = {
    width: o.width,
    height: 200,
    layer: [
      { mark: 'bar', encoding: { x, ...(xOffset && { xOffset }), y, color } },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 9, color: '#333' },
        encoding: {
          x,
          ...(xOffset && { xOffset }),
          y,
          text: { field: 'label', type: 'nominal' },
        },
      },
      { mark: { type: 'rule', color: '#222', strokeDash: [4, 3] }, encoding: { y: one } },
    ],
  };
  const data = { values: o.rows.map((r) => ({ ...r, one: 1 })) };
  if (!o.column) return { data, ...spec };
  return {
    data,
    facet: { column: { field: o.column.field, title: o.column.title, sort: o.column.order } },
    spec,
  };
}

const times = (r: number) => `${r.toFixed(2)}×`;

// ── one chart per table ──────────────────────────────────────────────────────

const ECHO_SERVERS: [string, string][] = [
  ['omniws', 'omniws'],
  ['ws', 'ws'],
  ['raw', 'raw TCP echo'],
];

function echoCharts(results: Json): Chart[] {
  const echo = results.echo;
  if (!Array.isArray(echo)) return [];
  const rounds = num(isObj(results.machine) ? results.machine.rounds : undefined);
  const of = Number.isFinite(rounds) ? `, median of ${rounds}` : '';
  const rows: Row[] = [];
  const ratios: Row[] = [];
  const sizes: string[] = [];
  for (const c of echo) {
    if (!isObj(c) || !isObj(c.runs)) continue;
    const type = String(c.type);
    const size = sizeLabel(num(c.size));
    if (!sizes.includes(size)) sizes.push(size);
    for (const [key, name] of ECHO_SERVERS) {
      rows.push({ type, size, server: name, msgsPerSec: medianOf(c.runs[key], 'msgsPerSec') });
    }
    const vsWs = median(nums(c.omniwsVsWs));
    const cpu = median(nums(c.wsCpuOverOmniwsCpu));
    const what = 'messages/s, omniws / ws';
    const cpuWhat = 'server CPU per message, ws / omniws';
    ratios.push({ type, message: size, what, ratio: vsWs, label: times(vsWs) });
    ratios.push({ type, message: size, what: cpuWhat, ratio: cpu, label: times(cpu) });
  }
  const types = ['text', 'binary'];
  const charts: Chart[] = [];
  const kept = keep(rows);
  if (kept.length > 0) {
    charts.push({
      name: 'echo',
      spec: top(
        results,
        'HTTP/1.1 echo: messages per second, by message size',
        `50 connections${of}; each panel has its own scale`,
        groupedBars({
          rows: kept.map((r) => ({ ...r, type: `${r.type} messages` })),
          x: 'server',
          xTitle: null,
          xOrder: ECHO_SERVERS.map(([, n]) => n),
          series: 'server',
          seriesTitle: 'server',
          seriesOrder: ECHO_SERVERS.map(([, n]) => n),
          y: 'msgsPerSec',
          yTitle: 'messages per second',
          format: '.3~s',
          axisFormat: ',.0f',
          width: 150,
          height: 160,
          column: { field: 'size', title: 'message size', order: sizes },
          row: { field: 'type', title: null, order: types.map((t) => `${t} messages`) },
        }),
      ),
    });
  }
  const keptRatios = keep(ratios);
  if (keptRatios.length > 0) {
    charts.push({
      name: 'echo-vs-ws',
      spec: top(
        results,
        'HTTP/1.1 echo: omniws against ws, by message size',
        `dashed line: 1.0, the same as ws; above it omniws is ahead (50 connections${of})`,
        ratioBars({
          rows: keptRatios,
          x: 'message',
          xTitle: 'message size',
          series: {
            field: 'what',
            title: 'ratio',
            order: ['messages/s, omniws / ws', 'server CPU per message, ws / omniws'],
          },
          yTitle: 'ratio (times)',
          width: 400,
          column: { field: 'type', title: null, order: types },
        }),
      ),
    });
  }
  return charts;
}

function memoryCharts(results: Json): Chart[] {
  const memory = results.memory;
  if (!isObj(memory) || !Array.isArray(memory.results)) return [];
  const conns = num(memory.conns);
  const order = ['omniws', 'omniws-hibernate', 'ws', 'node:http floor'];
  const rows: Row[] = [];
  for (const r of memory.results) {
    if (!isObj(r) || !isObj(r.perConnection)) continue;
    const deflate = r.deflate ? 'deflate on' : 'deflate off';
    for (const [kind, p] of Object.entries(r.perConnection)) {
      if (!isObj(p)) continue;
      const server = kind === 'http-raw' ? 'node:http floor' : kind;
      rows.push({ deflate, server, what: 'RSS', KiB: num(p.rss) / 1024 });
      rows.push({ deflate, server, what: 'JS heap', KiB: num(p.heap) / 1024 });
    }
  }
  const kept = keep(rows);
  if (kept.length === 0) return [];
  const n = Number.isFinite(conns) ? `${conns.toLocaleString('en-US')} ` : '';
  return [
    {
      name: 'memory',
      spec: top(
        results,
        'Idle memory per connection (lower is better)',
        `${n}idle connections, one server process each; each panel has its own scale`,
        groupedBars({
          rows: kept,
          x: 'server',
          xTitle: null,
          xOrder: order,
          series: 'server',
          seriesTitle: 'server',
          seriesOrder: order.filter((s) => kept.some((r) => r.server === s)),
          y: 'KiB',
          yTitle: 'KiB per connection',
          format: '.2f',
          width: 200,
          height: 160,
          column: { field: 'deflate', title: null, order: ['deflate off', 'deflate on'] },
          row: { field: 'what', title: null, order: ['RSS', 'JS heap'] },
        }),
      ),
    },
  ];
}

function codecCharts(results: Json): Chart[] {
  const codec = results.codec;
  if (!isObj(codec) || !isObj(codec.per)) return [];
  const rows = keep([
    { decoder: 'omniws Protocol', MBps: median(nums(codec.per.omniws)) },
    { decoder: 'ws Receiver (no bufferutil)', MBps: median(nums(codec.per.ws)) },
  ]);
  if (rows.length === 0) return [];
  return [
    {
      name: 'codec',
      spec: top(
        results,
        'Codec: decoding 16 KiB masked text frames',
        'decode, unmask and validate UTF-8, fed in 64 KiB chunks',
        {
          data: { values: rows },
          width: 420,
          height: 70,
          encoding: {
            y: { field: 'decoder', type: 'nominal', title: null, sort: null },
            x: { field: 'MBps', type: 'quantitative', title: 'MB per second (higher is better)' },
          },
          layer: [
            {
              mark: 'bar',
              encoding: {
                color: {
                  condition: {
                    test: "indexof(datum.decoder, 'omniws') === 0",
                    value: COLORS.omniws,
                  },
                  value: COLORS.ws,
                },
              },
            },
            {
              mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
              encoding: { text: { field: 'MBps', type: 'quantitative', format: '.1f' } },
            },
          ],
        },
      ),
    },
  ];
}

function setupCharts(results: Json): Chart[] {
  const setup = results.setup;
  if (!isObj(setup)) return [];
  const rows: Row[] = [];
  const h1 = isObj(setup.h1) && isObj(setup.h1.per) ? setup.h1.per : undefined;
  const plain = 'HTTP/1.1, raw client';
  const tls = 'over TLS, omniws client';
  if (h1) {
    rows.push(
      { server: 'h1 omniws', group: plain, perSec: median(nums(h1.omniws)) },
      { server: 'h1 ws', group: plain, perSec: median(nums(h1.ws)) },
      { server: 'h1 raw 101 (the limit)', group: plain, perSec: median(nums(h1.raw)) },
    );
  }
  const h2 = isObj(setup.h2) && isObj(setup.h2.per) ? setup.h2.per : undefined;
  if (h2) {
    rows.push(
      { server: 'h2 omniws, streams on one session', group: tls, perSec: median(nums(h2['2'])) },
      { server: 'h1 omniws, one TLS connection each', group: tls, perSec: median(nums(h2['1'])) },
    );
  }
  const kept = keep(rows);
  if (kept.length === 0) return [];
  return [
    {
      name: 'setup',
      spec: top(
        results,
        'Connection setup: WebSocket handshakes per second',
        '16 concurrent loops',
        {
          data: { values: kept },
          width: 420,
          height: kept.length * 22,
          encoding: {
            y: { field: 'server', type: 'nominal', title: null, sort: null },
            x: {
              field: 'perSec',
              type: 'quantitative',
              title: 'handshakes per second (higher is better)',
            },
          },
          layer: [
            {
              mark: 'bar',
              encoding: {
                color: {
                  field: 'group',
                  type: 'nominal',
                  title: 'client',
                  sort: [plain, tls],
                  scale: { domain: [plain, tls], range: [COLORS.omniws, '#54a24b'] },
                },
              },
            },
            {
              mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
              encoding: { text: { field: 'perSec', type: 'quantitative', format: ',.0f' } },
            },
          ],
        },
      ),
    },
  ];
}

/** h2 and h3: the ratio column of another engineer's table, as bench/run.ts parsed it. */
function externalCharts(results: Json, section: 'h2' | 'h3'): Chart[] {
  const s = results[section];
  if (!isObj(s) || !isObj(s.ratios)) return [];
  const rows = keep(
    Object.entries(s.ratios).map(([c, r]) => ({ case: c, ratio: num(r), label: times(num(r)) })),
  );
  if (rows.length === 0) return [];
  const [title, note, yTitle] =
    section === 'h2'
      ? [
          'HTTP/2 against HTTP/1.1: echo over TLS on one port (bench/h2.ts)',
          'messages per second over h2 / over h1; dashed line: 1.0, the same as HTTP/1.1',
          'h2 / h1 (times)',
        ]
      : [
          'WebSocket over HTTP/3 against raw QUIC streams (bench/h3.ts)',
          'echo messages per second, same quiche driver; dashed line: 1.0, the same as raw QUIC',
          'h3 / raw QUIC (times)',
        ];
  return [
    {
      name: section,
      spec: top(
        results,
        title,
        note,
        ratioBars({
          rows,
          x: 'case',
          xTitle: 'message size, sockets or streams',
          yTitle,
          width: Math.max(480, rows.length * 90),
        }),
      ),
    },
  ];
}

function fanoutCharts(results: Json): Chart[] {
  const fanout = results.fanout;
  if (!isObj(fanout)) return [];
  const charts: Chart[] = [];
  const names: [string, string][] = [
    ['omniws', 'omniws'],
    ['bun', 'Bun'],
    ['ws', 'ws'],
  ];
  const rows: Row[] = [];
  const shapes: string[] = [];
  for (const s of Array.isArray(fanout.h1) ? fanout.h1 : []) {
    if (!isObj(s) || !isObj(s.shape) || !isObj(s.runs)) continue;
    const shape = String(s.shape.label);
    shapes.push(shape);
    for (const [key, server] of names) {
      if (s.runs[key] === undefined) continue;
      rows.push({ shape, server, perSec: medianOf(s.runs[key], 'deliveriesPerSec') });
    }
  }
  const kept = keep(rows);
  if (kept.length > 0) {
    const order = names.map(([, n]) => n).filter((n) => kept.some((r) => r.server === n));
    charts.push({
      name: 'fanout',
      spec: top(
        results,
        'Fan-out over HTTP/1.1: deliveries per second',
        'one room; every message goes to every member (load: fanout.mjs)',
        groupedBars({
          rows: kept,
          x: 'shape',
          xTitle: 'subscribers and publishers in the room',
          xOrder: shapes,
          series: 'server',
          seriesTitle: 'server',
          seriesOrder: order,
          y: 'perSec',
          yTitle: 'deliveries per second',
          format: '.3~s',
          axisFormat: ',.0f',
          width: 540,
        }),
      ),
    });
  }
  const h23: Row[] = [];
  for (const c of Array.isArray(fanout.h23) ? fanout.h23 : []) {
    if (!isObj(c)) continue;
    h23.push({ carrier: String(c.label), perSec: medianOf(c.runs, 'deliveriesPerSec') });
  }
  const keptH23 = keep(h23);
  if (keptH23.length > 0) {
    charts.push({
      name: 'fanout-http',
      spec: top(
        results,
        'Fan-out over HTTP/1.1, HTTP/2 and HTTP/3',
        'one room of 1 000 WebSockets, 1 publisher, window 8; omniws serve over TLS',
        {
          data: { values: keptH23 },
          width: 420,
          height: keptH23.length * 26,
          encoding: {
            y: { field: 'carrier', type: 'nominal', title: null, sort: null },
            x: {
              field: 'perSec',
              type: 'quantitative',
              title: 'deliveries per second (higher is better)',
              axis: { format: ',.0f' },
            },
          },
          layer: [
            { mark: 'bar', encoding: { color: { value: COLORS.omniws } } },
            {
              mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
              encoding: { text: { field: 'perSec', type: 'quantitative', format: ',.0f' } },
            },
          ],
        },
      ),
    });
  }
  return charts;
}

function scaleCharts(results: Json): Chart[] {
  const scale = results.scale;
  if (!isObj(scale)) return [];
  const charts: Chart[] = [];
  const rows: Row[] = [];
  const cases: string[] = [];
  for (const c of Array.isArray(scale.workers) ? scale.workers : []) {
    if (!isObj(c) || !isObj(c.runs)) continue;
    const name = String(c.case);
    cases.push(name);
    rows.push({ case: name, workers: '1 worker', perSec: medianOf(c.runs['1'], 'perSec') });
    rows.push({ case: name, workers: '2 workers', perSec: medianOf(c.runs['2'], 'perSec') });
  }
  const kept = keep(rows);
  if (kept.length > 0) {
    charts.push({
      name: 'scale',
      spec: top(
        results,
        'Workers: 2 against 1',
        'omniws serve with and without --workers 2, on this 2-core machine',
        groupedBars({
          rows: kept,
          x: 'case',
          xTitle: null,
          xOrder: cases,
          series: 'workers',
          seriesTitle: 'omniws serve',
          seriesOrder: ['1 worker', '2 workers'],
          y: 'perSec',
          yTitle: 'per second',
          format: '.3~s',
          axisFormat: ',.0f',
          width: 540,
        }),
      ),
    });
  }
  const redis = isObj(scale.redis) && isObj(scale.redis.runs) ? scale.redis.runs : undefined;
  const redisRows = keep(
    Object.entries(redis ?? {}).map(([setup, runs]) => ({
      setup,
      perSec: medianOf(runs, 'perSec'),
    })),
  );
  if (redisRows.length > 0) {
    charts.push({
      name: 'scale-redis',
      spec: top(results, 'Across processes through Redis', '1 publisher, 10 000 subscribers', {
        data: { values: redisRows },
        width: 420,
        height: redisRows.length * 26,
        encoding: {
          y: { field: 'setup', type: 'nominal', title: null, sort: null },
          x: {
            field: 'perSec',
            type: 'quantitative',
            title: 'deliveries per second (higher is better)',
            axis: { format: ',.0f' },
          },
        },
        layer: [
          {
            mark: 'bar',
            encoding: {
              color: {
                condition: { test: "indexof(datum.setup, 'omniws') === 0", value: COLORS.omniws },
                value: '#54a24b',
              },
            },
          },
          {
            mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
            encoding: { text: { field: 'perSec', type: 'quantitative', format: ',.0f' } },
          },
        ],
      }),
    });
  }
  return charts;
}

/** bench/lab.ts: download rate through the lab's lossy link, per congestion controller. */
function labCharts(results: Json): Chart[] {
  const lab = results.lab;
  if (!Array.isArray(lab)) return [];
  const rows = keep(
    lab.filter(isObj).map((c) => ({
      controller: `${String(c.cc)}, pacing ${c.pacing ? 'on' : 'off'}`,
      loss: num(c.loss) * 100,
      MBps: num(c.downloadMBps),
    })),
  );
  if (rows.length === 0) return [];
  const order = [...new Set(rows.map((r) => String(r.controller)))];
  return [
    {
      name: 'lab',
      spec: top(results, 'HTTP/3 through the lab: download rate', 'by packet loss each way', {
        data: { values: rows },
        width: 420,
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'loss', type: 'quantitative', title: 'packet loss each way (%)' },
          y: { field: 'MBps', type: 'quantitative', title: 'download, MB per second' },
          color: {
            field: 'controller',
            type: 'nominal',
            title: 'congestion control',
            sort: order,
            scale: colorScale(order),
          },
        },
      }),
    },
  ];
}

/** bench/webtransport.ts: WebTransport against a WebSocket over the same HTTP/3 driver. */
function webTransportCharts(results: Json): Chart[] {
  const wt = results.webtransport;
  if (!isObj(wt) || !isObj(wt.roundTrips) || !isObj(wt.throughputMBps)) return [];
  const ws = 'WebSocket';
  const stream = 'WebTransport stream';
  const datagram = 'WebTransport datagram';
  const order = [ws, stream, datagram];
  const rt = keep([
    { over: ws, value: num(wt.roundTrips.webSocket) },
    { over: stream, value: num(wt.roundTrips.stream) },
    { over: datagram, value: num(wt.roundTrips.datagram) },
  ]);
  const mb = keep([
    { over: ws, value: num(wt.throughputMBps.webSocket) },
    { over: stream, value: num(wt.throughputMBps.stream) },
  ]);
  if (rt.length === 0 && mb.length === 0) return [];
  const panel = (rows: Row[], title: string, yTitle: string, format: string) => ({
    title: { text: title, fontSize: 12 },
    data: { values: rows },
    width: 220,
    height: 180,
    encoding: {
      x: { field: 'over', type: 'nominal', title: null, sort: order, axis: null },
      y: { field: 'value', type: 'quantitative', title: yTitle },
    },
    layer: [
      {
        mark: 'bar',
        encoding: {
          color: {
            field: 'over',
            type: 'nominal',
            title: null,
            sort: order,
            scale: colorScale(order),
          },
        },
      },
      barText('value', format),
    ],
  });
  return [
    {
      name: 'webtransport',
      spec: top(
        results,
        'WebTransport against a WebSocket, both over HTTP/3',
        'same QUIC driver and server, loopback, one process (bench/webtransport.ts)',
        {
          hconcat: [
            panel(rt, '1 KiB round trips, one at a time', 'round trips per second', ',.0f'),
            panel(mb, '64 KiB echo', 'MB per second', '.1f'),
          ],
          resolve: { scale: { color: 'shared' } },
        },
      ),
    },
  ];
}

/** The charts of one results file, in the order of its tables; none for a missing section. */
export function chartsOf(results: Json): Chart[] {
  return [
    ...echoCharts(results),
    ...memoryCharts(results),
    ...codecCharts(results),
    ...setupCharts(results),
    ...externalCharts(results, 'h2'),
    ...externalCharts(results, 'h3'),
    ...fanoutCharts(results),
    ...scaleCharts(results),
    ...labCharts(results),
    ...webTransportCharts(results),
  ];
}

// ── rendering ────────────────────────────────────────────────────────────────

// no canvas: text widths come from vega's estimate, the same on every machine
(vega as unknown as { textMetrics: { canvas(use: boolean): void } }).textMetrics.canvas(false);

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * One Vega-Lite spec to SVG text. The pages show each SVG as an image, named by its alt
 * text, so the file is named by a <title> (the chart's title) instead of Vega's ARIA
 * attributes on every group (which Biome's a11y rules, reading .svg as HTML, reject).
 */
export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    // clip and gradient ids count up across a process: from 1 for each chart
    vega.resetSVGDefIds();
    const svg = (await view.toSVG()).replace(/ (?:role|aria-[a-z]+)="[^"]*"/g, '');
    const t = (spec as { title?: { text?: unknown } }).title?.text;
    const title = typeof t === 'string' ? `<title>${escapeXml(t)}</title>` : '';
    return `${svg.replace(/^<svg[^>]*>/, (open) => open + title)}\n`;
  } finally {
    view.finalize();
  }
}

/** Render the charts of one results file beside it; returns the paths written. */
export async function renderResultCharts(jsonPath: string): Promise<string[]> {
  const dir = dirname(jsonPath);
  const name = basename(jsonPath, '.json');
  const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as unknown;
  if (!isObj(results)) throw new Error(`${jsonPath}: not a results object`);
  const written: string[] = [];
  for (const chart of chartsOf(results)) {
    const path = join(dir, `${name}.${chart.name}.svg`);
    writeFileSync(path, await toSvg(chart.spec));
    written.push(path);
  }
  // a table this run does not have keeps no picture of an older one
  for (const f of readdirSync(dir)) {
    const path = join(dir, f);
    if (f.startsWith(`${name}.`) && f.endsWith('.svg') && !written.includes(path)) unlinkSync(path);
  }
  return written;
}

/** Render the charts of every latest*.json in dir; returns the paths written. */
export async function renderCharts(resultsDir: string): Promise<string[]> {
  const files = readdirSync(resultsDir)
    .filter((f) => f.startsWith('latest') && f.endsWith('.json'))
    .sort();
  const written: string[] = [];
  for (const f of files) written.push(...(await renderResultCharts(join(resultsDir, f))));
  return written;
}

// `npm run bench:charts [-- DIR]`: from the JSON already there, without measuring
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const dir = process.argv[2] ?? join(root, 'bench', 'results');
  renderCharts(dir).then(
    (paths) => {
      for (const p of paths) console.log(`wrote ${p}`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
