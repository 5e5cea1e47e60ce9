// npm run bench: tsshim against containerd-shim-runc-v2 in one private containerd (see scripts/bench.sh,
// which runs this in a private mount namespace). Prints medians and tsshim/Go ratios; never fails on a
// slow ratio, only when a step breaks.
import { existsSync } from 'node:fs';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { loadFixtures } from '../test/e2e/harness/fixtures.js';
import { tsshimBinary } from '../test/e2e/harness/paths.js';
import { startBenchContainerd } from './containerd.js';
import { measureLatencies } from './latency.js';
import type { LatencySamples } from './latency.js';
import { measureIdleMemory } from './memory.js';
import type { IdleMemory } from './memory.js';
import { parseOptions, usage, UsageError } from './options.js';
import type { BenchOptions } from './options.js';
import { goRuntime, tsshimRuntime } from './runtimes.js';
import { measureShimStart } from './shim-start.js';
import type { ShimStartSamples } from './shim-start.js';
import { renderTable } from './stats.js';
import type { Figure, Row } from './stats.js';
import { describeLoad, describeVersions, goShimBinary } from './versions.js';

const progress = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

function latencyRows(l: Record<'tsshim' | 'go', LatencySamples>): Row[] {
  const exec = (s: LatencySamples): Figure => (s.execUnavailable !== undefined ? { unavailable: s.execUnavailable } : { samples: s.exec });
  return [
    { metric: 'ctr run --rm true', unit: 'ms', tsshim: { samples: l.tsshim.runRm }, go: { samples: l.go.runRm } },
    { metric: 'ctr run -d', unit: 'ms', tsshim: { samples: l.tsshim.runDetached }, go: { samples: l.go.runDetached } },
    { metric: 'ctr task exec true', unit: 'ms', tsshim: exec(l.tsshim), go: exec(l.go) },
    { metric: 'SIGKILL -> /tasks/exit', unit: 'ms', tsshim: { samples: l.tsshim.exitEvent }, go: { samples: l.go.exitEvent } },
    { metric: 'ctr task delete', unit: 'ms', tsshim: { samples: l.tsshim.taskDelete }, go: { samples: l.go.taskDelete } },
  ];
}

function memoryRows(m: Record<'tsshim' | 'go', IdleMemory>): Row[] {
  const n = m.tsshim.containers;
  return [
    { metric: `idle RSS/container (${n})`, unit: 'MiB', tsshim: { value: m.tsshim.rssPerContainerMiB }, go: { value: m.go.rssPerContainerMiB } },
    { metric: `idle PSS/container (${n})`, unit: 'MiB', tsshim: { value: m.tsshim.pssPerContainerMiB }, go: { value: m.go.pssPerContainerMiB } },
    { metric: `idle USS/container (${n})`, unit: 'MiB', tsshim: { value: m.tsshim.ussPerContainerMiB }, go: { value: m.go.ussPerContainerMiB } },
    { metric: 'threads per idle shim', unit: 'threads', tsshim: { value: m.tsshim.threadsPerShim }, go: { value: m.go.threadsPerShim } },
  ];
}

function shimStartRows(s: Record<'tsshim' | 'go', ShimStartSamples>): Row[] {
  return [
    { metric: 'shim -v', unit: 'ms', tsshim: { samples: s.tsshim.version }, go: { samples: s.go.version } },
    { metric: 'shim start', unit: 'ms', tsshim: { samples: s.tsshim.start }, go: { samples: s.go.start } },
    { metric: 'shim start -> 1st ttrpc reply', unit: 'ms', tsshim: { samples: s.tsshim.startToFirstReply }, go: { samples: s.go.startToFirstReply } },
    { metric: 'shim delete (binary)', unit: 'ms', tsshim: { samples: s.tsshim.delete }, go: { samples: s.go.delete } },
  ];
}

async function runBench(opts: BenchOptions, containerd: Containerd): Promise<string> {
  const loadAtStart = describeLoad();
  const { image } = await containerd.importImage();
  const events = containerd.spawnCtr(['events']);
  // ctr events prints nothing until an event arrives; give it a moment to subscribe.
  await new Promise((r) => setTimeout(r, 500));
  const rows: Row[] = [];

  progress(`latencies: ${opts.iterations} iterations per runtime, first ${opts.warmup} discarded`);
  rows.push(...latencyRows(await measureLatencies(containerd, image, events, opts.iterations, opts.warmup, progress)));

  progress(`idle memory: ${opts.idle} containers per runtime`);
  const tsshimMemory = await measureIdleMemory(containerd, image, tsshimRuntime, opts.idle, opts.settleMs);
  const goMemory = await measureIdleMemory(containerd, image, goRuntime, opts.idle, opts.settleMs);
  rows.push(...memoryRows({ tsshim: tsshimMemory, go: goMemory }));

  if (opts.shimStart) {
    progress('shim binaries alone: -v, start, delete');
    rows.push(...shimStartRows(await measureShimStart(containerd, { tsshim: tsshimBinary, go: goShimBinary(containerd) },
      opts.iterations, opts.warmup)));
  }
  await events.stop(1_000);

  const versions = await describeVersions(containerd);
  const kept = opts.iterations - opts.warmup;
  return [
    renderTable(rows),
    '',
    `${kept} samples per latency (${opts.iterations} iterations, ${opts.warmup} warm-up discarded), runtimes alternating;`,
    `memory: Rss/Pss/Private_* of smaps_rollup summed over the shim processes of ${opts.idle} idle containers, / ${opts.idle}` +
      ` (${tsshimMemory.shims.length} tsshim, ${goMemory.shims.length} Go shim processes).`,
    ...versions,
    `host: ${loadAtStart} at start; ${describeLoad()} at end`,
  ].join('\n');
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
  if (!existsSync(tsshimBinary)) {
    process.stderr.write(`bench: ${tsshimBinary} is missing: run npm run build\n`);
    return 1;
  }
  loadFixtures();
  progress(`starting containerd ${opts.containerd}`);
  const containerd = await startBenchContainerd(opts.containerd, 'bench');
  let interrupted = false;
  const onSignal = (): void => {
    // Finish through the finally below: it stops every container, shim and containerd.
    interrupted = true;
    progress('interrupted: cleaning up');
    void containerd.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let status = 0;
  try {
    const table = await runBench(opts, containerd);
    process.stdout.write(`${table}\n`);
  } catch (e) {
    status = 1;
    const message = e instanceof Error ? e.message : String(e);
    // After an interrupt the failing step is only a consequence; its first line is enough.
    process.stderr.write(`bench: ${interrupted ? `interrupted during: ${message.split('\n')[0]}` : `failed: ${message}`}\n`);
  } finally {
    const report = await containerd.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (report.problems.length > 0) {
      status = 1;
      process.stderr.write(`bench: cleanup problems:\n${report.problems.join('\n')}\n`);
    }
    if (report.killed.length > 0) progress(`cleanup killed leftover processes: ${report.killed.join(', ')}`);
  }
  return interrupted ? 130 : status;
}

process.exitCode = await main();
