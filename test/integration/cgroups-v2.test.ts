// A real cgroup v2 group in this hybrid host's unified hierarchy (root). The hierarchy has no
// memory, cpu or pids controller here (its cgroup.controllers lists only hugetlb, and enabling
// that would mean changing the root's subtree_control for everyone), so this checks what a
// controller-less v2 group offers: cpu.stat's usage, pressure files, empty pids/memory, no
// memory.events (so no OOM watch), and that the kernel's cgroup.events changes reach fs.watch,
// which the v2 OOM watcher relies on. Full v2 numbers are covered by the recorded fixtures.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, watch } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { unpackAny } from '../../src/api/any.js';
import { CgroupsV2MetricsType } from '../../src/api/metrics.js';
import { CgroupV2, OomWatchError, parseProcCgroup, watchOOM } from '../../src/cgroups/index.js';
import { removeCgroupDir } from '../e2e/harness/cleanup.js';
import { isInNanosleep } from '../e2e/harness/procs.js';
import { until } from '../e2e/harness/wait.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const dir = join(UNIFIED, `tsshim-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
let child: ChildProcess | undefined;

const keyed = (path: string): Record<string, number> =>
  Object.fromEntries(
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k!, Number(v)]),
  );

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  await removeCgroupDir(dir);
});

describe('cgroup v2 group in the unified hierarchy', () => {
  it('reads cpu usage and pressure, and no OOM watch without the memory controller', async () => {
    expect(existsSync(join(UNIFIED, 'cgroup.controllers'))).toBe(true);
    mkdirSync(dir);
    child = spawn(
      'sh',
      [
        '-c',
        `echo $$ > ${dir}/cgroup.procs && exec python3 -c '
import time
t = time.time()
while time.time() - t < 0.3: pass
print("ready", flush=True)
time.sleep(60)'`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      child!.stdout!.once('data', () => resolve());
      child!.once('exit', () => reject(new Error('the test process exited early')));
    });
    await until(() => isInNanosleep(child!.pid!), 'the process to sleep'); // asleep now: the numbers hold still

    const proc = parseProcCgroup(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8'));
    expect(join(UNIFIED, proc.unified!)).toBe(dir);

    const cg = new CgroupV2(dir);
    const any = await cg.metrics();
    expect(any.type_url).toBe('io.containerd.cgroups.v2.Metrics');
    const m = unpackAny(CgroupsV2MetricsType, any);
    const cpu = keyed(join(dir, 'cpu.stat'));
    expect(m.cpu?.usageUsec).toBe(cpu.usage_usec);
    expect(m.cpu?.userUsec).toBe(cpu.user_usec);
    expect(m.cpu?.systemUsec).toBe(cpu.system_usec);
    expect(m.cpu?.usageUsec).toBeGreaterThan(0);
    expect(m.cpu?.psi?.some).not.toBeNull(); // cpu.pressure exists in every group
    expect(m.pids?.current ?? 0).toBe(0); // no pids controller here: Go reads 0 as well
    expect(m.memory?.usage ?? 0).toBe(0);
    expect(m.memoryEvents).toBeNull();

    expect(() => watchOOM(cg, () => {}, pino({ level: 'silent' }))).toThrow(OomWatchError);
  });

  it("delivers the kernel's cgroup.events change to fs.watch when the group empties", async () => {
    expect(keyed(join(dir, 'cgroup.events')).populated).toBe(1);
    const changed = new Promise<void>((resolve) => {
      const w = watch(join(dir, 'cgroup.events'), () => {
        w.close();
        resolve();
      });
    });
    child!.kill('SIGKILL');
    await changed;
    expect(keyed(join(dir, 'cgroup.events')).populated).toBe(0);
  });
});
