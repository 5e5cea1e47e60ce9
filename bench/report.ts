// What a bench run produces: rows of figures per containerd version, the ratio tables (plain text for the
// terminal, Markdown for the README) and the JSON written to bench/results/. Pure: no I/O.
import { central, ratioOf, spread } from './stats.js';
import type { Figure } from './stats.js';

/**
 * tsshim: one daemon per container (the default); shared: one daemon per containerd namespace
 * (ShimSharing = "namespace"); cold: the default with no spare daemons (TSSHIM_SPARES=0, a containerd of
 * its own); sea: the single executable; go: containerd-shim-runc-v2, the reference of every ratio.
 */
export const runtimeTags = ['tsshim', 'shared', 'cold', 'sea', 'go'] as const;
export type RuntimeTag = (typeof runtimeTags)[number];
export type TsshimTag = Exclude<RuntimeTag, 'go'>;

export const runtimeLabels: Record<RuntimeTag, string> = {
  tsshim: 'tsshim',
  shared: 'tsshim shared',
  cold: 'tsshim cold',
  sea: 'tsshim SEA',
  go: 'Go shim',
};

export type Unit = 'ms' | 'MiB' | 'count' | 'threads';

export interface Row {
  /** Stable identifier (JSON consumers, chart): e.g. 'run-rm', 'pss-10'. */
  key: string;
  metric: string;
  unit: Unit;
  figures: Partial<Record<RuntimeTag, Figure>>;
  /**
   * The Go figure a runtime's ratio divides by, when not figures.go: the cold runtime runs in a containerd
   * of its own, beside a Go shim measured there.
   */
  baselines?: Partial<Record<TsshimTag, Figure>>;
  /** Issue 9's targets for runtime/Go (upper bounds). */
  targets?: Partial<Record<TsshimTag, number>>;
  /** Drawn in the chart (default true; counts and per-extra-container figures are not ratios worth a bar). */
  chart?: boolean;
}

export interface VersionResult {
  /** 1.6, 2.1, ... */
  containerd: string;
  fullVersion: string;
  rows: Row[];
  /** How the figures were taken, host load, versions: printed under the table. */
  notes: string[];
}

export interface BenchReport {
  date: string;
  quick: boolean;
  /** The tsshim runtimes measured, in column order (go is always there). */
  runtimes: TsshimTag[];
  versions: VersionResult[];
  notes: string[];
}

/** The ratio of `tag` to the Go shim in this row (its own baseline if it has one). */
export function ratioFor(row: Row, tag: TsshimTag): number | undefined {
  return ratioOf(row.figures[tag], row.baselines?.[tag] ?? row.figures.go);
}

