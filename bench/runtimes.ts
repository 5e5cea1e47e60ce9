// The runtimes compared, and a timed ctr call that fails loudly.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Containerd, CtrOptions } from '../test/e2e/harness/containerd.js';
import type { CommandResult } from '../test/e2e/harness/exec.js';
import { formatCommand } from '../test/e2e/harness/exec.js';
import { runtimes, tsshimBinary } from '../test/e2e/harness/paths.js';
import type { RuntimeTag } from './report.js';
import { goShimBinary, seaBinary } from './versions.js';

export interface Runtime {
  tag: RuntimeTag;
  /** containerd runtime name passed to `ctr run --runtime`. */
  name: string;
  /** The containerd namespace its containers live in (shared mode has one of its own: one daemon per namespace). */
  namespace: string;
  /** `ctr run` flags selecting it: --runtime, and for shared mode --runtime-config-path. */
  runFlags: readonly string[];
  /** Which shim processes serve it: tsshim (node, the launcher, the SEA) or the Go shim. */
  family: 'tsshim' | 'go';
  /** The shim binary, for the section that runs it alone. */
  binary: string;
  /** Environment added when running the binary alone (containerd's environment selects shared mode there). */
  binaryEnv: Readonly<Record<string, string>>;
}

/**
 * The runtime options file that selects shared mode: ctr passes `--runtime-config-path` to a runtime other
 * than runc as runtimeoptions.v1.Options{ConfigPath}, which containerd hands to the shim.
 */
const sharedModeToml = 'ShimSharing = "namespace"\n';

export interface RuntimeSelection {
  shared: boolean;
  sea: boolean;
}

/**
 * The runtimes of one containerd, in column order. tsshim's per-container mode and the Go shim share the
 * containerd's default namespace; shared mode gets `<namespace>-shared`, so its daemon serves only its own
 * containers and never a per-container one.
 */
export function benchRuntimes(containerd: Containerd, select: RuntimeSelection, tags?: readonly RuntimeTag[]): Runtime[] {
  const base = { namespace: containerd.namespace, binaryEnv: {} };
  const all: Runtime[] = [
    { ...base, tag: 'tsshim', name: runtimes.tsshim, runFlags: ['--runtime', runtimes.tsshim], family: 'tsshim', binary: tsshimBinary },
  ];
  if (select.shared) {
    const configPath = join(containerd.tempDir, 'tsshim-shared.toml');
    writeFileSync(configPath, sharedModeToml);
    all.push({
      tag: 'shared',
      name: runtimes.tsshim,
      namespace: `${containerd.namespace}-shared`,
      family: 'tsshim',
      binary: tsshimBinary,
      runFlags: ['--runtime', runtimes.tsshim, '--runtime-config-path', configPath],
      binaryEnv: { TSSHIM_SHIM_SHARING: 'namespace' },
    });
  }
  if (select.sea) {
    // bench/containerd.ts puts a containerd-shim-tsshimsea-v2 symlink to the single executable on containerd's PATH.
    all.push({ ...base, tag: 'sea', name: seaRuntimeName, runFlags: ['--runtime', seaRuntimeName], family: 'tsshim', binary: seaBinary });
  }
  all.push({
    ...base,
    tag: 'go',
    name: runtimes.runc,
    runFlags: ['--runtime', runtimes.runc],
    family: 'go',
    binary: goShimBinary(containerd),
  });
  return tags === undefined ? all : all.filter((r) => tags.includes(r.tag));
}

export const seaRuntimeName = 'io.containerd.tsshimsea.v2';

/** Iteration i starts the rotation at runtime i mod n, so none always goes first. */
export function runtimeOrder<T>(list: readonly T[], iteration: number): T[] {
  const k = iteration % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

export class BenchStepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchStepError';
  }
}

export interface TimedResult {
  ms: number;
  result: CommandResult;
}

/** Runs ctr and returns its wall time, whatever its exit status. */
export async function timedCtr(containerd: Containerd, args: readonly string[], opts: CtrOptions = {}): Promise<TimedResult> {
  const t0 = performance.now();
  const result = await containerd.ctr(args, opts);
  return { ms: performance.now() - t0, result };
}

export function describeFailure(args: readonly string[], r: CommandResult, containerd: Containerd): string {
  return (
    `${formatCommand('ctr', args)} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`})` +
    `\n--- stderr ---\n${r.stderr.trim()}\n--- containerd log (tail) ---\n${containerd.logsTail(30)}`
  );
}

/** Like timedCtr but throws BenchStepError unless ctr exits 0. */
export async function timedCtrOk(containerd: Containerd, args: readonly string[], opts: CtrOptions = {}): Promise<number> {
  const { ms, result } = await timedCtr(containerd, args, opts);
  if (result.code !== 0) throw new BenchStepError(describeFailure(args, result, containerd));
  return ms;
}

/** ctr in the runtime's namespace. */
export function ctrIn(runtime: Runtime, opts: CtrOptions = {}): CtrOptions {
  return { namespace: runtime.namespace, ...opts };
}

/** `ctr run <flags> <runtime flags> image id cmd...` */
export function runArgs(runtime: Runtime, flags: readonly string[], image: string, id: string, cmd: readonly string[]): string[] {
  return ['run', ...flags, ...runtime.runFlags, image, id, ...cmd];
}

/** Removes containers (task delete --force, container delete), `parallel` at a time; failures other than "not found" go to problems. */
export async function removeContainers(
  containerd: Containerd,
  runtime: Runtime,
  ids: readonly string[],
  problems: string[],
  parallel = 4,
): Promise<void> {
  const queue = [...ids];
  const worker = async (): Promise<void> => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      for (const args of [
        ['task', 'delete', '--force', id],
        ['container', 'delete', id],
      ]) {
        const { result } = await timedCtr(containerd, args, ctrIn(runtime, { timeoutMs: 30_000 }));
        if (result.code !== 0 && !/not found/i.test(result.stderr)) problems.push(describeFailure(args, result, containerd));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, parallel) }, worker));
}
