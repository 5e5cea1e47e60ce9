// npm run bench: tsshim (one daemon per container, and shared per namespace) against
// containerd-shim-runc-v2, under one private containerd at a time (1.6, then 2.1; see scripts/bench.sh,
// which runs this in a private mount namespace). Prints medians and tsshim/Go ratios, writes
// bench/results/latest.{json,svg,md}; never fails on a slow ratio, only when a step breaks.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { loadFixtures } from '../test/e2e/harness/fixtures.js';
import { repoRoot, tsshimBinary } from '../test/e2e/harness/paths.js';
import type { ContainerdVersion } from '../test/e2e/harness/versions.js';
import { measureBurst } from './burst.js';
import type { Burst } from './burst.js';
import { startBenchContainerd } from './containerd.js';
import type { BenchContainerd } from './containerd.js';
import { idleCpuRate, measureCpuPerLifecycle } from './cpu.js';
import { countExecs } from './execs.js';
import type { ExecCounts } from './execs.js';
import { measureLatencies } from './latency.js';
import type { LatencySamples } from './latency.js';
import { measureIdleMemory } from './memory.js';
import type { MemoryAt } from './memory.js';
import { parseOptions, usage, UsageError } from './options.js';
import type { BenchOptions } from './options.js';
import { renderRatioTable, renderReadmeSection, renderVersionTable, replaceReadmeSection, toJson } from './report.js';
import type { BenchReport, Row, RuntimeTag, TsshimTag, Unit, VersionResult } from './report.js';
import { benchRuntimes } from './runtimes.js';
import type { Runtime } from './runtimes.js';
import { measureShimStart } from './shim-start.js';
import type { ShimStartSamples } from './shim-start.js';
import type { Figure } from './stats.js';
import { renderRatioSvg } from './svg.js';
import { describeLoad, describeVersions, seaBinary } from './versions.js';

type PerRuntime<T> = Partial<Record<RuntimeTag, T>>;

const progress = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

/** Section failures: the run goes on (the figure says "failed"), and the exit status is 1. */
const failures: string[] = [];

async function attempt<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    failures.push(`${what}: ${message}`);
    progress(`${what} failed: ${message.split('\n')[0]}`);
    return undefined;
  }
}

function figures<T>(per: PerRuntime<T>, tags: readonly RuntimeTag[], figure: (x: T) => Figure): Partial<Record<RuntimeTag, Figure>> {
  const out: Partial<Record<RuntimeTag, Figure>> = {};
  for (const t of tags) {
    const x = per[t];
    out[t] = x === undefined ? { unavailable: 'failed' } : figure(x);
  }
  return out;
}

function row<T>(
  key: string,
  metric: string,
  unit: Unit,
  per: PerRuntime<T>,
  tags: readonly RuntimeTag[],
  figure: (x: T) => Figure,
  extra: Partial<Pick<Row, 'targets' | 'chart'>> = {},
): Row {
  return { key, metric, unit, figures: figures(per, tags, figure), ...extra };
}

const MiB = 1024;

interface Sections {
  latency: PerRuntime<LatencySamples>;
  cold: { latency: PerRuntime<LatencySamples>; cpu: PerRuntime<number[]> } | undefined;
  cpu: PerRuntime<number[]>;
  execs: PerRuntime<ExecCounts>;
  memory: PerRuntime<MemoryAt[]>;
  burst: PerRuntime<Burst>;
  shimStart: PerRuntime<ShimStartSamples>;
}

