// Issue #2: containerd runs real containers through containerd-shim-tsshim-v2 (init process only).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ContainerdClient } from './clients/containerd.js';
import {
  copyRootfs,
  descendantsOf,
  describeEachContainerd,
  eventually,
  findZombies,
  isAlive,
  parseTaskList,
  readProcess,
  readProcessStat,
  runtimes,
  shimBinaryName,
  shimIdentity,
  waitFor,
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
    const events = await containerd.subscribeEvents();
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

    const topics = events
      .stdout()
      .split('\n')
      .filter((l) => /\/tasks\//.test(l) && /"?life1"?/.test(l))
      .map((l) => /\/tasks\/[a-z-]+/.exec(l)![0]);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exitLine = events
      .stdout()
      .split('\n')
      .find((l) => l.includes('/tasks/exit') && l.includes('life1'))!;
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

  it('reaps orphans: no zombie is left after 50 processes lose their parent', async () => {
    const { containerd } = suite;
    // Init starts background children and exits: they are killed with the PID namespace and
    // reparented to the shim (the subreaper), which must reap them.
    await containerd.ctrOk([
      'run',
      '-d',
      '--runtime',
      runtime,
      suite.fixtures.image,
      'orph1',
      'sh',
      '-c',
      'for i in $(seq 50); do sleep 300 & done; sleep 0.2; exit 0',
    ]);
    const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'orph1')!;
    expect(shim).toBeDefined();
    expect(
      await eventually(
        async () => parseTaskList(await containerd.ctrOk(['task', 'ls'])).find((t) => t.id === 'orph1')?.status === 'STOPPED',
        10_000,
      ),
    ).toBe(true);
    await waitFor(() => descendantsOf([shim.pid]).length === 0, 10_000);
    expect(findZombies(shim.pid)).toEqual([]);
    expect(descendantsOf([shim.pid])).toEqual([]);
    await containerd.ctrOk(['task', 'delete', 'orph1']);
    await containerd.ctrOk(['containers', 'delete', 'orph1']);
  });

  it('exit statuses 0, 1, 42, 255, 137, 143 of init and of exec processes, each exit event exactly once', async () => {
    const { containerd, fixtures } = suite;
    const ns = containerd.namespace;
    const grpc = new ContainerdClient(containerd.address);
    const events = await grpc.subscribe(ns, ['topic~="^/tasks/(exit|delete)$"']);
    try {
      // Init: exits by itself, or by a signal (SIGKILL from outside; SIGTERM handled by the init,
      // which as PID 1 of its namespace cannot be killed by a signal it does not handle).
      const inits: Array<[string, number, string[], number | undefined]> = [
        ['st-0', 0, ['sh', '-c', 'exit 0'], undefined],
        ['st-1', 1, ['sh', '-c', 'exit 1'], undefined],
        ['st-42', 42, ['sh', '-c', 'exit 42'], undefined],
        ['st-255', 255, ['sh', '-c', 'exit 255'], undefined],
        ['st-137', 137, ['sleep', '600'], 9],
        ['st-143', 143, ['sh', '-c', 'trap "exit 143" TERM; sleep 600 & wait'], 15],
      ];
      for (const [id, status, args, signal] of inits) {
        await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.image, id, ...args]);
        if (signal !== undefined) {
          // The trap is set before sh starts its sleep.
          const pid = (await grpc.get(ns, id)).pid;
          expect(
            await waitFor(() => [readProcess(pid), ...descendantsOf([pid])].some((p) => p?.cmdline.join(' ') === 'sleep 600'), 10_000),
          ).toBe(true);
          await containerd.ctrOk(['task', 'kill', '-s', String(signal), id]);
        }
        expect((await grpc.wait(ns, id)).exitStatus, id).toBe(status);
      }
      // Execs in one container: exit by themselves, or killed (not PID 1: any signal kills).
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.image, 'st-ex', 'sleep', '600']);
      const execs: Array<[string, number, string[], number | undefined]> = [
        ['x0', 0, ['sh', '-c', 'exit 0'], undefined],
        ['x1', 1, ['sh', '-c', 'exit 1'], undefined],
        ['x42', 42, ['sh', '-c', 'exit 42'], undefined],
        ['x255', 255, ['sh', '-c', 'exit 255'], undefined],
        ['x137', 137, ['sleep', '600'], 9],
        ['x143', 143, ['sleep', '600'], 15],
      ];
      for (const [execId, status, args, signal] of execs) {
        await grpc.exec(ns, 'st-ex', execId, { args, cwd: '/', env: ['PATH=/bin:/usr/bin'] });
        await grpc.start(ns, 'st-ex', execId);
        if (signal !== undefined) await grpc.kill(ns, 'st-ex', signal, { execId });
        expect((await grpc.wait(ns, 'st-ex', execId)).exitStatus, execId).toBe(status);
        await grpc.deleteProcess(ns, 'st-ex', execId);
      }
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'st-ex']);
      expect((await grpc.wait(ns, 'st-ex')).exitStatus).toBe(137);

      const ids = [...inits.map(([id]) => id), 'st-ex'];
      for (const id of ids) {
        await containerd.ctrOk(['task', 'delete', id]);
        await containerd.ctrOk(['containers', 'delete', id]);
      }
      // Every exit is queued before its container's delete event: once those came, all exits did.
      for (const id of ids) await events.next((e) => e.event?.kind === 'TaskDelete' && e.event.containerId === id);
      const exits = events.received.flatMap(({ event }) =>
        event?.kind === 'TaskExit' && ids.includes(event.containerId) ? [`${event.containerId}/${event.id} ${event.exitStatus}`] : [],
      );
      expect(exits.sort()).toEqual(
        [
          ...inits.map(([id, status]) => `${id}/${id} ${status}`),
          ...execs.map(([execId, status]) => `st-ex/${execId} ${status}`),
          'st-ex/st-ex 137',
        ].sort(),
      );
    } finally {
      events.close();
      grpc.close();
    }
  });
});

function socketsNow(): string[] {
  return existsSync(shimSocketDir) ? readdirSync(shimSocketDir).sort() : [];
}
