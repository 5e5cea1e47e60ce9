// Proves the e2e harness itself, with containerd's Go shim by default (TSSHIM_E2E_RUNTIME picks another
// runtime, e.g. io.containerd.tsshim.v2 once it works): image import, ctr run from the image and from a
// rootfs dir, events, shim discovery, and a stop() that leaves no process, mount or directory behind, and
// touches nothing of another containerd's containers in a namespace both use.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MissingContainerdError,
  copyRootfs,
  distDir,
  describeEachContainerd,
  descendantsOf,
  findShimProcesses,
  isAlive,
  listProcesses,
  mountsUnder,
  runtimes,
  selectedContainerdVersions,
  shimBinaryName,
  shimIdentity,
  waitFor,
} from './harness/index.js';
import { removeCgroupDir } from './harness/cleanup.js';

const runtime = process.env.TSSHIM_E2E_RUNTIME ?? runtimes.runc;
const shimBinary = shimBinaryName(runtime);

describe('harness configuration', () => {
  it('selects versions from TSSHIM_CONTAINERD', () => {
    expect(selectedContainerdVersions('all')).toEqual(['1.6', '1.7', '2.1']);
    expect(selectedContainerdVersions('2.1,1.6')).toEqual(['2.1', '1.6']);
    expect(() => selectedContainerdVersions('1.5')).toThrow(/unknown version 1\.5/);
  });

  it('tells how to get a missing containerd', () => {
    expect(new MissingContainerdError('1.7', ['/x']).message).toMatch(/scripts\/ensure-deps\.sh/);
  });
});

describeEachContainerd('harness', (suite) => {
  it('runs the containerd version it was asked for, with dist/ and its own shim dir on PATH', async () => {
    const out = await suite.containerd.ctrOk(['version']);
    expect(out).toMatch(new RegExp(`Server:[\\s\\S]*Version:\\s+v?${suite.containerd.fullVersion.replace(/\./g, '\\.')}`));
    expect(suite.containerd.path.split(':').slice(0, 2)).toEqual([distDir, suite.containerd.binaries.binDir]);
    const plugins = await suite.containerd.ctrOk(['plugins', 'ls']);
    expect(plugins).toMatch(/io\.containerd\.runtime\.v2\s+task\s+linux\/\w+\s+ok/);
    expect(plugins).not.toMatch(/\bcri\b.*\sok\s*$/m);
  });

  it('runs a container from the imported image', async () => {
    const { image } = suite.fixtures;
    const out = await suite.containerd.ctrOk(['run', '--rm', '--runtime', runtime, image, 't1', 'echo', 'hello']);
    expect(out).toBe('hello\n');
  });

  it('runs a container from a rootfs directory', async () => {
    const rootfs = await copyRootfs(join(suite.containerd.tempDir, 'rootfs-t2'));
    // Without an image config the spec has no PATH: name the binary absolutely.
    const out = await suite.containerd.ctrOk(['run', '--rm', '--runtime', runtime, '--rootfs', rootfs, 't2', '/bin/cat', '/etc/passwd']);
    expect(out).toMatch(/^user:x:1000:1000:/m);
  });

  it('sees the events and the shim of a running container', async () => {
    const { containerd } = suite;
    const events = await containerd.subscribeEvents();
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 't3', 'sleep', '600']);
    await events.waitForOutput(/\/tasks\/start .*t3/);

    const shims = containerd.shims(shimBinary);
    expect(shims).toHaveLength(1);
    const shim = shims[0]!;
    expect(shimIdentity(shim)).toEqual({ namespace: containerd.namespace, id: 't3' });
    if (runtime === runtimes.runc) {
      // containerd found the Go shim of its own version through PATH.
      expect(readlinkSync(`/proc/${shim.pid}/exe`)).toBe(join(containerd.binaries.binDir, shimBinary));
    }
    // The start event can come before `runc init` has exec'd the command.
    const workloadOf = (pid: number): string[] => descendantsOf([pid]).map((p) => p.cmdline.join(' '));
    await waitFor(() => workloadOf(shim.pid).includes('sleep 600'), 5_000);
    expect(workloadOf(shim.pid)).toContain('sleep 600');

    await containerd.ctrOk(['tasks', 'kill', '-s', 'SIGKILL', 't3']);
    await events.waitForOutput(/\/tasks\/exit .*t3/);
    await containerd.ctrOk(['tasks', 'delete', 't3']);
    await containerd.ctrOk(['containers', 'delete', 't3']);
    await events.stop();
  });

  it('stop() removes containers, containerd, shims, mounts and the temp dir even with a container running', async () => {
    const { containerd } = suite;
    // Left running on purpose, as a failed test would.
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'left-behind', 'sleep', '600']);
    const containerdPid = containerd.pid;
    const shimPids = containerd.shims().map((s) => s.pid);
    const workload = descendantsOf(shimPids).map((p) => p.pid);
    expect(shimPids.length).toBeGreaterThan(0);
    expect(workload.length).toBeGreaterThan(0);
    expect(mountsUnder(containerd.tempDir).length).toBeGreaterThan(0); // the container's rootfs

    const report = await containerd.stop();
    expect(report.problems).toEqual([]);
    expect(isAlive(containerdPid)).toBe(false);
    for (const pid of [...shimPids, ...workload]) expect(isAlive(pid)).toBe(false);
    expect(findShimProcesses(containerd.address, undefined, listProcesses())).toEqual([]);
    expect(mountsUnder(containerd.tempDir)).toEqual([]);
    expect(existsSync(containerd.tempDir)).toBe(false);
    // A second stop() (afterAll's) is harmless.
    expect(await containerd.stop()).toBe(report);
  });
});

