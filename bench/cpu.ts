// CPU time per container lifecycle. containerd runs in a cgroup of its own (the wrapper in
// bench/containerd.ts moves itself there before exec'ing containerd), so everything it starts and that
// stays in its cgroup is counted: containerd, every shim process (start, daemon, spare, delete) and runc.
// The containers themselves go to cgroups of their own (/<namespace>/<id>) and are not counted; ctr is the
// bench's child and is not counted either. The kernel's accounting includes processes that have exited.
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { ctrIn, runArgs, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export class CpuAccount {
  private constructor(
    readonly dir: string,
    /** Write a pid here to move it in. */
    readonly procsFile: string,
    private readonly unified: boolean,
  ) {}

  /** A fresh cgroup: cpuacct on cgroup v1 (this host), the unified hierarchy's cpu.stat on v2. */
  static create(name: string): CpuAccount {
    const unified = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const dir = unified ? join('/sys/fs/cgroup', name) : join('/sys/fs/cgroup/cpuacct', name);
    mkdirSync(dir);
    return new CpuAccount(dir, join(dir, 'cgroup.procs'), unified);
  }

  /** CPU time (user + system) of everything that ran in the cgroup so far, in ms. */
  usageMs(): number {
    if (this.unified) {
      const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(this.dir, 'cpu.stat'), 'utf8'));
      return Number(m?.[1] ?? NaN) / 1_000;
    }
    return Number(readFileSync(join(this.dir, 'cpuacct.usage'), 'utf8').trim()) / 1e6;
  }

  /** Removes the cgroup once empty (after containerd and its leftovers are gone); returns a problem or undefined. */
  remove(): string | undefined {
    try {
      rmdirSync(this.dir);
      return undefined;
    } catch (e) {
      return `rmdir ${this.dir}: ${(e as Error).message}`;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** CPU ms per wall ms while nothing is asked of containerd (its own timers, idle daemons and spares). */
export async function idleCpuRate(account: CpuAccount, windowMs: number): Promise<number> {
  const c0 = account.usageMs();
  const t0 = performance.now();
  await sleep(windowMs);
  return (account.usageMs() - c0) / (performance.now() - t0);
}

/**
 * `count` lifecycles of one container (`ctr run --rm ... true`: shim start, daemon, create, start, exit,
 * delete, shim delete), each followed by `settleMs` for the work a shim does after answering (a spare
 * replaced, a daemon exiting); per lifecycle, the cgroup's CPU time minus the idle rate over its window.
 */
export async function measureCpuPerLifecycle(
  containerd: Containerd,
  account: CpuAccount,
  image: string,
  runtime: Runtime,
  count: number,
  settleMs: number,
  idleRate: number,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const c0 = account.usageMs();
    const t0 = performance.now();
    await timedCtrOk(containerd, runArgs(runtime, ['--rm'], image, `bench-${runtime.tag}-cpu-${i}`, ['true']), ctrIn(runtime));
    await sleep(settleMs);
    samples.push(Math.max(0, account.usageMs() - c0 - idleRate * (performance.now() - t0)));
  }
  return samples;
}
