// Issue #2: the two reasons a shim exists. A container outlives a containerd crash (containerd
// reconnects through the bundle's `address` file), and a crashed shim is cleaned up by
// containerd through `<shim> delete`.
import { chmod, writeFile } from 'node:fs/promises';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ContainerdClient } from './clients/containerd.js';
import {
  copyRootfs,
  descendantsOf,
  describeEachContainerd,
  eventually,
  isAlive,
  runCommand,
  runtimes,
  shimBinaryName,
  shimIdentity,
  taskRow,
  waitFor,
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

    const events = await containerd.subscribeEvents();
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

  it('a shim SIGKILLed while an exec runs: the exec client gets an error, container and exec die, containerd cleans up', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'skx1', 'sleep', '600']);
    const row = (await taskRow(containerd, 'skx1'))!;
    const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'skx1')!;
    expect(shim).toBeDefined();
    const exec = containerd.spawnCtr(['task', 'exec', '--exec-id', 'x1', 'skx1', 'sh', '-c', 'echo exec-started; exec sleep 601']);
    await exec.waitForOutput(/exec-started/);
    const findExec = () => descendantsOf([shim.pid]).find((p) => p.cmdline.join(' ') === 'sleep 601');
    expect(await waitFor(() => findExec() !== undefined, 10_000)).toBe(true);
    const execProcess = findExec()!;

    process.kill(shim.pid, 'SIGKILL');
    const exit = await exec.exited;
    expect(exit.code).not.toBe(0);
    expect(await waitFor(() => !isAlive(row.pid) && !isAlive(execProcess.pid), 15_000)).toBe(true);
    expect(await eventually(async () => (await taskRow(containerd, 'skx1'))?.status !== 'RUNNING', 15_000)).toBe(true);
    await containerd.ctr(['task', 'delete', 'skx1']);
    await containerd.ctrOk(['containers', 'delete', 'skx1']);
  });

  it('containerd SIGKILLed and restarted while output flows: the reader that comes back gets every line', async () => {
    const { containerd } = suite;
    const ns = containerd.namespace;
    const lines = 100_000; // about 1 MiB: far more than the FIFO, the pipe and the shim's buffers hold together
    const fifo = join(containerd.tempDir, 'flow1.fifo');
    expect((await runCommand('mkfifo', [fifo])).code).toBe(0);
    const rootfs = await copyRootfs(join(containerd.tempDir, 'rootfs-flow1'));
    await writeFile(join(rootfs, 'run.sh'), `#!/bin/sh\ni=0\nwhile [ $i -lt ${lines} ]; do i=$((i+1)); echo line-$i; done\n`);
    await chmod(join(rootfs, 'run.sh'), 0o755);
    await containerd.ctrOk(['containers', 'create', '--runtime', runtime, '--rootfs', rootfs, 'flow1', '/run.sh']);

    // The test reads the output FIFO as containerd's CRI does for a pod: a reader that goes away
    // with containerd and comes back after it.
    let received = '';
    let wake: (() => void) | undefined;
    const openReader = (): Socket => {
      const socket = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
      socket.setEncoding('utf8').on('data', (text: string) => {
        received += text;
        wake?.();
      });
      return socket;
    };
    const receivedLine = (n: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`line-${n} not received; last: ${received.slice(-40)}`)), 30_000);
        wake = () => {
          if (received.includes(`line-${n}\n`)) {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          }
        };
        wake();
      });
    let reader = openReader();
    const grpc = new ContainerdClient(containerd.address);
    await grpc.create(ns, 'flow1', { stdout: fifo, stderr: fifo });
    await grpc.start(ns, 'flow1');
    grpc.close();
    await receivedLine(100);
    reader.destroy();
    await crashAndRestart(containerd);
    reader = openReader();
    await receivedLine(lines);

    const again = new ContainerdClient(containerd.address);
    try {
      expect((await again.wait(ns, 'flow1')).exitStatus).toBe(0);
    } finally {
      again.close();
    }
    reader.destroy();
    const got = received.split('\n').filter((l) => l !== '');
    expect(got.length).toBe(lines);
    expect(got.every((l, i) => l === `line-${i + 1}`)).toBe(true);
    await containerd.ctrOk(['task', 'delete', 'flow1']);
    await containerd.ctrOk(['containers', 'delete', 'flow1']);
  });
});