function buildRows(s: Sections, tags: readonly RuntimeTag[], opts: BenchOptions): Row[] {
  const rows: Row[] = [
    row('run-rm', 'ctr run --rm true', 'ms', s.latency, tags, (x) => ({ samples: x.runRm }), { targets: { tsshim: 1.15, shared: 1.05 } }),
    row('run-d', 'ctr run -d', 'ms', s.latency, tags, (x) => ({ samples: x.runDetached }), { targets: { tsshim: 1.15 } }),
    row('exec', 'ctr task exec true', 'ms', s.latency, tags, (x) => ({ samples: x.exec }), { targets: { tsshim: 1.05 } }),
    row('exit-event', 'SIGKILL -> /tasks/exit', 'ms', s.latency, tags, (x) => ({ samples: x.exitEvent }), { targets: { tsshim: 1.0 } }),
    row('task-delete', 'ctr task delete', 'ms', s.latency, tags, (x) => ({ samples: x.taskDelete }), { targets: { tsshim: 1.0 } }),
  ];
  if (s.cold) {
    // The cold runtime's figures, each divided by the Go shim measured in the same (cold) containerd.
    const cold = s.cold;
    const add = (key: string, pick: (x: LatencySamples) => number[]): void => {
      const r = rows.find((x) => x.key === key);
      if (r === undefined) return;
      const c = cold.latency.cold;
      const g = cold.latency.go;
      r.figures.cold = c === undefined ? { unavailable: 'failed' } : { samples: pick(c) };
      r.baselines = { ...r.baselines, cold: g === undefined ? { unavailable: 'failed' } : { samples: pick(g) } };
    };
    add('run-rm', (x) => x.runRm);
    add('run-d', (x) => x.runDetached);
    add('task-delete', (x) => x.taskDelete);
  }
  if (opts.execLifecycles > 0) {
    const per =
      (f: (c: ExecCounts) => number) =>
      (c: ExecCounts): Figure => ({ value: f(c) / c.lifecycles });
    rows.push(
      row(
        'shim-procs',
        'shim processes started / container',
        'count',
        s.execs,
        tags,
        per((c) => c.shimProcesses),
      ),
      row(
        'node-procs',
        'Node processes started / container',
        'count',
        s.execs,
        tags,
        per((c) => c.node),
        { chart: false },
      ),
      row(
        'all-execs',
        "programs exec'd / container (all)",
        'count',
        s.execs,
        tags,
        per((c) => c.all),
        { chart: false },
      ),
    );
  }
  const cpu = row('cpu', 'CPU per container lifecycle', 'ms', s.cpu, tags, (x) => ({ samples: x }), {
    targets: { tsshim: 3, shared: 1.5 },
  });
  if (s.cold) {
    const c = s.cold.cpu.cold;
    const g = s.cold.cpu.go;
    cpu.figures.cold = c === undefined ? { unavailable: 'failed' } : { samples: c };
    cpu.baselines = { cold: g === undefined ? { unavailable: 'failed' } : { samples: g } };
  }
  rows.push(cpu);
  const at =
    (n: number) =>
    (m: MemoryAt[]): MemoryAt | undefined =>
      m.find((x) => x.containers === n);
  const perContainer =
    (n: number, field: 'pssKiB' | 'ussKiB') =>
    (m: MemoryAt[]): Figure => {
      const x = at(n)(m);
      return x === undefined ? { unavailable: 'failed' } : { value: x[field] / MiB / n };
    };
  for (const n of opts.idle) {
    rows.push(
      row(
        `pss-${n}`,
        `idle PSS / container (${n})`,
        'MiB',
        s.memory,
        tags,
        perContainer(n, 'pssKiB'),
        n === 10 ? { targets: { tsshim: 3, shared: 0.35 } } : {},
      ),
    );
  }
  for (const n of opts.idle) {
    rows.push(row(`uss-${n}`, `idle USS / container (${n})`, 'MiB', s.memory, tags, perContainer(n, 'ussKiB'), { chart: n === 10 }));
  }
  const [lo, hi] = [opts.idle.at(-2), opts.idle.at(-1)];
  if (lo !== undefined && hi !== undefined) {
    rows.push(
      row(
        'pss-extra',
        `PSS per extra container (${lo} -> ${hi})`,
        'MiB',
        s.memory,
        tags,
        (m) => {
          const a = at(lo)(m);
          const b = at(hi)(m);
          return a && b ? { value: (b.pssKiB - a.pssKiB) / MiB / (hi - lo) } : { unavailable: 'failed' };
        },
        { chart: false },
      ),
    );
    rows.push(
      row(
        'procs-idle',
        `shim processes at ${hi} containers`,
        'count',
        s.memory,
        tags,
        (m) => {
          const b = at(hi)(m);
          return b ? { value: b.shims.length } : { unavailable: 'failed' };
        },
        { chart: false },
      ),
    );
  }
  rows.push(
    row('burst-wall', `${opts.burst} started at once: wall time`, 'ms', s.burst, tags, (b) => ({ value: b.wallMs }), {
      targets: { tsshim: 1.5 },
    }),
    row('burst-pss', `${opts.burst} started at once: shim PSS total`, 'MiB', s.burst, tags, (b) => ({ value: b.memory.pssKiB / MiB })),
  );
  if (opts.shimStart) {
    rows.push(
      row('shim-start', 'shim start (binary alone)', 'ms', s.shimStart, tags, (x) => ({ samples: x.start })),
      row('start-first-answer', 'shim start -> first answer', 'ms', s.shimStart, tags, (x) => ({ samples: x.startToFirstReply })),
      row('shim-delete', 'shim delete (binary alone)', 'ms', s.shimStart, tags, (x) => ({ samples: x.delete })),
      row('shim-v', 'shim -v', 'ms', s.shimStart, tags, (x) => ({ samples: x.version }), { chart: false }),
    );
  }
  return rows;
}

