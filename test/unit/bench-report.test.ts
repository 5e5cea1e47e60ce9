// The pure parts of `npm run bench`: statistics, ratios, the tables, the JSON, the SVG chart, the README
// section, option parsing, and the parsing of strace's exec lines and of shim command lines.
import { describe, expect, it } from 'vitest';
import { parseStraceExecs, tallyExecs } from '../../bench/execs.js';
import { parseOptions, UsageError } from '../../bench/options.js';
import { residentShims, shimProcesses, shimRole } from '../../bench/processes.js';
import {
  formatRatio,
  ratioFor,
  readmeEnd,
  readmeStart,
  renderMarkdown,
  renderRatioTable,
  renderReadmeSection,
  renderVersionTable,
  replaceReadmeSection,
  toJson,
} from '../../bench/report.js';
import type { BenchReport, Row } from '../../bench/report.js';
import { central, median, percentile, ratioOf } from '../../bench/stats.js';
import { escapeXml, ratioX, renderRatioSvg } from '../../bench/svg.js';

const runRm: Row = {
  key: 'run-rm',
  metric: 'ctr run --rm true',
  unit: 'ms',
  figures: {
    tsshim: { samples: [120, 100, 110] },
    shared: { samples: [90, 95] },
    cold: { samples: [300] },
    go: { samples: [100, 100, 100] },
  },
  baselines: { cold: { samples: [150] } },
  targets: { tsshim: 1.15, shared: 1.05 },
};
const pss: Row = {
  key: 'pss-10',
  metric: 'idle PSS / container (10)',
  unit: 'MiB',
  figures: { tsshim: { value: 6.8 }, shared: { value: 1.2 }, cold: { unavailable: 'failed' }, go: { value: 3.4 } },
};
const counts: Row = {
  key: 'node-procs',
  metric: 'Node processes started / container',
  unit: 'count',
  figures: { tsshim: { value: 1 }, shared: { value: 0 }, go: { value: 0 } },
  chart: false,
};

function report(): BenchReport {
  return {
    date: '2026-12-01 16:00 UTC',
    quick: false,
    runtimes: ['tsshim', 'shared', 'cold'],
    notes: [],
    versions: [
      { containerd: '1.6', fullVersion: '1.6.20', rows: [runRm, pss, counts], notes: ['host: 2 CPUs'] },
      {
        containerd: '2.1',
        fullVersion: '2.1.9',
        rows: [{ ...runRm, figures: { ...runRm.figures, tsshim: { samples: [200] } } }],
        notes: ['host: 2 CPUs', 'only 2.1'],
      },
    ],
  };
}

describe('bench statistics', () => {
  it('median takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/empty/);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([5], 90)).toBe(5);
  });

  it('a figure without samples has no central value, and no ratio', () => {
    expect(central({ samples: [] })).toBeUndefined();
    expect(central({ unavailable: 'failed' })).toBeUndefined();
    expect(central({ value: Number.NaN })).toBeUndefined();
    expect(ratioOf({ value: 1 }, { value: 0 })).toBeUndefined();
    expect(ratioOf({ samples: [3, 1, 2] }, { value: 4 })).toBe(0.5);
  });
});

