// Issue #10: faults. Every request in flight gets its answer, runc that fails or hangs gives a clear
// error while the shim goes on answering, OOM kills are reported however early they come, and a
// vanished output reader does not stall a delete.
//
// containerd (and so every shim it starts) finds `runc` first in a directory of this suite: a wrapper
// that runs the real runc, and misbehaves only for containers whose id asks for it.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ContainerdClient } from './clients/containerd.js';
import {
  copyRootfs,
  describeEachContainerd,
  isAlive,
  listProcesses,
  runtimes,
  shimBinaryName,
  shimIdentity,
  taskRow,
  waitFor,
} from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);

const wrapperDir = mkdtempSync(join(tmpdir(), 'tsshim-faults-'));
afterAll(() => rmSync(wrapperDir, { recursive: true, force: true }));
writeFileSync(
  join(wrapperDir, 'runc'),
  `#!/bin/sh
# runc as usual, except for containers whose id starts with:
#   slowkill-   kill answers 1.5 s after the signal was sent
#   failstart-  start fails with a message of its own
#   hangstart-  start hangs (until this script is killed)
#   slowstart-  start answers 0.5 s after the container was started (a loaded machine)
echo "$*" >> '${join(wrapperDir, 'calls.log')}'
case " $* " in
  *" kill "*"slowkill-"*) /usr/sbin/runc "$@"; rc=$?; sleep 1.5; exit $rc ;;
  *" start failstart-"*) echo "injected failure: this runc refuses to start the container" >&2; exit 1 ;;
  *" start hangstart-"*) exec sleep 3599 ;;
  *" start slowstart-"*) /usr/sbin/runc "$@"; rc=$?; sleep 0.5; exit $rc ;;
esac
exec /usr/sbin/runc "$@"
`,
);
chmodSync(join(wrapperDir, 'runc'), 0o755);
/** The argv of every runc call so far in `namespace` (proof that the wrapper was used). */
const wrapperCalls = (namespace: string): string => {
  try {
    return readFileSync(join(wrapperDir, 'calls.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(`/${namespace} `))
      .join('\n');
  } catch {
    return '';
  }
};

describeEachContainerd(
  'faults',
  (suite) => {
    let client: ContainerdClient | undefined;
    const grpc = (): ContainerdClient => (client ??= new ContainerdClient(suite.containerd.address));
    afterAll(() => client?.close());

    /** A container made by ctr from its own rootfs copy, its task created over gRPC (nothing started). */
    const createTask = async (id: string, args: string[]): Promise<number> => {
      const { containerd } = suite;
      const rootfs = await copyRootfs(join(containerd.tempDir, `rootfs-${id}`));
      await containerd.ctrOk(['containers', 'create', '--runtime', runtime, '--rootfs', rootfs, id, ...args]);
      return grpc().create(containerd.namespace, id);
    };

    it('a Kill still running runc is answered, also when the delete of its container (the last of a deferred Shutdown) comes meanwhile', async () => {
      const { containerd, fixtures } = suite;
      const group = `io.containerd.runc.v2.group=slowkill-${containerd.version}`;
      for (const id of ['slowkill-a', 'slowkill-b']) {
        await containerd.ctrOk(['run', '-d', '--runtime', runtime, '--annotation', group, fixtures.image, id, 'sleep', '600']);
      }
      // The first delete makes containerd send Shutdown, which the daemon defers: b remains.
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'slowkill-a']);
      await grpc().wait(containerd.namespace, 'slowkill-a');
      await containerd.ctrOk(['task', 'delete', 'slowkill-a']);

      const b = (await taskRow(containerd, 'slowkill-b'))!;
      const events = await grpc().subscribe(containerd.namespace, ['topic=="/tasks/exit"']);
      const finished: string[] = [];
      const kill = containerd.ctr(['task', 'kill', '-s', 'SIGKILL', 'slowkill-b']).then((r) => {
        finished.push('kill');
        return r;
      });
      // The signal is out (init exited) while runc kill still runs: delete now.
      await events.next((e) => e.event?.kind === 'TaskExit' && e.event.containerId === 'slowkill-b');
      events.close();
      expect(isAlive(b.pid)).toBe(false);
      const del = containerd.ctr(['task', 'delete', 'slowkill-b']).then((r) => {
        finished.push('delete');
        return r;
      });
      const [killed, deleted] = await Promise.all([kill, del]);
      expect(killed.stderr).toBe('');
      expect(killed.code).toBe(0);
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(finished).toEqual(['kill', 'delete']);
      expect(wrapperCalls(containerd.namespace)).toMatch(/ kill .*slowkill-b 9/);
      await containerd.ctrOk(['containers', 'delete', 'slowkill-a']);
      await containerd.ctrOk(['containers', 'delete', 'slowkill-b']);
    });

    it('an init OOM-killed before Start is answered: /tasks/oom before /tasks/exit (137), 20 runs out of 20', async () => {
      const { containerd, fixtures } = suite;
      const events = await grpc().subscribe(containerd.namespace, ['topic~="^/tasks/"']);
      const ids = Array.from({ length: 20 }, (_, i) => `slowstart-oom-${i}`);
      for (const id of ids) {
        await containerd.ctrOk([
          'run',
          '-d',
          '--runtime',
          runtime,
          '--memory-limit',
          String(16 << 20),
          fixtures.image,
          id,
          'sh',
          '-c',
          'x=aaaaaaaa; while true; do x="$x$x"; done',
        ]);
        await events.next((e) => e.event?.kind === 'TaskExit' && e.event.containerId === id);
      }
      events.close();
      const seen = ids.map((id) =>
        events.received.flatMap(({ event }) => {
          if (event?.containerId !== id) return [];
          if (event.kind === 'TaskOOM') return ['oom'];
          return event.kind === 'TaskExit' ? [`exit ${event.exitStatus}`] : [];
        }),
      );
      expect(seen).toEqual(ids.map(() => ['oom', 'exit 137']));
      for (const id of ids) {
        await containerd.ctrOk(['task', 'delete', id]);
        await containerd.ctrOk(['containers', 'delete', id]);
      }
    });

    it('a delete is not held up by output whose reader was SIGKILLed; an attached reader still gets all of it', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const reader = containerd.spawnCtr(['run', '--runtime', runtime, fixtures.image, 'lostreader', 'yes', 'y']);
      await reader.waitForOutput(/(y\n){1000}/);
      reader.kill('SIGKILL');
      await reader.exited;
      // The output FIFO fills, nobody reads it: the container blocks on its writes.
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'lostreader']);
      await grpc().wait(ns, 'lostreader');
      // The old shim waited for the copy until its 10 s timeout; a 5 s limit tells the difference.
      const deleteStarted = performance.now();
      const deleted = await containerd.ctr(['task', 'delete', 'lostreader'], { timeoutMs: 5_000 });
      // A figure for the record (issue 10 asks for it), never asserted beyond the 5 s bound.
      console.log(`ctr task delete after the reader was SIGKILLed: ${Math.round(performance.now() - deleteStarted)} ms`);
      expect(deleted.timedOut).toBe(false);
      expect(deleted.code, deleted.stderr).toBe(0);
      await containerd.ctrOk(['containers', 'delete', 'lostreader']);

      // While a reader is attached, everything reaches it, however much was buffered at the exit.
      const r = await containerd.ctr(
        ['run', '--rm', '--runtime', runtime, fixtures.image, 'keptreader', 'sh', '-c', 'yes y | head -c 4194304; echo; echo end'],
        { timeoutMs: 60_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.length).toBe(4194304 + '\nend\n'.length);
      expect(r.stdout.endsWith('y\n\nend\n')).toBe(true);
    });

    it("runc start failing: Start answers with runc's message, State still answers, the task can be deleted", async () => {
      const { containerd } = suite;
      const ns = containerd.namespace;
      await createTask('failstart-1', ['/bin/sleep', '600']);
      const failed = await grpc()
        .start(ns, 'failstart-1')
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      expect(failed?.message).toMatch(/OCI runtime start failed: .*injected failure: this runc refuses to start the container/);
      expect((await grpc().get(ns, 'failstart-1')).status).toBe('CREATED');
      await containerd.ctrOk(['task', 'delete', '--force', 'failstart-1']);
      await containerd.ctrOk(['containers', 'delete', 'failstart-1']);
    });

    it('runc start hanging: State, Pids and the task list are still answered; Start fails once runc is gone', async () => {
      const { containerd } = suite;
      const ns = containerd.namespace;
      const pid = await createTask('hangstart-1', ['/bin/sleep', '600']);
      const start = grpc()
        .start(ns, 'hangstart-1')
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      const isHangingRunc = (p: { cmdline: string[] }): boolean => p.cmdline.join(' ') === 'sleep 3599';
      expect(await waitFor(() => listProcesses().some(isHangingRunc), 10_000)).toBe(true);
      expect((await grpc().get(ns, 'hangstart-1')).status).toBe('CREATED');
      expect((await grpc().listPids(ns, 'hangstart-1')).map((p) => p.pid)).toEqual([pid]);
      expect((await taskRow(containerd, 'hangstart-1'))?.status).toBe('CREATED');
      for (const p of listProcesses().filter(isHangingRunc)) process.kill(p.pid, 'SIGTERM');
      const failed = await start;
      expect(failed?.message).toMatch(/OCI runtime start failed: signal: SIGTERM/);
      expect((await grpc().get(ns, 'hangstart-1')).status).toBe('CREATED');
      await containerd.ctrOk(['task', 'delete', '--force', 'hangstart-1']);
      await containerd.ctrOk(['containers', 'delete', 'hangstart-1']);
    });

    it('SIGTERM to the daemon while a Kill runs runc and a Wait never ends: the Kill is answered, the daemon exits anyway', async () => {
      const { containerd, fixtures } = suite;
      const group = `io.containerd.runc.v2.group=slowkill-term-${containerd.version}`;
      for (const id of ['slowkill-term', 'slowkill-term-w']) {
        await containerd.ctrOk(['run', '-d', '--runtime', runtime, '--annotation', group, fixtures.image, id, 'sleep', '600']);
      }
      const shim = containerd.shims(shimName).find((p) => shimIdentity(p).id === 'slowkill-term')!;
      expect(shim).toBeDefined();
      // A Wait for a container that goes on running: the daemon cannot wait for its answer.
      const waiting = grpc()
        .wait(containerd.namespace, 'slowkill-term-w')
        .catch((e: unknown) => e);
      const kill = containerd.ctr(['task', 'kill', '-s', 'SIGKILL', 'slowkill-term']);
      const killingRunc = (): boolean => wrapperCalls(containerd.namespace).includes(' kill slowkill-term 9');
      expect(await waitFor(killingRunc, 10_000)).toBe(true);
      process.kill(shim.pid, 'SIGTERM');
      const killed = await kill;
      expect(killed.stderr).toBe('');
      expect(killed.code).toBe(0);
      expect(await waitFor(() => !isAlive(shim.pid), 30_000)).toBe(true);
      await waiting;
      for (const id of ['slowkill-term', 'slowkill-term-w']) {
        await containerd.ctr(['task', 'delete', '--force', id]);
        await containerd.ctrOk(['containers', 'delete', id]);
      }
    });
  },
  { pathPrefix: [wrapperDir] },
);