/** Runs `step` once per runtime, collecting what succeeded. */
async function perRuntime<T>(section: string, runtimes: readonly Runtime[], step: (r: Runtime) => Promise<T>): Promise<PerRuntime<T>> {
  const out: PerRuntime<T> = {};
  for (const r of runtimes) {
    progress(`${section}: ${r.tag}`);
    const x = await attempt(`${section} (${r.tag})`, () => step(r));
    if (x !== undefined) out[r.tag] = x;
  }
  return out;
}

async function importImages(containerd: Containerd, runtimes: readonly Runtime[]): Promise<string> {
  let image = '';
  for (const ns of new Set(runtimes.map((r) => r.namespace))) image = (await containerd.importImage(ns)).image;
  return image;
}

async function warmSections(bench: BenchContainerd, opts: BenchOptions): Promise<Omit<Sections, 'cold'>> {
  const { containerd, cpu } = bench;
  const runtimes = benchRuntimes(containerd, { shared: opts.shared, sea: opts.sea });
  const image = await importImages(containerd, runtimes);
  progress(
    `latencies: ${opts.iterations} iterations per runtime (${runtimes.map((r) => r.tag).join(', ')}), first ${opts.warmup} discarded`,
  );
  const latency = (await attempt('latencies', () => measureLatencies(containerd, image, runtimes, opts, progress))) ?? {};
  const idleRate = await idleCpuRate(cpu, 1_000);
  const cpuSamples = await perRuntime('CPU per lifecycle', runtimes, (r) =>
    measureCpuPerLifecycle(containerd, cpu, image, r, opts.cpuLifecycles, 500, idleRate),
  );
  const execs =
    opts.execLifecycles > 0
      ? await perRuntime('processes started (strace)', runtimes, (r) => countExecs(containerd, image, r, opts.execLifecycles, 1_500))
      : {};
  const memory = await perRuntime(`idle memory at ${opts.idle.join(', ')}`, runtimes, (r) =>
    measureIdleMemory(containerd, image, r, opts.idle, opts.settleMs),
  );
  const burst = await perRuntime(`${opts.burst} at once`, runtimes, (r) => measureBurst(containerd, image, r, opts.burst, opts.settleMs));
  // Last: a shared daemon or spare this leaves behind would otherwise count in the memory figures.
  const shimStart = opts.shimStart
    ? ((await attempt('shim binaries alone', () =>
        measureShimStart(containerd, runtimes, opts.iterations, opts.warmup, (message) => {
          failures.push(message);
          progress(message.split('\n')[0] ?? message);
        }),
      )) ?? {})
    : {};
  return { latency, cpu: cpuSamples, execs, memory, burst, shimStart };
}

/** tsshim without spares beside the Go shim, in a containerd of its own: start/stop latencies and CPU. */
async function coldSections(bench: BenchContainerd, opts: BenchOptions): Promise<NonNullable<Sections['cold']>> {
  const { containerd, cpu } = bench;
  const runtimes = benchRuntimes(containerd, { shared: false, sea: false }, ['tsshim', 'go']).map((r) =>
    r.tag === 'tsshim' ? { ...r, tag: 'cold' as const } : r,
  );
  const image = await importImages(containerd, runtimes);
  const iterations = Math.max(2, Math.ceil(opts.iterations / 2));
  progress(`cold (TSSHIM_SPARES=0): ${iterations} iterations`);
  const latency =
    (await attempt('cold latencies', () =>
      measureLatencies(containerd, image, runtimes, { iterations, warmup: 1, startStopOnly: true }, progress),
    )) ?? {};
  const idleRate = await idleCpuRate(cpu, 1_000);
  const cpuSamples = await perRuntime('cold CPU per lifecycle', runtimes, (r) =>
    measureCpuPerLifecycle(containerd, cpu, image, r, Math.max(2, Math.ceil(opts.cpuLifecycles / 2)), 500, idleRate),
  );
  return { latency, cpu: cpuSamples };
}