describe('bench ratios and tables', () => {
  it("divides by the Go figure, or by the runtime's own baseline (cold runs beside its own Go shim)", () => {
    expect(ratioFor(runRm, 'tsshim')).toBeCloseTo(1.1);
    expect(ratioFor(runRm, 'shared')).toBeCloseTo(0.925);
    expect(ratioFor(runRm, 'cold')).toBeCloseTo(2);
    expect(ratioFor(pss, 'cold')).toBeUndefined();
    expect(formatRatio(undefined)).toBe('-');
    expect(formatRatio(14.04)).toBe('14.0x');
  });

  it('prints one table per version with each runtime and its ratio to Go', () => {
    const text = renderVersionTable(report(), report().versions[0]!);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^metric\s+tsshim\s+tsshim shared\s+tsshim cold\s+Go shim\s+tsshim\/Go\s+shared\/Go\s+cold\/Go$/);
    expect(lines.find((l) => l.startsWith('ctr run --rm true (ms)'))).toMatch(/110\s+92\.5\s+300\s+100\s+1\.10x\s+0\.93x\s+2\.00x$/);
    expect(lines.find((l) => l.startsWith('idle PSS'))).toMatch(/6\.80\s+1\.20\s+failed\s+3\.40\s+2\.00x\s+0\.35x\s+-$/);
    // Counts print as whole numbers; a zero Go figure gives no ratio.
    expect(lines.find((l) => l.startsWith('Node processes'))).toMatch(/\(count\)\s+1\s+0\s+0\s+-\s+-$/);
  });

  it('puts every version side by side in the ratio table, with the targets', () => {
    const lines = renderRatioTable(report()).split('\n');
    expect(lines[0]).toMatch(/1\.6 tsshim\s+1\.6 shared\s+1\.6 cold\s+2\.1 tsshim\s+2\.1 shared\s+2\.1 cold\s+target$/);
    expect(lines[2]).toMatch(
      /^ctr run --rm true\s+1\.10x\s+0\.93x\s+2\.00x\s+2\.00x\s+0\.93x\s+2\.00x\s+tsshim <= 1\.15x, shared <= 1\.05x$/,
    );
    // A metric 2.1 did not measure leaves its cells empty.
    expect(lines.find((l) => l.startsWith('idle PSS'))).toMatch(/2\.00x\s+0\.35x\s+-$/);
  });

  it('renders the README section: chart, a Markdown table per version, notes once', () => {
    const md = renderMarkdown(report());
    expect(md).toContain('| ctr run --rm true (ms) | 110 (1.10x) | 92.5 (0.93x) | 300 (2.00x) | 100 |');
    expect(md).toContain('containerd 2.1.9:');
    const section = renderReadmeSection(report(), 'bench/results/latest.svg');
    expect(section.startsWith('![tsshim / Go shim ratios](bench/results/latest.svg)')).toBe(true);
    expect(section.match(/- host: 2 CPUs/g)).toHaveLength(1);
    expect(section).toContain('- only 2.1');
  });

  it('replaces only the text between the README markers, and says when they are missing', () => {
    const readme = `# x\n${readmeStart}\nold table\n${readmeEnd}\nafter\n`;
    expect(replaceReadmeSection(readme, 'new table')).toBe(`# x\n${readmeStart}\nnew table\n${readmeEnd}\nafter\n`);
    expect(() => replaceReadmeSection('# x\n', 'new')).toThrow(/bench:start/);
  });

  it('writes JSON with the samples, medians, p90 and ratios', () => {
    const json = JSON.parse(toJson(report())) as {
      versions: {
        rows: { key: string; figures: Record<string, { median?: number; p90?: number }>; ratios: Record<string, number | null> }[];
      }[];
    };
    const row = json.versions[0]!.rows.find((r) => r.key === 'run-rm')!;
    expect(row.figures.tsshim).toMatchObject({ median: 110, p90: 120 });
    expect(row.ratios.tsshim).toBeCloseTo(1.1);
    expect(json.versions[0]!.rows.find((r) => r.key === 'pss-10')!.ratios.cold).toBeNull();
  });
});

describe('bench SVG chart', () => {
  it('draws one bar per version and runtime with a ratio, on a log scale centred on parity', () => {
    const svg = renderRatioSvg(report());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    // run-rm: 3 runtimes x 2 versions; pss-10: 2 (cold failed); the count row is not charted.
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(8);
    expect(svg).not.toContain('Node processes');
    expect(svg).toContain('<title>1.6 tsshim shared: 0.35x</title>');
    // Target ticks: run-rm has two targets per version.
    expect(svg.match(/stroke="#c53030"/g)).toHaveLength(4);
    expect(ratioX(1) - ratioX(1 / 8)).toBeCloseTo(((ratioX(32) - ratioX(1)) * 3) / 5);
    expect(ratioX(1000)).toBe(ratioX(32));
    expect(ratioX(0.001)).toBe(ratioX(1 / 8));
    expect(ratioX(2) - ratioX(1)).toBeCloseTo(ratioX(4) - ratioX(2));
  });

  it('escapes text', () => {
    expect(escapeXml('a<b & "c">')).toBe('a&lt;b &amp; &quot;c&quot;&gt;');
    const r = report();
    r.versions[0]!.rows[0] = { ...runRm, metric: 'x <y> & z' };
    expect(renderRatioSvg(r)).toContain('x &lt;y&gt; &amp; z');
  });
});