describeEachContainerd(
  'harness with CRI',
  (suite) => {
    it('loads the CRI plugin with the fixture pause image as sandbox image', async () => {
      const plugins = await suite.containerd.ctrOk(['plugins', 'ls']);
      expect(plugins).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/);
      const report = await suite.containerd.stop();
      expect(report.problems).toEqual([]);
    });
  },
  { criEnabled: true, importImage: false },
);

/** One cgroup hierarchy to put a process in: the v2 tree, or v1's pids controller. */
function someCgroupHierarchy(): string {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
}

describeEachContainerd('harness stop() in a namespace another containerd uses too', (suite) => {
  // runc puts a container of namespace ns in the host's /<ns>/<id> cgroups, whichever containerd runs it:
  // a CRI conformance run beside the e2e tests has its pods in /k8s.io/<id> as the CRI suites here do.
  it('kills and removes its own orphaned container there, and leaves a process in another container cgroup of it alone', async () => {
    const { containerd } = suite;
    const shared = `tsshim-e2e-shared-${randomBytes(3).toString('hex')}`;
    const foreignCgroup = join(someCgroupHierarchy(), shared, 'another-containerds-container');
    mkdirSync(foreignCgroup, { recursive: true });
    const foreign = spawn('sleep', ['600'], { stdio: 'ignore' });
    const foreignExited = new Promise((resolve) => foreign.once('exit', resolve));
    try {
      writeFileSync(join(foreignCgroup, 'cgroup.procs'), String(foreign.pid));
      await containerd.importImage(shared);
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'own', 'sleep', '600'], { namespace: shared });
      const [shim] = containerd.shims();
      expect(shim).toBeDefined();
      await waitFor(() => descendantsOf([shim!.pid]).some((p) => p.cmdline.join(' ') === 'sleep 600'), 5_000);
      const own = descendantsOf([shim!.pid])
        .filter((p) => p.cmdline.join(' ') === 'sleep 600')
        .map((p) => p.pid);
      expect(own).toHaveLength(1);
      // Orphaned as after a crash: containerd gone first (it would clean up after a dead shim), then the
      // shim; only the container's cgroup still ties the process to this containerd.
      process.kill(containerd.pid, 'SIGKILL');
      await waitFor(() => !containerd.isRunning(), 5_000);
      process.kill(shim!.pid, 'SIGKILL');
      await waitFor(() => !isAlive(shim!.pid), 5_000);
      expect(isAlive(own[0]!)).toBe(true);

      const report = await containerd.stop();
      expect(report.problems).toEqual([]);
      expect(report.killed).toContain(own[0]);
      expect(isAlive(own[0]!)).toBe(false);
      expect(report.killed).not.toContain(foreign.pid);
      expect(isAlive(foreign.pid!)).toBe(true);
      expect(existsSync(foreignCgroup)).toBe(true);
    } finally {
      foreign.kill('SIGKILL');
      await foreignExited;
      await removeCgroupDir(foreignCgroup);
      try {
        rmdirSync(join(foreignCgroup, '..'));
      } catch {
        /* the harness removed it already */
      }
    }
  });
});