async function withContainerd<T>(
  version: ContainerdVersion,
  env: Record<string, string>,
  body: (b: BenchContainerd) => Promise<T>,
): Promise<T> {
  const bench = await startBenchContainerd(version, 'bench', env);
  let stopping: Promise<string[]> | undefined;
  const onSignal = (): void => {
    progress('interrupted: cleaning up');
    stopping ??= bench.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(bench);
  } finally {
    const problems = await (stopping ?? bench.stop());
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (problems.length > 0) failures.push(`cleanup of containerd ${version}:\n${problems.join('\n')}`);
  }
}

async function benchVersion(version: ContainerdVersion, opts: BenchOptions, tags: readonly TsshimTag[]): Promise<VersionResult> {
  const loadAtStart = describeLoad();
  progress(`containerd ${version}`);
  let versions: string[] = [];
  let fullVersion: string = version;
  const warm = await withContainerd(version, {}, async (b) => {
    fullVersion = b.containerd.fullVersion;
    versions = await describeVersions(b.containerd);
    return warmSections(b, opts);
  });
  const cold = opts.cold ? await withContainerd(version, { TSSHIM_SPARES: '0' }, (b) => coldSections(b, opts)) : undefined;
  const kept = opts.iterations - opts.warmup;
  const columnTags: RuntimeTag[] = [...tags.filter((t) => t !== 'cold'), 'go'];
  return {
    containerd: version,
    fullVersion,
    rows: buildRows({ ...warm, cold }, columnTags, opts),
    notes: [
      `latencies: ${kept} samples per runtime (${opts.iterations} iterations, ${opts.warmup} warm-up discarded), runtimes in rotating order` +
        (opts.cold ? '; cold: tsshim with TSSHIM_SPARES=0 and its own Go figures, in a second containerd' : ''),
      `CPU: the containerd's cgroup (containerd, shims, spares, runc; not ctr, not the container) over ${opts.cpuLifecycles} \`ctr run --rm\` ` +
        'lifecycles, each with 0.5 s after it, minus the idle rate',
      opts.execLifecycles > 0
        ? `processes started: successful execve under containerd and its shims (strace -f) over ${opts.execLifecycles} lifecycles`
        : '',
      `memory: Pss/Private_* (smaps_rollup) summed over every resident shim process of the family serving the containerd ` +
        '(daemons, shared daemons and spares), divided by the containers',
      ...versions,
      `host: ${loadAtStart} at start; ${describeLoad()} at end`,
    ].filter((n) => n !== ''),
  };
}

function writeResults(report: BenchReport, opts: BenchOptions): void {
  const dir = opts.outDir ?? join(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), toJson(report));
  const svg = join(dir, 'latest.svg');
  writeFileSync(svg, renderRatioSvg(report));
  const section = renderReadmeSection(report, relative(repoRoot, svg));
  writeFileSync(join(dir, 'latest.md'), `${section}\n`);
  progress(`wrote ${join(dir, 'latest.json')}, latest.svg, latest.md`);
  if (opts.updateReadme) {
    const readme = join(repoRoot, 'README.md');
    writeFileSync(readme, replaceReadmeSection(readFileSync(readme, 'utf8'), section));
    progress('updated README.md');
  }
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message ? `bench: ${e.message}\n` : ''}${usage}\n`);
    return e.message ? 2 : 0;
  }
  for (const binary of [tsshimBinary, ...(opts.sea ? [seaBinary] : [])]) {
    if (!existsSync(binary)) {
      process.stderr.write(`bench: ${binary} is missing: run npm run build\n`);
      return 1;
    }
  }
  loadFixtures();
  const tags: TsshimTag[] = [
    'tsshim',
    ...(opts.shared ? ['shared' as const] : []),
    ...(opts.cold ? ['cold' as const] : []),
    ...(opts.sea ? ['sea' as const] : []),
  ];
  const report: BenchReport = {
    date: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    quick: opts.quick,
    runtimes: tags,
    versions: [],
    notes: [],
  };
  const t0 = Date.now();
  for (const version of opts.containerd) {
    try {
      report.versions.push(await benchVersion(version, opts, tags));
    } catch (e) {
      failures.push(`containerd ${version}: ${e instanceof Error ? e.message : String(e)}`);
      progress(`containerd ${version} failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  for (const v of report.versions)
    process.stdout.write(`\ncontainerd ${v.fullVersion}\n${renderVersionTable(report, v)}\n${v.notes.map((n) => `  ${n}`).join('\n')}\n`);
  if (report.versions.length > 0) {
    process.stdout.write(`\n${renderRatioTable(report)}\n`);
    writeResults(report, opts);
  }
  progress(`done in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  if (failures.length > 0) {
    process.stderr.write(`bench: ${failures.length} step(s) failed:\n${failures.join('\n\n')}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
