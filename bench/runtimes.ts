// The two runtimes compared, and a timed ctr call that fails loudly.
import { performance } from 'node:perf_hooks';
import type { Containerd, CtrOptions } from '../test/e2e/harness/containerd.js';
import type { CommandResult } from '../test/e2e/harness/exec.js';
import { formatCommand } from '../test/e2e/harness/exec.js';
import { runtimes } from '../test/e2e/harness/paths.js';

export interface Runtime {
  /** Short tag used in container ids and in the table. */
  tag: 'tsshim' | 'sea' | 'go';
  /** containerd runtime name passed to `ctr run --runtime`. */
  name: string;
}

export const tsshimRuntime: Runtime = { tag: 'tsshim', name: runtimes.tsshim };
/**
 * The single executable under a runtime name of its own: bench/containerd.ts puts a
 * containerd-shim-tsshimsea-v2 symlink to dist/sea/containerd-shim-tsshim-v2 on containerd's PATH.
 */
export const seaRuntime: Runtime = { tag: 'sea', name: 'io.containerd.tsshimsea.v2' };
export const goRuntime: Runtime = { tag: 'go', name: runtimes.runc };
export const allRuntimes: readonly Runtime[] = [tsshimRuntime, seaRuntime, goRuntime];

/** Iteration i starts the rotation at runtime i mod 3, so none always goes first. */
export function runtimeOrder(iteration: number): Runtime[] {
  const k = iteration % allRuntimes.length;
  return [...allRuntimes.slice(k), ...allRuntimes.slice(0, k)];
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
  return `${formatCommand('ctr', args)} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`})` +
    `\n--- stderr ---\n${r.stderr.trim()}\n--- containerd log (tail) ---\n${containerd.logsTail(30)}`;
}

/** Like timedCtr but throws BenchStepError unless ctr exits 0. */
export async function timedCtrOk(containerd: Containerd, args: readonly string[], opts: CtrOptions = {}): Promise<number> {
  const { ms, result } = await timedCtr(containerd, args, opts);
  if (result.code !== 0) throw new BenchStepError(describeFailure(args, result, containerd));
  return ms;
}
