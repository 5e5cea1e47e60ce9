// Issue #5: containers with the same group annotation share one shim daemon (docs/protocol.md §11.1).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  describeEachContainerd,
  eventually,
  isAlive,
  readProcessStat,
  runtimes,
  shimBinaryName,
  taskRow,
  waitFor,
} from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);

function groupSocket(containerd: Containerd, group: string): string {
  const key = join(containerd.address, containerd.namespace, group);
  return join('/run/containerd/s', createHash('sha256').update(key).digest('hex'));
}

async function runInGroup(containerd: Containerd, image: string, id: string, annotation: string): Promise<void> {
  await containerd.ctrOk(['run', '-d', '--runtime', runtime, '--annotation', annotation, image, id, 'sleep', '600']);
}

async function stopAndDelete(containerd: Containerd, id: string): Promise<void> {
  await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
  expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
  await containerd.ctrOk(['task', 'delete', id]);
  await containerd.ctrOk(['containers', 'delete', id]);
}

describeEachContainerd('grouped containers share one tsshim', (suite) => {
  it('two containers of one pod share a shim; it outlives the first delete and exits after the last', async () => {
    const { containerd } = suite;
    const image = suite.fixtures.image;
    await runInGroup(containerd, image, 'gA', 'io.kubernetes.cri.sandbox-id=podA');
    await runInGroup(containerd, image, 'gB', 'io.kubernetes.cri.sandbox-id=podA');
    const a = (await taskRow(containerd, 'gA'))!;
    const b = (await taskRow(containerd, 'gB'))!;
    const shimOfA = readProcessStat(a.pid)!.ppid;
    expect(readProcessStat(b.pid)!.ppid).toBe(shimOfA);
    expect(containerd.shims(shimName).map((s) => s.pid)).toEqual([shimOfA]);
    const socket = groupSocket(containerd, 'podA');
    expect(existsSync(socket)).toBe(true);

    await stopAndDelete(containerd, 'gA');
    expect(isAlive(shimOfA)).toBe(true);
    expect((await taskRow(containerd, 'gB'))?.status).toBe('RUNNING');
    const out = await containerd.ctrOk(['task', 'exec', '--exec-id', 'still', 'gB', 'echo', 'still here']);
    expect(out).toBe('still here\n');
    expect(await containerd.ctrOk(['task', 'ps', 'gB'])).toMatch(new RegExp(`^${b.pid}\\b`, 'm'));

    await stopAndDelete(containerd, 'gB');
    expect(await waitFor(() => !isAlive(shimOfA), 10_000)).toBe(true);
    expect(existsSync(socket)).toBe(false);
  });

  it('the io.containerd.runc.v2.group annotation groups too, and wins over the sandbox id', async () => {
    const { containerd } = suite;
    const image = suite.fixtures.image;
    await containerd.ctrOk([
      'run',
      '-d',
      '--runtime',
      runtime,
      '--annotation',
      'io.containerd.runc.v2.group=grp1',
      '--annotation',
      'io.kubernetes.cri.sandbox-id=other',
      image,
      'rA',
      'sleep',
      '600',
    ]);
    await runInGroup(containerd, image, 'rB', 'io.containerd.runc.v2.group=grp1');
    const a = (await taskRow(containerd, 'rA'))!;
    const b = (await taskRow(containerd, 'rB'))!;
    expect(readProcessStat(a.pid)!.ppid).toBe(readProcessStat(b.pid)!.ppid);
    expect(existsSync(groupSocket(containerd, 'grp1'))).toBe(true);
    await stopAndDelete(containerd, 'rA');
    await stopAndDelete(containerd, 'rB');
  });

  it('a crashed grouped shim is cleaned up for every container in it', async () => {
    const { containerd } = suite;
    const image = suite.fixtures.image;
    await runInGroup(containerd, image, 'cA', 'io.kubernetes.cri.sandbox-id=podC');
    await runInGroup(containerd, image, 'cB', 'io.kubernetes.cri.sandbox-id=podC');
    const a = (await taskRow(containerd, 'cA'))!;
    const b = (await taskRow(containerd, 'cB'))!;
    const shim = readProcessStat(a.pid)!.ppid;
    process.kill(shim, 'SIGKILL');
    expect(await waitFor(() => !isAlive(a.pid) && !isAlive(b.pid), 15_000)).toBe(true);
    expect(
      await eventually(
        async () => (await taskRow(containerd, 'cA'))?.status !== 'RUNNING' && (await taskRow(containerd, 'cB'))?.status !== 'RUNNING',
        15_000,
      ),
    ).toBe(true);
    for (const id of ['cA', 'cB']) {
      await containerd.ctr(['task', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    }
  });
});
