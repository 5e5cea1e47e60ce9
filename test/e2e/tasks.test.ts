// Issue #2: containerd runs real containers through containerd-shim-tsshim-v2 (init process only).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  copyRootfs, descendantsOf, describeEachContainerd, eventually, findZombies, isAlive, parseTaskList, readProcessStat, runtimes, shimBinaryName, shimIdentity, waitFor,
} from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);
const shimSocketDir = '/run/containerd/s';

/** `ctr task ls` rows as {id, pid, status}. */

describeEachContainerd('tasks through tsshim', (suite) => {
  const run = (args: string[]) => suite.containerd.ctr(['run', '--runtime', runtime, ...args]);

  it('ctr run --rm prints the container stdout and stderr and returns its exit code', async () => {
    const r = await run(['--rm', suite.fixtures.image, 'out1', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 7']);
    expect(r.stdout).toBe('to-stdout\n');
    expect(r.stderr).toContain('to-stderr\n');
    expect(r.code).toBe(7);
  });

  it('runs a container from a rootfs directory (ctr run --rootfs)', async () => {
    const rootfs = await copyRootfs(join(suite.containerd.tempDir, 'rootfs-r1'));
    const r = await run(['--rm', '--rootfs', rootfs, 'rootfs1', '/bin/echo', 'from a rootfs dir']);
    expect(r.stdout).toBe('from a rootfs dir\n');
    expect(r.code).toBe(0);
  });

  it('run -d, task ls, ps, kill, delete; events in order; the shim is not a child of containerd and goes away', async () => {
    const { containerd } = suite;
    const events = containerd.spawnCtr(['events']);
    const socketsBefore = socketsNow();
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'life1', 'sleep', '600']);
    expect(socketsNow().length).toBe(socketsBefore.length + 1);

    // What `start` printed: the plain address for 1.x, bootstrap version 3 for 2.x (docs/protocol.md §1).
    const bundle = join(containerd.state, 'io.containerd.runtime.v2.task', containerd.namespace, 'life1');
    const address = readFileSync(join(bundle, 'address'), 'utf8');
    expect(address).toMatch(/^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/);
    if (suite.version === '2.1') {
      expect(JSON.parse(readFileSync(join(bundle, 'bootstrap.json'), 'utf8'))).toEqual({ version: 3, address, protocol: 'ttrpc' });
    } else {
      expect(existsSync(join(bundle, 'bootstrap.json'))).toBe(false);
    }

    const tasks = parseTaskList(await containerd.ctrOk(['task', 'ls']));
    const task = tasks.find((t) => t.id === 'life1');
    expect(task?.status).toBe('RUNNING');
    const shims = containerd.shims(shimName).filter((s) => shimIdentity(s).id === 'life1');
    expect(shims).toHaveLength(1);
    const shim = shims[0]!;
    // Daemonized: reparented away from containerd, which may restart without killing it.
    expect(readProcessStat(shim.pid)?.ppid).not.toBe(containerd.pid);
    // The task pid is the container's init, a child of the shim (the subreaper).
    expect(readProcessStat(task!.pid)?.ppid).toBe(shim.pid);
    await waitFor(() => descendantsOf([shim.pid]).some((p) => p.cmdline.join(' ') === 'sleep 600'), 5000);

    const ps = await containerd.ctrOk(['task', 'ps', 'life1']);
    expect(ps).toMatch(new RegExp(`^${task!.pid}\\b`, 'm'));

    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'life1']);
    await waitFor(() => !isAlive(task!.pid), 10_000);
    await events.waitForOutput(/\/tasks\/exit .*life1/);
    const stopped = parseTaskList(await containerd.ctrOk(['task', 'ls'])).find((t) => t.id === 'life1');
    expect(stopped?.status).toBe('STOPPED');
    // A second kill of the dead process is NotFound, which ctr reports as an error.
    const again = await containerd.ctr(['task', 'kill', '-s', 'SIGKILL', 'life1']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/not found/);

    await containerd.ctrOk(['task', 'delete', 'life1']);
    await events.waitForOutput(/\/tasks\/delete .*life1/);
    expect(await waitFor(() => !isAlive(shim.pid), 10_000)).toBe(true);
    expect(socketsNow()).toEqual(socketsBefore);
    await containerd.ctrOk(['containers', 'delete', 'life1']);
    await events.stop();

    const topics = events.stdout().split('\n')
      .filter((l) => /\/tasks\//.test(l) && /"?life1"?/.test(l))
      .map((l) => /\/tasks\/[a-z-]+/.exec(l)![0]);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exitLine = events.stdout().split('\n').find((l) => l.includes('/tasks/exit') && l.includes('life1'))!;
    // Killed by SIGKILL: 128 + 9.
    expect(exitLine).toMatch(/"exit_status":137/);
  });

  it('leaves no socket behind when the shim exits', async () => {
    const before = socketsNow();
    const r = await run(['--rm', suite.fixtures.image, 'sock1', 'true']);
    expect(r.code).toBe(0);
    await waitFor(() => socketsNow().length <= before.length, 5000);
    expect(socketsNow()).toEqual(before);
  });

  it('reaps orphans: no zombie is left after processes that lose their parent', async () => {
    const { containerd } = suite;
    // Init starts background children and exits: they are killed with the PID namespace and
    // reparented to the shim (the subreaper), which must reap them.
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'orph1', 'sh', '-c', 'sleep 300 & sleep 300 & sleep 0.2; exit 0']);
    const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'orph1')!;
    expect(shim).toBeDefined();
    expect(await eventually(async () =>
      parseTaskList(await containerd.ctrOk(['task', 'ls'])).find((t) => t.id === 'orph1')?.status === 'STOPPED', 10_000)).toBe(true);
    await waitFor(() => descendantsOf([shim.pid]).length === 0, 10_000);
    expect(findZombies(shim.pid)).toEqual([]);
    expect(descendantsOf([shim.pid])).toEqual([]);
    await containerd.ctrOk(['task', 'delete', 'orph1']);
    await containerd.ctrOk(['containers', 'delete', 'orph1']);
  });
});

function socketsNow(): string[] {
  return existsSync(shimSocketDir) ? readdirSync(shimSocketDir).sort() : [];
}

