// The ratios of a bench run as an SVG bar chart: one group of bars per metric, one bar per containerd
// version and tsshim runtime, drawn on a log scale from 1.0 (parity with the Go shim) towards the ratio,
// with issue 9's targets as ticks. Hand-written SVG, no chart library. Pure: no I/O.
import { ratioFor, runtimeLabels } from './report.js';
import type { BenchReport, Row, TsshimTag } from './report.js';

const colors: Record<TsshimTag, string> = { tsshim: '#2b6cb0', shared: '#2f855a', cold: '#c05621', sea: '#6b46c1' };
/** Later containerd versions are drawn lighter. */
const versionOpacity = [1, 0.55, 0.35, 0.25];

const width = 980;
const labelWidth = 250;
const plotLeft = labelWidth + 10;
const plotRight = width - 130;
const barHeight = 10;
const barGap = 2;
const groupGap = 12;
/** log2 of the smallest and largest ratio on the axis; bars beyond are clipped and say so. */
const minLog = -3;
const maxLog = 5;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** x of a ratio on the log axis, clamped to the plot. */
export function ratioX(ratio: number): number {
  const l = Math.min(maxLog, Math.max(minLog, Math.log2(ratio)));
  return plotLeft + ((l - minLog) / (maxLog - minLog)) * (plotRight - plotLeft);
}

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

interface Bar {
  version: string;
  versionIndex: number;
  tag: TsshimTag;
  ratio: number;
  target: number | undefined;
}

function barsOf(report: BenchReport, key: string): Bar[] {
  const bars: Bar[] = [];
  report.versions.forEach((v, versionIndex) => {
    const row: Row | undefined = v.rows.find((r) => r.key === key);
    if (row === undefined || row.chart === false) return;
    for (const tag of report.runtimes) {
      const ratio = ratioFor(row, tag);
      if (ratio !== undefined && ratio > 0) bars.push({ version: v.containerd, versionIndex, tag, ratio, target: row.targets?.[tag] });
    }
  });
  return bars;
}

function metricsOf(report: BenchReport): { key: string; metric: string }[] {
  const seen = new Map<string, string>();
  for (const v of report.versions) for (const r of v.rows) if (r.chart !== false && !seen.has(r.key)) seen.set(r.key, r.metric);
  return [...seen].map(([key, metric]) => ({ key, metric }));
}

export function renderRatioSvg(report: BenchReport): string {
  const groups = metricsOf(report)
    .map((m) => ({ ...m, bars: barsOf(report, m.key) }))
    .filter((g) => g.bars.length > 0);
  const top = 78;
  const groupHeights = groups.map((g) => g.bars.length * (barHeight + barGap) - barGap);
  const plotBottom = top + groupHeights.reduce((a, h) => a + h + groupGap, 0);
  const height = plotBottom + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="DejaVu Sans, Arial, sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  const versions = report.versions.map((v) => v.fullVersion).join(', ');
  out.push(
    `<text x="10" y="20" font-size="14" font-weight="bold">tsshim / containerd-shim-runc-v2, medians of one run (lower is better)</text>`,
  );
  out.push(
    `<text x="10" y="37" fill="#555">${escapeXml(
      `containerd ${versions}; ${report.date}${report.quick ? '; --quick' : ''}; ticks: issue 9 targets; log scale`,
    )}</text>`,
  );
  // Legend: one swatch per runtime, then one per version shade.
  let lx = 10;
  for (const tag of report.runtimes) {
    out.push(`<rect x="${lx}" y="48" width="12" height="10" fill="${colors[tag]}"/>`);
    out.push(`<text x="${lx + 16}" y="57">${escapeXml(runtimeLabels[tag])}</text>`);
    lx += 22 + runtimeLabels[tag].length * 6.5;
  }
  report.versions.forEach((v, i) => {
    out.push(`<rect x="${lx}" y="48" width="12" height="10" fill="#444" fill-opacity="${versionOpacity[i] ?? 0.2}"/>`);
    out.push(`<text x="${lx + 16}" y="57">${escapeXml(`containerd ${v.containerd}`)}</text>`);
    lx += 110;
  });
  // Axis: gridlines at powers of two, parity (1.0x) drawn darker.
  for (let l = minLog; l <= maxLog; l++) {
    const x = fmt(ratioX(2 ** l));
    out.push(
      `<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${plotBottom}" stroke="${l === 0 ? '#222' : '#ddd'}" stroke-width="${l === 0 ? 1.5 : 1}"/>`,
    );
    const label = l < 0 ? `1/${2 ** -l}` : `${2 ** l}`;
    out.push(`<text x="${x}" y="${plotBottom + 14}" text-anchor="middle" fill="#555">${label}x</text>`);
  }
  let y = top;
  groups.forEach((g, gi) => {
    const h = groupHeights[gi] ?? 0;
    out.push(`<text x="${labelWidth}" y="${fmt(y + h / 2 + 4)}" text-anchor="end">${escapeXml(g.metric)}</text>`);
    for (const b of g.bars) {
      const x1 = ratioX(1);
      const x2 = ratioX(b.ratio);
      const clipped = Math.log2(b.ratio) > maxLog || Math.log2(b.ratio) < minLog;
      const title = `${b.version} ${runtimeLabels[b.tag]}: ${b.ratio.toFixed(2)}x${b.target === undefined ? '' : ` (target ${b.target}x)`}`;
      out.push(
        `<rect x="${fmt(Math.min(x1, x2))}" y="${fmt(y)}" width="${fmt(Math.max(1, Math.abs(x2 - x1)))}" height="${barHeight}" ` +
          `fill="${colors[b.tag]}" fill-opacity="${versionOpacity[b.versionIndex] ?? 0.2}"><title>${escapeXml(title)}</title></rect>`,
      );
      if (b.target !== undefined) {
        const tx = fmt(ratioX(b.target));
        out.push(`<line x1="${tx}" y1="${fmt(y - 1)}" x2="${tx}" y2="${fmt(y + barHeight + 1)}" stroke="#c53030" stroke-width="2"/>`);
      }
      // Right of the bar's end, or of parity for a bar that goes left (clear of the metric labels).
      const labelX = Math.max(x1, x2) + 4;
      out.push(
        `<text x="${fmt(labelX)}" y="${fmt(y + barHeight - 1)}" font-size="9" fill="#333">` +
          `${escapeXml(`${b.version} ${b.ratio.toFixed(2)}x${clipped ? ' (off scale)' : ''}`)}</text>`,
      );
      y += barHeight + barGap;
    }
    y += groupGap - barGap;
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
