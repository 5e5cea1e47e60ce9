// Idle memory per container: N idle containers per runtime, then RSS/PSS of their shim processes.
import { readFileSync } from 'node:fs';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { isAlive, listProcesses, waitFor } from '../test/e2e/harness/procs.js';
import type { ProcessInfo } from '../test/e2e/harness/procs.js';
import { BenchStepError, describeFailure, timedCtr, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface ShimMemory {
  pid: number;
  rssKiB: number;
  pssKiB: number;
  /** Private_Clean + Private_Dirty: what the process alone holds, whatever else runs on the host. */
  ussKiB: number;
  threads: number;
}

export interface IdleMemory {
  containers: number;
  shims: ShimMemory[];
  /** Sums over the shims divided by the container count, in MiB. */
  rssPerContainerMiB: number;
  pssPerContainerMiB: number;
  ussPerContainerMiB: number;
  threadsPerShim: number;
}

export class ProcReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProcReadError';
  }
}

function kiBField(text: string, field: string, pid: number, file: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text);
  if (!m?.[1]) throw new ProcReadError(`no ${field} in /proc/${pid}/${file}`);
  return Number(m[1]);
}

export function readShimMemory(pid: number): ShimMemory {
  let rollup: string;
  let status: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (e) {
    throw new ProcReadError(`cannot read /proc/${pid}: ${(e as Error).message}`);
  }
  return {
    pid,
    rssKiB: kiBField(rollup, 'Rss', pid, 'smaps_rollup'),
    pssKiB: kiBField(rollup, 'Pss', pid, 'smaps_rollup'),
    ussKiB: kiBField(rollup, 'Private_Clean', pid, 'smaps_rollup') + kiBField(rollup, 'Private_Dirty', pid, 'smaps_rollup'),
    threads: kiBField(status, 'Threads', pid, 'status'),
  };
}

function argAfter(cmdline: readonly string[], flag: string): string | undefined {
  const i = cmdline.findIndex((a) => a === flag || a === `-${flag}`);
  return i >= 0 ? cmdline[i + 1] : undefined;
}

/**
 * Shim daemons serving `address` for any of `ids`. Matched by argv (-address, -id) rather than by
 * binary name: tsshim's daemon is node running dist/shim.mjs. A shim that serves a group is
 * started with the id of its first container, so it still matches.
 */
export function shimProcessesFor(address: string, ids: ReadonlySet<string>, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  return all.filter((p) => p.state !== 'Z' && argAfter(p.cmdline, '-address') === address &&
    ids.has(argAfter(p.cmdline, '-id') ?? '') && !p.cmdline.includes('start') && !p.cmdline.includes('delete'));
}

const MiB = 1024;

async function removeContainers(containerd: Containerd, ids: readonly string[], problems: string[]): Promise<void> {
  for (const id of ids) {
    for (const args of [['task', 'delete', '--force', id], ['container', 'delete', id]]) {
      const { result } = await timedCtr(containerd, args, { timeoutMs: 30_000 });
      if (result.code !== 0 && !/not found/i.test(result.stderr)) problems.push(describeFailure(args, result, containerd));
    }
  }
}

/** Starts `count` idle containers with `runtime`, measures their shims after `settleMs`, removes them. */
export async function measureIdleMemory(
  containerd: Containerd, image: string, runtime: Runtime, count: number, settleMs: number,
): Promise<IdleMemory> {
  const ids = Array.from({ length: count }, (_, k) => `bench-${runtime.tag}-idle-${k}`);
  const started: string[] = [];
  const problems: string[] = [];
  let measured: IdleMemory | undefined;
  try {
    for (const id of ids) {
      started.push(id);
      await timedCtrOk(containerd, ['run', '-d', '--runtime', runtime.name, image, id, 'sleep', '3600']);
    }
    await new Promise((r) => setTimeout(r, settleMs));
    const shims = shimProcessesFor(containerd.address, new Set(ids));
    if (shims.length === 0) throw new BenchStepError(`no ${runtime.tag} shim process found for ${count} running containers`);
    const memory = shims.map((s) => readShimMemory(s.pid));
    const sum = (f: (m: ShimMemory) => number): number => memory.reduce((a, m) => a + f(m), 0);
    measured = {
      containers: count,
      shims: memory,
      rssPerContainerMiB: sum((m) => m.rssKiB) / MiB / count,
      pssPerContainerMiB: sum((m) => m.pssKiB) / MiB / count,
      ussPerContainerMiB: sum((m) => m.ussKiB) / MiB / count,
      threadsPerShim: sum((m) => m.threads) / memory.length,
    };
  } finally {
    const shimPids = shimProcessesFor(containerd.address, new Set(ids)).map((p) => p.pid);
    await removeContainers(containerd, started, problems);
    // A shim exits once its last container is deleted; give the last ones a moment.
    if (!(await waitFor(() => shimPids.every((pid) => !isAlive(pid)), 10_000))) {
      problems.push(`${runtime.tag} shims still running after their containers were deleted: ${shimPids.filter(isAlive).join(', ')}`);
    }
  }
  if (problems.length > 0) throw new BenchStepError(`cleaning up the idle ${runtime.tag} containers:\n${problems.join('\n')}`);
  return measured;
}
