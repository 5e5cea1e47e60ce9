// Issue #9: opt-in shared mode. ShimSharing = "namespace" in the runtime options (here a file
// given with `ctr run --runtime-config-path`, which reaches the shim as runtimeoptions.v1.Options)
// puts every container of a namespace into one daemon; SIGKILLing that daemon must still give
// each container an exit through containerd's cleanup, and leave nothing behind.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  describeEachContainerd,
  eventually,
  isAlive,
  listProcesses,
  mountsUnder,
  readProcessStat,
  runtimes,
  taskRow,
  waitFor,
} from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;
const optionsDir = mkdtempSync(join(tmpdir(), 'tsshim-shared-'));
const sharedOptions = join(optionsDir, 'shared.toml');
writeFileSync(sharedOptions, 'ShimSharing = "namespace"\n');

function runShared(containerd: Containerd, image: string, id: string): Promise<string> {
  return containerd.ctrOk(['run', '-d', '--runtime', runtime, '--runtime-config-path', sharedOptions, image, id, 'sleep', '600']);
}

async function daemonOf(containerd: Containerd, id: string): Promise<number> {
  const task = (await taskRow(containerd, id))!;
  return readProcessStat(task.pid)!.ppid;
}

describeEachContainerd('shared mode: one daemon per namespace', (suite) => {
  it('containers with ShimSharing = "namespace" share one daemon, which exits after the last delete', async () => {
    const { containerd } = suite;
    const ids = ['sh1', 'sh2', 'sh3'];
    for (const id of ids) await runShared(containerd, suite.fixtures.image, id);
    const daemons = new Set(await Promise.all(ids.map((id) => daemonOf(containerd, id))));
    expect(daemons.size).toBe(1);
    const [daemon] = [...daemons] as [number];
    // A container without the option keeps a daemon of its own.
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'own1', 'sleep', '600']);
    expect(await daemonOf(containerd, 'own1')).not.toBe(daemon);

    for (const id of [...ids, 'own1']) {
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
      expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
      await containerd.ctrOk(['task', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
      if (id !== 'sh3' && id !== 'own1') expect(isAlive(daemon)).toBe(true);
    }
    expect(await waitFor(() => !isAlive(daemon), 10_000)).toBe(true);
  });

  it('containers come and go: an idle shared daemon lingers for the next one, and starts racing the last delete all succeed', async () => {
    const { containerd } = suite;
    const removeTask = async (id: string): Promise<void> => {
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
      expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
      await containerd.ctrOk(['task', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    };
    await runShared(containerd, suite.fixtures.image, 'churn0');
    const daemon = await daemonOf(containerd, 'churn0');
    for (let i = 1; i <= 4; i++) {
      // The delete of the only container (and containerd's Shutdown after it) runs while the next one starts.
      const [, started] = await Promise.all([removeTask(`churn${i - 1}`), runShared(containerd, suite.fixtures.image, `churn${i}`)]);
      expect(started).toBe('');
      expect(await daemonOf(containerd, `churn${i}`)).toBe(daemon);
    }
    await removeTask('churn4');
    // Idle now: the daemon exits once no container came for its linger time (10 s).
    expect(await waitFor(() => !isAlive(daemon), 30_000)).toBe(true);
  });

  it('the shared daemon SIGKILLed with 10 containers: containerd cleans up each with an exit status, nothing leaks', async () => {
    const { containerd } = suite;
    const ids = Array.from({ length: 10 }, (_, i) => `kill${i}`);
    const events = await containerd.subscribeEvents();
    for (const id of ids) await runShared(containerd, suite.fixtures.image, id);
    const daemon = await daemonOf(containerd, ids[0]!);
    const inits = await Promise.all(ids.map(async (id) => (await taskRow(containerd, id))!.pid));
    for (const id of ids) expect(await daemonOf(containerd, id)).toBe(daemon);

    process.kill(daemon, 'SIGKILL');
    for (const id of ids) {
      await events.waitForOutput(new RegExp(`/tasks/exit .*"container_id":"${id}".*"exit_status":\\d+`), 30_000);
    }
    // Each task is gone from containerd, each init is dead, no mount of a bundle is left.
    expect(
      await eventually(async () => (await Promise.all(ids.map((id) => taskRow(containerd, id)))).every((t) => t === undefined), 20_000),
    ).toBe(true);
    expect(await waitFor(() => inits.every((pid) => !isAlive(pid)), 10_000)).toBe(true);
    const taskDir = join(containerd.state, 'io.containerd.runtime.v2.task', containerd.namespace);
    expect(mountsUnder(taskDir)).toEqual([]);
    expect(listProcesses().filter((p) => p.cmdline.join(' ') === 'sleep 600' && inits.includes(p.pid))).toEqual([]);
    for (const id of ids) await containerd.ctrOk(['containers', 'delete', id]);
    await events.stop();
  });
});