function formatValue(value: number, unit: Unit): string {
  if (unit === 'ms') return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  if (unit === 'MiB') return value >= 10 ? value.toFixed(1) : value.toFixed(2);
  if (unit === 'count' && Number.isInteger(value)) return value.toFixed(0);
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function formatRatio(r: number | undefined): string {
  if (r === undefined) return '-';
  return r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

function cell(f: Figure | undefined, unit: Unit): string {
  if (f === undefined) return '';
  if ('unavailable' in f) return f.unavailable;
  const c = central(f);
  return c === undefined ? 'no samples' : formatValue(c, unit);
}

function columns(report: Pick<BenchReport, 'runtimes'>): RuntimeTag[] {
  return [...report.runtimes, 'go'];
}

/** Pads a grid into aligned plain text: first column left-aligned, the others right-aligned. */
function alignColumns(header: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cols: readonly string[]): string =>
    cols
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** One containerd version: each runtime's median (or value), then each tsshim runtime's ratio to Go. */
export function renderVersionTable(report: Pick<BenchReport, 'runtimes'>, v: VersionResult): string {
  const tags = columns(report);
  const header = ['metric', ...tags.map((t) => runtimeLabels[t]), ...report.runtimes.map((t) => `${t}/Go`)];
  const body = v.rows.map((r) => [
    `${r.metric} (${r.unit})`,
    ...tags.map((t) => cell(r.figures[t], r.unit)),
    ...report.runtimes.map((t) => (r.figures[t] === undefined ? '' : formatRatio(ratioFor(r, t)))),
  ]);
  return alignColumns(header, body);
}

/** The rows of every version, matched by key, in first-seen order. */
function rowKeys(report: BenchReport): { key: string; metric: string }[] {
  const seen = new Map<string, string>();
  for (const v of report.versions) for (const r of v.rows) if (!seen.has(r.key)) seen.set(r.key, r.metric);
  return [...seen].map(([key, metric]) => ({ key, metric }));
}

function targetText(report: BenchReport, key: string): string {
  for (const v of report.versions) {
    const row = v.rows.find((r) => r.key === key);
    if (row?.targets) {
      return report.runtimes
        .filter((t) => row.targets?.[t] !== undefined)
        .map((t) => `${t} <= ${row.targets?.[t]}x`)
        .join(', ');
    }
  }
  return '';
}

/** Every ratio of the run: one column per containerd version and tsshim runtime, then the targets. */
export function renderRatioTable(report: BenchReport): string {
  const pairs = report.versions.flatMap((v) => report.runtimes.map((t) => ({ v, t })));
  const header = ['tsshim/Go (medians)', ...pairs.map(({ v, t }) => `${v.containerd} ${t}`), 'target'];
  const body = rowKeys(report).map(({ key, metric }) => [
    metric,
    ...pairs.map(({ v, t }) => {
      const row = v.rows.find((r) => r.key === key);
      return row?.figures[t] === undefined ? '' : formatRatio(ratioFor(row, t));
    }),
    targetText(report, key),
  ]);
  return alignColumns(header, body);
}

const mdEscape = (s: string): string => s.replace(/\|/g, '\\|');

/** The README's table: per version, every runtime's figure and its ratio to Go in one cell. */
export function renderMarkdown(report: BenchReport): string {
  const tags = columns(report);
  const out: string[] = [];
  for (const v of report.versions) {
    out.push(`containerd ${v.fullVersion}:`, '');
    out.push(`| metric | ${tags.map((t) => runtimeLabels[t]).join(' | ')} |`);
    out.push(`|---|${tags.map(() => '---:').join('|')}|`);
    for (const r of v.rows) {
      const cells = tags.map((t) => {
        const value = cell(r.figures[t], r.unit);
        if (t === 'go' || value === '' || central(r.figures[t]) === undefined) return mdEscape(value);
        const ratio = ratioFor(r, t);
        return ratio === undefined ? value : `${value} (${formatRatio(ratio)})`;
      });
      out.push(`| ${mdEscape(r.metric)} (${r.unit}) | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

interface FigureSummary {
  median?: number;
  p90?: number;
  value?: number;
  samples?: number[];
  unavailable?: string;
}

function summarize(f: Figure): FigureSummary {
  if ('unavailable' in f) return { unavailable: f.unavailable };
  if ('value' in f) return { value: f.value };
  const m = central(f);
  const p = spread(f);
  return { ...(m === undefined ? {} : { median: m }), ...(p === undefined ? {} : { p90: p }), samples: f.samples };
}

/** The JSON written to bench/results/: the raw samples plus medians and ratios, so readers need no code. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(
    {
      ...report,
      versions: report.versions.map((v) => ({
        ...v,
        rows: v.rows.map((r) => ({
          key: r.key,
          metric: r.metric,
          unit: r.unit,
          figures: Object.fromEntries(Object.entries(r.figures).map(([t, f]) => [t, summarize(f)])),
          ...(r.baselines ? { baselines: Object.fromEntries(Object.entries(r.baselines).map(([t, f]) => [t, summarize(f)])) } : {}),
          ratios: Object.fromEntries(report.runtimes.filter((t) => r.figures[t] !== undefined).map((t) => [t, ratioFor(r, t) ?? null])),
          ...(r.targets ? { targets: r.targets } : {}),
          ...(r.chart === false ? { chart: false } : {}),
        })),
      })),
    },
    null,
    2,
  )}\n`;
}

export const readmeStart = '<!-- bench:start (generated by npm run bench -- --update-readme) -->';
export const readmeEnd = '<!-- bench:end -->';

/** The README with the text between the bench markers replaced; throws if the markers are missing. */
export function replaceReadmeSection(readme: string, section: string): string {
  const a = readme.indexOf(readmeStart);
  const b = readme.indexOf(readmeEnd);
  if (a < 0 || b < a) throw new Error(`README.md has no "${readmeStart}" ... "${readmeEnd}" section`);
  return `${readme.slice(0, a + readmeStart.length)}\n${section.trim()}\n${readme.slice(b)}`;
}

/** The README's section: the chart, then per version the table, then how the figures were taken. */
export function renderReadmeSection(report: BenchReport, chartPath: string): string {
  const first = report.versions[0];
  return [
    `![tsshim / Go shim ratios](${chartPath})`,
    '',
    renderMarkdown(report),
    '',
    `Run of ${report.date}${report.quick ? ' (--quick)' : ''}; cells are medians (ratio to the Go shim in brackets).`,
    '',
    ...report.versions.flatMap((v) => (v === first ? v.notes : v.notes.filter((n) => !first?.notes.includes(n))).map((n) => `- ${n}`)),
  ].join('\n');
}