describe('bench options and process accounting', () => {
  it('defaults to 1.6 and 2.1 with shared and cold; --quick trims', () => {
    const full = parseOptions([]);
    expect(full).toMatchObject({ containerd: ['1.6', '2.1'], idle: [1, 10, 50], burst: 30, shared: true, cold: true, sea: false });
    const quick = parseOptions(['--quick', '--containerd', '2.1', '--sea']);
    expect(quick).toMatchObject({ containerd: ['2.1'], idle: [1, 10], burst: 10, cold: false, sea: true, quick: true });
    expect(parseOptions(['--idle=50,1,10,10']).idle).toEqual([1, 10, 50]);
    expect(() => parseOptions(['--containerd', '1.5'])).toThrow(UsageError);
    expect(() => parseOptions(['--iterations', '2', '--warmup', '2'])).toThrow(/warmup/);
  });

  it('reads successful execs from strace -ff output and counts them per family', () => {
    const text = [
      'execve("/tmp/d/dist/containerd-shim-tsshim-v2", ["containerd-shim-tsshim-v2", "-id", "x", "start"], 0x7ffd /* 30 vars */) = 0',
      'execve("/usr/bin/node", ["/usr/bin/node", "--v8-pool-size=1", "/tmp/d/dist/current/shim.mjs"], 0x5 /* 30 vars */) = 0',
      'execve("/usr/local/bin/runc", ["runc"], 0x1 /* 3 vars */) = -1 ENOENT (No such file or directory)',
      '+++ exited with 0 +++',
    ].join('\n');
    const records = [
      ...parseStraceExecs(10, text),
      { pid: 11, file: '/usr/bin/node' },
      { pid: 12, file: '/usr/sbin/runc' },
      { pid: 13, file: '/usr/bin/containerd-shim-runc-v2' },
    ];
    expect(records.slice(0, 2)).toEqual([
      { pid: 10, file: '/tmp/d/dist/containerd-shim-tsshim-v2' },
      { pid: 10, file: '/usr/bin/node' },
    ]);
    expect(tallyExecs(records, 'tsshim', 2)).toEqual({ lifecycles: 2, node: 2, shimProcesses: 2, runc: 1, all: 5 });
    expect(tallyExecs(records, 'go', 1).shimProcesses).toBe(1);
  });

  it('tells a spare, a daemon and a transient action apart, whatever the container id', () => {
    expect(shimRole(['node', 'shim.mjs', '-namespace', 'n', '-id', 'start', '-address', '/a'])).toBe('daemon');
    expect(shimRole(['shim', '-namespace', 'n', '-address', '/a', '-id', 'c', '-debug', 'start'])).toBe('start');
    expect(shimRole(['shim', '-namespace', 'n', '-address', '/a', '-bundle', '/b', '-id', 'c', 'delete'])).toBe('delete');
    expect(shimRole(['node', 'shim.mjs', '-address', '/a', 'spare'])).toBe('spare');
  });
});

describe('bench shim process accounting', () => {
  const address = '/tmp/tsshim-bench-x/c.sock';
  // Pids that do not exist: /proc/<pid>/exe cannot be read, so argv alone decides.
  const proc = (pid: number, cmdline: string[], comm = 'x') => ({ pid, ppid: 1, state: 'S', comm, cmdline });
  const all = [
    proc(900001, [
      'containerd-shim-tsshim-v2',
      '--v8-pool-size=1',
      '/r/dist/current/shim.mjs',
      '-namespace',
      'bench',
      '-id',
      'a',
      '-address',
      address,
    ]),
    proc(900002, ['containerd-shim-tsshim-v2', '/r/dist/current/shim.mjs', '-address', address, 'spare']),
    proc(900003, ['/usr/bin/containerd-shim-runc-v2', '-namespace', 'bench', '-id', 'b', '-address', address]),
    proc(900004, ['/bin/sh', '/r/dist/containerd-shim-tsshim-v2', '-namespace', 'bench', '-address', address, '-id', 'c', 'start']),
    proc(900005, ['ctr', '--address', address, 'events'], 'ctr'),
    proc(900006, ['containerd-shim-tsshim-v2', '-address', '/other/c.sock', 'spare']),
    proc(900007, ['runc', '--root', '/run/containerd/runc/bench', 'create', '-address', address], 'runc'),
    // A spare adopted by a start: its title rewritten to the daemon's command line, in its argv's room.
    proc(900008, [`containerd-shim-tsshim-v2 -namespace bench -id d -address ${address}`, '', '', '']),
    proc(900009, ['containerd-shim-tsshim-v2', '/r/dist/current/shim.mjs', '-address', address, 'spare', '   ']),
  ];

  it("finds the shims of one containerd by -address, spares included, not ctr, runc or another containerd's", () => {
    expect(shimProcesses(address, all).map((p) => [p.pid, p.family, p.role])).toEqual([
      [900001, 'tsshim', 'daemon'],
      [900002, 'tsshim', 'spare'],
      [900003, 'go', 'daemon'],
      [900004, 'tsshim', 'start'],
      [900008, 'tsshim', 'daemon'],
      [900009, 'tsshim', 'spare'],
    ]);
    expect(residentShims(address, 'tsshim', all).map((p) => p.pid)).toEqual([900001, 900002, 900008, 900009]);
    expect(residentShims(address, 'go', all).map((p) => p.pid)).toEqual([900003]);
  });
});
