// Idle memory per container at 1, 10 and 50 containers: containers started one after another, and at each
// count every resident shim process of the runtime's family serving this containerd is read, spares and
// shared daemons included, so their cost is spread over the containers.
import { readFileSync } from 'node:fs';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { isAlive, waitFor } from '../test/e2e/harness/procs.js';
import { residentShims } from './processes.js';
import type { ShimRole } from './processes.js';
import { BenchStepError, ctrIn, removeContainers, runArgs, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface ShimMemory {
  pid: number;
  role: ShimRole;
  rssKiB: number;
  pssKiB: number;
  /** Private_Clean + Private_Dirty: what the process alone holds, whatever else runs on the host. */
  ussKiB: number;
  threads: number;
}

/** The resident shims of one runtime while `containers` of its containers sit idle. */
export interface MemoryAt {
  containers: number;
  shims: ShimMemory[];
  rssKiB: number;
  pssKiB: number;
  ussKiB: number;
}

class ProcReadError extends Error {
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

/** Memory of one process from smaps_rollup; undefined if it exited meanwhile. */
function readShimMemory(pid: number, role: ShimRole): ShimMemory | undefined {
  let rollup: string;
  let status: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  return {
    pid,
    role,
    rssKiB: kiBField(rollup, 'Rss', pid, 'smaps_rollup'),
    pssKiB: kiBField(rollup, 'Pss', pid, 'smaps_rollup'),
    ussKiB: kiBField(rollup, 'Private_Clean', pid, 'smaps_rollup') + kiBField(rollup, 'Private_Dirty', pid, 'smaps_rollup'),
    threads: kiBField(status, 'Threads', pid, 'status'),
  };
}

/** Every resident shim of the runtime's family serving this containerd, read now. */
export function readFamilyMemory(containerd: Containerd, runtime: Runtime, containers: number): MemoryAt {
  const shims = residentShims(containerd.address, runtime.family)
    .map((p) => readShimMemory(p.pid, p.role))
    .filter((m): m is ShimMemory => m !== undefined);
  const sum = (f: (m: ShimMemory) => number): number => shims.reduce((a, m) => a + f(m), 0);
  return { containers, shims, rssKiB: sum((m) => m.rssKiB), pssKiB: sum((m) => m.pssKiB), ussKiB: sum((m) => m.ussKiB) };
}

/**
 * Starts idle containers (`sleep`) one after another up to each count in `counts` (ascending), waits
 * `settleMs` there (a spare replaced, a daemon's start-up garbage collected), reads the shims, and removes
 * every container at the end.
 */
export async function measureIdleMemory(
  containerd: Containerd,
  image: string,
  runtime: Runtime,
  counts: readonly number[],
  settleMs: number,
): Promise<MemoryAt[]> {
  const started: string[] = [];
  const problems: string[] = [];
  const result: MemoryAt[] = [];
  try {
    for (const count of counts) {
      while (started.length < count) {
        const id = `bench-${runtime.tag}-idle-${started.length}`;
        started.push(id);
        await timedCtrOk(containerd, runArgs(runtime, ['-d'], image, id, ['sleep', '3600']), ctrIn(runtime));
      }
      await new Promise((r) => setTimeout(r, settleMs));
      const at = readFamilyMemory(containerd, runtime, count);
      if (at.shims.length === 0)
        throw new BenchStepError(`no ${runtime.family} shim process found for ${count} running ${runtime.tag} containers`);
      result.push(at);
    }
  } finally {
    await removeContainers(containerd, runtime, started, problems);
    // Per-container daemons exit once their container is deleted; give the last ones a moment.
    const daemons = residentShims(containerd.address, runtime.family)
      .filter((p) => p.role === 'daemon' && p.family === 'go')
      .map((p) => p.pid);
    if (!(await waitFor(() => daemons.every((pid) => !isAlive(pid)), 10_000))) {
      problems.push(`${runtime.tag} shims still running after their containers were deleted: ${daemons.filter(isAlive).join(', ')}`);
    }
  }
  if (problems.length > 0) throw new BenchStepError(`cleaning up the idle ${runtime.tag} containers:\n${problems.join('\n')}`);
  return result;
}
