// node bench/compare.mjs bench/results/A.json bench/results/B.json …
// One row per figure: its value in each run, the median, the median ratio and whether the
// median ratio (or value) meets the figure's target.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/compare.mjs RESULTS.json [RESULTS.json …]');
  process.exit(2);
}

/**
 * @typedef {{ id: string, label: string, value: number, unit: string, base?: number,
 *   baseLabel?: string, ratio?: number, target?: string, met?: boolean | null }} Figure
 */

/** @type {{ file: string, figures: Map<string, Figure> }[]} */
const runs = files.map((file) => {
  /** @type {{ figures?: Figure[] }} */
  const parsed = JSON.parse(readFileSync(file, 'utf8'));
  return { file, figures: new Map((parsed.figures ?? []).map((f) => [f.id, f])) };
});

/** @param {number[]} values */
function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) {
    return NaN;
  }
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? NaN) : ((v[mid - 1] ?? NaN) + (v[mid] ?? NaN)) / 2;
}

/**
 * @param {number} v
 * @param {string} unit
 */
function show(v, unit) {
  if (!Number.isFinite(v)) {
    return 'n/a';
  }
  switch (unit) {
    case 'ops':
      return `${Math.round(v).toLocaleString('en-US')} /s`;
    case 'ms':
      return `${v.toFixed(2)} ms`;
    case 's':
      return `${v.toFixed(2)} s`;
    case 'mb':
      return `${v.toFixed(0)} MB`;
    default:
      return String(Math.round(v));
  }
}

/**
 * "≥ 0.8 (stretch 1.5)", "≤ 1.5", "≤ 3 s", "≤ 200 MB": does `x` meet it?
 * @param {string} target
 * @param {number} x
 */
function meets(target, x) {
  const m = /^([≥≤])\s*([\d.]+)/.exec(target);
  if (!m || !Number.isFinite(x)) {
    return undefined;
  }
  const bound = Number(m[2]);
  return m[1] === '≥' ? x >= bound : x <= bound;
}

const ids = [...new Set(runs.flatMap((r) => [...r.figures.keys()]))];
const head = [
  'figure',
  ...runs.map((r) => basename(r.file, '.json').slice(0, 19)),
  'median',
  'raw etcd / baseline',
  'ratio',
  'target',
  'met?',
];
const rows = ids.map((id) => {
  const all = runs.map((r) => r.figures.get(id));
  const first = all.find((f) => f !== undefined);
  const unit = first?.unit ?? '';
  const value = median(all.map((f) => f?.value ?? NaN));
  const base = median(all.map((f) => f?.base ?? NaN));
  const ratio = median(all.map((f) => f?.ratio ?? NaN));
  const target = first?.target ?? '';
  // A target with a unit (s, MB) is on the value; without, on the ratio.
  const judged = /\b(s|MB)$/.test(target) ? value : ratio;
  const met = target ? meets(target, judged) : undefined;
  return [
    first?.label ?? id,
    ...all.map((f) => (f ? show(f.value, unit) : '')),
    show(value, unit),
    Number.isFinite(base)
      ? `${first?.baseLabel ?? 'raw'} ${show(base, unit === 'ops' ? unit : 'ms')}`
      : '',
    Number.isFinite(ratio) ? ratio.toFixed(2) : '',
    target,
    met === undefined ? '' : met ? 'yes' : 'NO',
  ];
});
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (/** @type {string[]} */ cells) =>
  cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - c.length))).join('  ');
console.log(line(head));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) {
  console.log(line(r));
}
