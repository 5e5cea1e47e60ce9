// Real cgroup v1 groups (root): metrics of a process moved into them, checked against the
// files; an OOM kill under a 16 MiB limit seen by the eventfd watcher. Also the watcher's
// eventfd plumbing against a fake cgroup directory, where the test plays the kernel.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { unpackAny } from '../../src/api/any.js';
import { CgroupsV1MetricsType } from '../../src/api/metrics.js';
import { CgroupV1, OomWatchError, cgroupOfPid, isUnifiedHost, watchOOM, type OomWatcher } from '../../src/cgroups/index.js';
import { removeCgroupDir } from '../e2e/harness/cleanup.js';
import { isInNanosleep } from '../e2e/harness/procs.js';
import { afterNextIoPoll, until } from '../e2e/harness/wait.js';

const logger = pino({ level: 'silent' });
const ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;

const num = (path: string): number => Number(readFileSync(path, 'utf8').trim());
const keyed = (path: string): Record<string, number> =>
  Object.fromEntries(
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k!, Number(v)]),
  );

/** cgroups this file created, removed at the end (after their processes are gone). */
const created: string[] = [];
const children: ChildProcess[] = [];

function makeCgroup(name: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const c of CONTROLLERS) {
    const dir = join(ROOT, c, name);
    mkdirSync(dir);
    created.push(dir);
    paths.set(c, dir);
  }
  return paths;
}

