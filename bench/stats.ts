// Summary statistics and the figures a bench row holds. Pure: no I/O (test/unit/bench-report.test.ts).

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

/** A measured figure for one runtime: samples, a single value (e.g. a sum / count), or why there is none. */
export type Figure = { samples: number[] } | { value: number } | { unavailable: string };

/** The figure's central value: the median of samples, or the single value; undefined when there is none. */
export function central(f: Figure | undefined): number | undefined {
  if (f === undefined) return undefined;
  if ('value' in f) return Number.isFinite(f.value) ? f.value : undefined;
  if ('samples' in f && f.samples.length > 0) return median(f.samples);
  return undefined;
}

/** p90 of samples; undefined for a single value or nothing. */
export function spread(f: Figure | undefined): number | undefined {
  return f !== undefined && 'samples' in f && f.samples.length > 1 ? percentile(f.samples, 90) : undefined;
}

/** a / b of the central values, when both exist and b > 0. */
export function ratioOf(a: Figure | undefined, b: Figure | undefined): number | undefined {
  const x = central(a);
  const y = central(b);
  return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
}
