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
import { goRuntime, seaRuntime, tsshimRuntime } from './runtimes.js';
import type { Runtime } from './runtimes.js';
import { measureShimStart } from './shim-start.js';
import type { ShimStartSamples } from './shim-start.js';
import { renderTable } from './stats.js';
import type { Figure, Row } from './stats.js';
import { describeLoad, describeVersions, goShimBinary, seaBinary } from './versions.js';

type PerRuntime<T> = Record<Runtime['tag'], T>;

const progress = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

/** One table row from the same figure of every runtime. */
function row<T>(metric: string, unit: Row['unit'], per: PerRuntime<T>, figure: (x: T) => Figure): Row {
  return { metric, unit, tsshim: figure(per.tsshim), sea: figure(per.sea), go: figure(per.go) };
}

function latencyRows(l: PerRuntime<LatencySamples>): Row[] {
  const exec = (s: LatencySamples): Figure => (s.execUnavailable !== undefined ? { unavailable: s.execUnavailable } : { samples: s.exec });
  return [
    row('ctr run --rm true', 'ms', l, (s) => ({ samples: s.runRm })),
    row('ctr run -d', 'ms', l, (s) => ({ samples: s.runDetached })),
    row('ctr task exec true', 'ms', l, exec),
    row('SIGKILL -> /tasks/exit', 'ms', l, (s) => ({ samples: s.exitEvent })),
    row('ctr task delete', 'ms', l, (s) => ({ samples: s.taskDelete })),
  ];
}

function memoryRows(m: PerRuntime<IdleMemory>): Row[] {
  const n = m.tsshim.containers;
  return [
    row(`idle RSS/container (${n})`, 'MiB', m, (x) => ({ value: x.rssPerContainerMiB })),
    row(`idle PSS/container (${n})`, 'MiB', m, (x) => ({ value: x.pssPerContainerMiB })),
    row(`idle USS/container (${n})`, 'MiB', m, (x) => ({ value: x.ussPerContainerMiB })),
    row('threads per idle shim', 'threads', m, (x) => ({ value: x.threadsPerShim })),
  ];
}

function shimStartRows(s: PerRuntime<ShimStartSamples>): Row[] {
  return [
    row('shim -v', 'ms', s, (x) => ({ samples: x.version })),
    row('shim start', 'ms', s, (x) => ({ samples: x.start })),
    row('shim start -> 1st ttrpc reply', 'ms', s, (x) => ({ samples: x.startToFirstReply })),
    row('shim delete (binary)', 'ms', s, (x) => ({ samples: x.delete })),
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
  const seaMemory = await measureIdleMemory(containerd, image, seaRuntime, opts.idle, opts.settleMs);
  const goMemory = await measureIdleMemory(containerd, image, goRuntime, opts.idle, opts.settleMs);
  rows.push(...memoryRows({ tsshim: tsshimMemory, sea: seaMemory, go: goMemory }));

  if (opts.shimStart) {
    progress('shim binaries alone: -v, start, delete');
    rows.push(...shimStartRows(await measureShimStart(containerd, { tsshim: tsshimBinary, sea: seaBinary, go: goShimBinary(containerd) },
      opts.iterations, opts.warmup)));
  }
  await events.stop(1_000);

  const versions = await describeVersions(containerd);
  const kept = opts.iterations - opts.warmup;
  return [
    renderTable(rows),
    '',
    `${kept} samples per latency (${opts.iterations} iterations, ${opts.warmup} warm-up discarded), runtimes in rotating order;`,
    `memory: Rss/Pss/Private_* of smaps_rollup summed over the shim processes of ${opts.idle} idle containers, / ${opts.idle}` +
      ` (${tsshimMemory.shims.length} tsshim, ${seaMemory.shims.length} SEA, ${goMemory.shims.length} Go shim processes).`,
    'tsshim: the launcher (sh, then node on dist/current/shim.mjs); SEA: the single executable dist/sea/containerd-shim-tsshim-v2.',
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
  for (const binary of [tsshimBinary, seaBinary]) {
    if (!existsSync(binary)) {
      process.stderr.write(`bench: ${binary} is missing: run npm run build\n`);
      return 1;
    }
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
