// Issue #2: the two reasons a shim exists. A container outlives a containerd crash (containerd
// reconnects through the bundle's `address` file), and a crashed shim is cleaned up by
// containerd through `<shim> delete`.
import { expect, it } from 'vitest';
import {
  describeEachContainerd, eventually, isAlive, runtimes, shimBinaryName, shimIdentity, taskRow, waitFor,
} from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);

/** SIGKILLs containerd and starts it again on the same root, state and address. */
async function crashAndRestart(containerd: Containerd): Promise<void> {
  const pid = containerd.pid;
  process.kill(pid, 'SIGKILL');
  expect(await waitFor(() => !isAlive(pid), 10_000)).toBe(true);
  await containerd.launch({ version: containerd.version });
  expect(await eventually(async () => (await containerd.ctr(['version'], { timeoutMs: 5000 })).code === 0, 30_000)).toBe(true);
}

describeEachContainerd('survival', (suite) => {
  it('a running container survives containerd being SIGKILLed; after restart containerd reconnects and can kill and delete it', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'rs1', 'sleep', '600']);
    const before = await taskRow(containerd, 'rs1');
    expect(before?.status).toBe('RUNNING');
    const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'rs1');
    expect(shim).toBeDefined();

    await crashAndRestart(containerd);
    expect(isAlive(before!.pid)).toBe(true);
    expect(isAlive(shim!.pid)).toBe(true);
    expect(await eventually(async () => (await taskRow(containerd, 'rs1'))?.status === 'RUNNING', 15_000)).toBe(true);
    expect((await taskRow(containerd, 'rs1'))?.pid).toBe(before!.pid);

    const events = containerd.spawnCtr(['events']);
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the subscription start
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'rs1']);
    const [exitLine] = await events.waitForOutput(/\/tasks\/exit .*"?rs1"?.*\n/);
    expect(exitLine).toMatch(/"exit_status":137/);
    expect(await eventually(async () => (await taskRow(containerd, 'rs1'))?.status === 'STOPPED', 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'delete', 'rs1']);
    await containerd.ctrOk(['containers', 'delete', 'rs1']);
    expect(await waitFor(() => !isAlive(shim!.pid), 10_000)).toBe(true);
    await events.stop();
  });

  it('a shim killed with SIGKILL is cleaned up by containerd through `delete`: the container is gone', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'sk1', 'sleep', '600']);
    const row = await taskRow(containerd, 'sk1');
    expect(row?.status).toBe('RUNNING');
    const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'sk1')!;
    expect(shim).toBeDefined();

    process.kill(shim.pid, 'SIGKILL');
    expect(await waitFor(() => !isAlive(row!.pid), 15_000)).toBe(true);
    expect(await eventually(async () => (await taskRow(containerd, 'sk1'))?.status !== 'RUNNING', 15_000)).toBe(true);
    expect(containerd.logs()).toMatch(/cleaning up after shim disconnected[^\n]*sk1|sk1[^\n]*cleaning up after shim disconnected/);
    await containerd.ctr(['task', 'delete', 'sk1']);
    await containerd.ctrOk(['containers', 'delete', 'sk1']);
  });
});
