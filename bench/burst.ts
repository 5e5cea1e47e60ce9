// N containers started at once (N `ctr run -d` in parallel): the wall time until the last one returns,
// then the memory of every resident shim of the runtime's family serving the containerd.
import { performance } from 'node:perf_hooks';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { readFamilyMemory } from './memory.js';
import type { MemoryAt } from './memory.js';
import { BenchStepError, ctrIn, describeFailure, removeContainers, runArgs, timedCtr } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface Burst {
  containers: number;
  wallMs: number;
  memory: MemoryAt;
}

export async function measureBurst(
  containerd: Containerd,
  image: string,
  runtime: Runtime,
  count: number,
  settleMs: number,
): Promise<Burst> {
  const ids = Array.from({ length: count }, (_, k) => `bench-${runtime.tag}-burst-${k}`);
  const problems: string[] = [];
  try {
    const t0 = performance.now();
    const results = await Promise.all(
      ids.map((id) => {
        const args = runArgs(runtime, ['-d'], image, id, ['sleep', '3600']);
        return timedCtr(containerd, args, ctrIn(runtime, { timeoutMs: 180_000 })).then((r) => ({ args, ...r }));
      }),
    );
    const wallMs = performance.now() - t0;
    const failed = results.filter((r) => r.result.code !== 0);
    if (failed.length > 0) {
      throw new BenchStepError(
        `${failed.length} of ${count} concurrent ${runtime.tag} starts failed; first:\n` +
          describeFailure(failed[0]?.args ?? [], failed[0]!.result, containerd),
      );
    }
    await new Promise((r) => setTimeout(r, settleMs));
    return { containers: count, wallMs, memory: readFamilyMemory(containerd, runtime, count) };
  } finally {
    await removeContainers(containerd, runtime, ids, problems);
    if (problems.length > 0) process.stderr.write(`bench: cleaning up the ${runtime.tag} burst:\n${problems.join('\n')}\n`);
  }
}
