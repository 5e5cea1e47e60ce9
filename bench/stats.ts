// Summary statistics and the printed table.

/** Nearest-rank percentile (p in 0..100) of a non-empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) throw new Error('percentile of an empty sample');
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

/** Median (mean of the two middle values for an even count). */
export function median(sample: readonly number[]): number {
  if (sample.length === 0) throw new Error('median of an empty sample');
  const sorted = [...sample].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A measured figure for one runtime: samples, a single value (e.g. a mean), or why there is none. */
export type Figure = { samples: number[] } | { value: number } | { unavailable: string };

/** The figure's central value: the median of samples, or the single value. */
function central(f: Figure): number | undefined {
  if ('value' in f) return f.value;
  if ('samples' in f && f.samples.length > 0) return median(f.samples);
  return undefined;
}

export interface Row {
  metric: string;
  unit: 'ms' | 'MiB' | 'threads';
  /** tsshim through its launcher (dist/containerd-shim-tsshim-v2: sh + node + dist/current/shim.mjs). */
  tsshim: Figure;
  /** tsshim as the single executable (dist/sea/containerd-shim-tsshim-v2). */
  sea: Figure;
  go: Figure;
}

function fmt(value: number, unit: Row['unit']): string {
  if (unit === 'ms') return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  return value.toFixed(1);
}

function cells(f: Figure, unit: Row['unit']): [string, string] {
  if ('unavailable' in f) return [f.unavailable, ''];
  if ('value' in f) return [fmt(f.value, unit), '-'];
  if (f.samples.length === 0) return ['no samples', ''];
  return [fmt(median(f.samples), unit), f.samples.length > 1 ? fmt(percentile(f.samples, 90), unit) : '-'];
}

function ratio(a: Figure, b: Figure): string {
  const x = central(a);
  const y = central(b);
  return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}x` : '-';
}

/**
 * A plain-text table: metric, median/p90 of tsshim (launcher), the single executable (SEA) and the
 * Go shim, ratios of medians.
 */
export function renderTable(rows: readonly Row[]): string {
  const header = ['metric', 'tsshim median', 'tsshim p90', 'SEA median', 'SEA p90', 'Go median', 'Go p90', 'tsshim/Go', 'SEA/tsshim'];
  const body = rows.map((r) => {
    const [tm, tp] = cells(r.tsshim, r.unit);
    const [sm, sp] = cells(r.sea, r.unit);
    const [gm, gp] = cells(r.go, r.unit);
    return [`${r.metric} (${r.unit})`, tm, tp, sm, sp, gm, gp, ratio(r.tsshim, r.go), ratio(r.sea, r.tsshim)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cols: readonly string[]): string =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