/** Runs `script` with sh after moving that shell into every hierarchy of `paths`. */
function spawnIn(paths: Map<string, string>, script: string): ChildProcess {
  const join = [...paths.values()].map((d) => `echo $$ > ${d}/cgroup.procs`).join(' && ');
  const child = spawn('sh', ['-c', `${join} && exec ${script}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return child;
}

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(children.map(exited));
  for (const dir of created.reverse()) await removeCgroupDir(dir);
});

describe('cgroup v1 host', () => {
  const name = `tsshim-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  it('this machine is a v1 (hybrid) host', () => {
    expect(isUnifiedHost(ROOT)).toBe(false);
  });

  it('reads the metrics of a process moved into new cgroups', async () => {
    const paths = makeCgroup(`${name}-stats`);
    writeFileSync(join(paths.get('memory')!, 'memory.limit_in_bytes'), String(32 << 20));
    writeFileSync(join(paths.get('pids')!, 'pids.max'), '50');
    writeFileSync(join(paths.get('cpu')!, 'cpu.cfs_quota_us'), '20000');
    // Burn some CPU under a 20% quota (so it is throttled), touch 8 MiB, then sleep.
    const child = spawnIn(
      paths,
      `python3 -c '
import time
a = bytearray(8 << 20)
for i in range(0, len(a), 4096): a[i] = 1
t = time.time()
while time.time() - t < 0.5: pass
print("ready", flush=True)
time.sleep(60)'`,
    );
    const pid = child.pid!;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', () => reject(new Error('the test process exited early')));
    });
    await until(() => isInNanosleep(pid), 'the process to sleep'); // asleep now: the numbers hold still

    const cg = await cgroupOfPid(pid);
    expect(cg).toBeInstanceOf(CgroupV1);
    const v1 = cg as CgroupV1;
    for (const c of CONTROLLERS) expect(v1.paths.get(c)).toBe(paths.get(c));

    const m = unpackAny(CgroupsV1MetricsType, await cg.metrics());
    const mem = paths.get('memory')!;
    const stat = keyed(join(mem, 'memory.stat'));
    expect(m.memory?.usage?.limit).toBe(32 << 20);
    expect(m.memory?.usage?.usage).toBe(num(join(mem, 'memory.usage_in_bytes')));
    expect(m.memory?.usage?.max).toBe(num(join(mem, 'memory.max_usage_in_bytes')));
    expect(m.memory?.totalRss).toBe(stat.total_rss);
    expect(m.memory?.totalRss).toBeGreaterThanOrEqual(8 << 20);
    expect(m.memory?.totalInactiveFile).toBe(stat.total_inactive_file);
    expect(m.memory?.totalPgFault).toBe(stat.total_pgfault);
    expect(m.memory?.totalPgMajFault ?? 0).toBe(stat.total_pgmajfault);
    expect(m.memory?.hierarchicalMemoryLimit).toBe(32 << 20);
    expect(m.memoryOomControl?.oomKill ?? 0).toBe(0);

    const acct = paths.get('cpuacct')!;
    expect(m.cpu?.usage?.total).toBe(num(join(acct, 'cpuacct.usage')));
    expect(m.cpu?.usage?.total).toBeGreaterThan(0);
    const ticks = keyed(join(acct, 'cpuacct.stat'));
    expect(m.cpu?.usage?.user).toBe(ticks.user! * 10_000_000);
    const cpu = keyed(join(paths.get('cpu')!, 'cpu.stat'));
    expect(m.cpu?.throttling?.throttledPeriods).toBe(cpu.nr_throttled);
    expect(m.cpu?.throttling?.throttledTime).toBe(cpu.throttled_time);

    expect(m.pids).toEqual(expect.objectContaining({ current: 1, limit: 50 }));
    child.kill('SIGKILL');
    await exited(child);
  });

  it('reports an OOM kill under a 16 MiB limit, then ends when the cgroup is removed', async () => {
    const paths = makeCgroup(`${name}-oom`);
    const mem = paths.get('memory')!;
    writeFileSync(join(mem, 'memory.limit_in_bytes'), String(16 << 20));
    if (existsSync(join(mem, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(mem, 'memory.memsw.limit_in_bytes'), String(16 << 20));

    const cg = new CgroupV1(paths);
    let ooms = 0;
    const watcher = watchOOM(cg, () => ooms++, logger);
    try {
      const child = spawnIn(
        paths,
        `python3 -c 'a = []
while True: a.append(bytearray(1 << 20))'`,
      );
      const exit = await exited(child);
      expect(exit.signal).toBe('SIGKILL');
      await until(() => ooms > 0, 'the OOM notification');
      // One event per kill: the kernel's second notification for the same kill adds none.
      expect(ooms).toBe(keyed(join(mem, 'memory.oom_control')).oom_kill);
      const m = unpackAny(CgroupsV1MetricsType, await cg.metrics());
      expect(m.memoryOomControl?.oomKill).toBeGreaterThanOrEqual(1);
      expect(m.memory?.usage?.failcnt ?? 0).toBe(num(join(mem, 'memory.failcnt')));

      // Removing the cgroup wakes the eventfd once more: the watcher sees it gone and ends.
      const seen = ooms;
      for (const dir of paths.values()) await removeCgroupDir(dir);
      await until(() => watcher.closed, 'the watch to end after rmdir');
      expect(ooms).toBe(seen);
    } finally {
      watcher.close();
    }
  });

  it('refuses a cgroup without a memory hierarchy', () => {
    expect(() => watchOOM(new CgroupV1(new Map([['pids', '/sys/fs/cgroup/pids']])), () => {}, logger)).toThrow(OomWatchError);
  });
});

describe('v1 OOM watcher plumbing (fake cgroup dir; the test writes the eventfd like the kernel)', () => {
  let dir: string;
  let watcher: OomWatcher | undefined;
  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The eventfd the watcher registered, from what it wrote to cgroup.event_control. */
  const registeredEventfd = (): number => {
    const [efd, controlFd] = readFileSync(join(dir, 'cgroup.event_control'), 'utf8').split(' ').map(Number);
    expect(Number.isInteger(controlFd)).toBe(true);
    return efd!;
  };
  const signal = (efd: number): void => {
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    writeSync(efd, one);
  };
  const fdTarget = (fd: number): string | null => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return null;
    }
  };

  const oomControl = (kills: number | undefined): void =>
    writeFileSync(join(dir, 'memory.oom_control'), `oom_kill_disable 0\nunder_oom 0\n${kills === undefined ? '' : `oom_kill ${kills}\n`}`);

  it('reports one event per rise of oom_kill however many wake-ups told of it, re-arms, and closes its fd', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    oomControl(0);
    writeFileSync(join(dir, 'cgroup.event_control'), '');
    let ooms = 0;
    watcher = watchOOM(new CgroupV1(new Map([['memory', dir]])), () => ooms++, logger);
    const efd = registeredEventfd();
    expect(fdTarget(efd)).toBe('anon_inode:[eventfd]');

    // The kernel notifies before it counts the kill: the wake-up finds no rise and reads again.
    signal(efd);
    await afterNextIoPoll();
    expect(ooms).toBe(0);
    oomControl(1);
    await until(() => ooms === 1, 'the kill counted after its wake-up', 2_000);

    // A second notification for the same kill (the kernel sends one now and then) adds nothing;
    // the next kill is reported once more (the poll was re-armed).
    signal(efd);
    await afterNextIoPoll();
    oomControl(2);
    signal(efd);
    await until(() => ooms === 2, 'the second kill', 2_000);
    await afterNextIoPoll();
    expect(ooms).toBe(2);

    oomControl(3);
    signal(efd);
    watcher.check(); // the init's exit came first: report now, synchronously
    expect(ooms).toBe(3);
    await afterNextIoPoll(); // a wake-up still due for that signal has run by now
    expect(ooms).toBe(3);

    watcher.close();
    expect(fdTarget(efd)).not.toBe('anon_inode:[eventfd]');
  });

  it('without an oom_kill line (kernels before 4.13) reports one event per wake-up, as the Go shim', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    oomControl(undefined);
    writeFileSync(join(dir, 'cgroup.event_control'), '');
    let ooms = 0;
    watcher = watchOOM(new CgroupV1(new Map([['memory', dir]])), () => ooms++, logger);
    const efd = registeredEventfd();
    signal(efd);
    await until(() => ooms === 1, 'the first wake-up', 2_000);
    signal(efd);
    await until(() => ooms === 2, 'the second wake-up (re-armed)', 2_000);
    signal(efd);
    watcher.check();
    expect(ooms).toBe(3);
    await afterNextIoPoll();
    expect(ooms).toBe(3);
  });

  it('check() reports a rise of oom_kill since the watch began that no notification told of, once', () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    oomControl(2); // kills before the watch (an earlier container's) are not this one's
    writeFileSync(join(dir, 'cgroup.event_control'), '');
    let ooms = 0;
    watcher = watchOOM(new CgroupV1(new Map([['memory', dir]])), () => ooms++, logger);
    watcher.check();
    expect(ooms).toBe(0);
    oomControl(3); // a kill without a notification (it came before the eventfd could tell)
    watcher.check();
    expect(ooms).toBe(1);
    watcher.check();
    expect(ooms).toBe(1);
  });

  it('check() adds nothing when the notification already reported the kill', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    oomControl(0);
    writeFileSync(join(dir, 'cgroup.event_control'), '');
    let ooms = 0;
    watcher = watchOOM(new CgroupV1(new Map([['memory', dir]])), () => ooms++, logger);
    oomControl(1);
    signal(registeredEventfd());
    await until(() => ooms === 1, 'the wake-up', 2_000);
    watcher.check();
    expect(ooms).toBe(1);
  });

  it('ends without calling back when the cgroup is gone at wake-up', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    writeFileSync(join(dir, 'memory.oom_control'), '');
    writeFileSync(join(dir, 'cgroup.event_control'), '');
    let ooms = 0;
    watcher = watchOOM(new CgroupV1(new Map([['memory', dir]])), () => ooms++, logger);
    const efd = registeredEventfd();
    rmSync(dir, { recursive: true });
    signal(efd);
    await until(() => watcher!.closed, 'the watch to end', 2_000);
    expect(ooms).toBe(0);
    expect(fdTarget(efd)).not.toBe('anon_inode:[eventfd]');
  });

  it('closes the eventfd when registration fails', () => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg1-'));
    const eventfdsBefore = countEventfds();
    expect(() => watchOOM(new CgroupV1(new Map([['memory', dir]])), () => {}, logger)).toThrow(OomWatchError);
    expect(countEventfds()).toBe(eventfdsBefore);
  });
});

function countEventfds(): number {
  let n = 0;
  for (const fd of readdirFds()) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]') n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function readdirFds(): string[] {
  return readdirSync('/proc/self/fd');
}
