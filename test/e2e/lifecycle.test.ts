// Issue #4: pause/resume, metrics, OOM events through tsshim.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cgroupDir, describeEachContainerd, eventually, removeContainer, runtimes, taskRow } from './harness/index.js';

const runtime = runtimes.tsshim;

describeEachContainerd('task lifecycle through tsshim', (suite) => {
  it('pause and resume: PAUSED state, events, and a paused process does not run', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'pz1', 'sleep', '600']);
    const events = await containerd.subscribeEvents();
    await containerd.ctrOk(['task', 'pause', 'pz1']);
    const row = await taskRow(containerd, 'pz1');
    expect(row?.status).toBe('PAUSED');
    expect(readFileSync(`${cgroupDir(row!.pid, 'freezer')}/freezer.state`, 'utf8').trim()).toBe('FROZEN');
    // Pausing again is refused by the state machine.
    const again = await containerd.ctr(['task', 'pause', 'pz1']);
    expect(again.code).not.toBe(0);
    await containerd.ctrOk(['task', 'resume', 'pz1']);
    expect((await taskRow(containerd, 'pz1'))?.status).toBe('RUNNING');
    await events.waitForOutput(/\/tasks\/resumed/);
    const topics = events
      .stdout()
      .split('\n')
      .filter((l) => l.includes('pz1'))
      .map((l) => /\/tasks\/[a-z-]+/.exec(l)?.[0]);
    expect(topics).toEqual(['/tasks/paused', '/tasks/resumed']);
    await events.stop();
    await removeContainer(containerd, 'pz1');
  });

  it('pause of a stopped container is refused with a clear message', async () => {
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'pz2', 'true']);
    expect(await eventually(async () => (await taskRow(containerd, 'pz2'))?.status === 'STOPPED', 10_000)).toBe(true);
    const r = await containerd.ctr(['task', 'pause', 'pz2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot pause|stopped/);
    await containerd.ctrOk(['task', 'delete', 'pz2']);
    await containerd.ctrOk(['containers', 'delete', 'pz2']);
  });

  it('ctr task metrics reports the container cgroup (limit, usage, pids)', async () => {
    const { containerd } = suite;
    await containerd.ctrOk([
      'run',
      '-d',
      '--runtime',
      runtime,
      '--memory-limit',
      String(64 << 20),
      suite.fixtures.image,
      'mt1',
      'sleep',
      '600',
    ]);
    const row = (await taskRow(containerd, 'mt1'))!;
    const out = await containerd.ctrOk(['task', 'metrics', '--format', 'json', 'mt1']);
    const metrics = JSON.parse(out) as {
      memory?: { usage?: { limit?: number; usage?: number } };
      pids?: { current?: number };
      cpu?: { usage?: { total?: number } };
    };
    const memDir = cgroupDir(row.pid, 'memory');
    expect(metrics.memory?.usage?.limit).toBe(Number(readFileSync(`${memDir}/memory.limit_in_bytes`, 'utf8')));
    expect(metrics.memory?.usage?.limit).toBe(64 << 20);
    expect(metrics.memory?.usage?.usage).toBeGreaterThan(0);
    expect(metrics.pids?.current).toBe(1);
    expect(metrics.cpu?.usage?.total).toBeGreaterThan(0);
    await removeContainer(containerd, 'mt1');
  });

  it('an OOM kill publishes /tasks/oom before /tasks/exit with status 137', async () => {
    const { containerd } = suite;
    const events = await containerd.subscribeEvents();
    await containerd.ctrOk([
      'run',
      '-d',
      '--runtime',
      runtime,
      '--memory-limit',
      String(16 << 20),
      suite.fixtures.image,
      'oom1',
      'sh',
      '-c',
      'x=aaaaaaaa; while true; do x="$x$x"; done',
    ]);
    await events.waitForOutput(/\/tasks\/exit [^\n]*oom1[^\n]*\n/, 60_000);
    const lines = events
      .stdout()
      .split('\n')
      .filter((l) => l.includes('oom1') && /\/tasks\/(oom|exit)/.test(l));
    expect(lines.map((l) => /\/tasks\/[a-z]+/.exec(l)![0])).toEqual(['/tasks/oom', '/tasks/exit']);
    expect(lines[1]).toMatch(/"exit_status":137/);
    await events.stop();
    await containerd.ctrOk(['task', 'delete', 'oom1']);
    await containerd.ctrOk(['containers', 'delete', 'oom1']);
  });

  it('an orphan reparented to the shim is reaped, and the reaper logs it with the task id', async () => {
    const { containerd } = suite;
    // Without a pid namespace of its own, what init leaves behind is reparented to the shim, the subreaper.
    const spec = JSON.parse(await containerd.ctrOk(['oci', 'spec'])) as {
      process: { args?: string[]; env?: string[] };
      root: { path: string; readonly?: boolean };
      linux: { namespaces: Array<{ type: string }>; cgroupsPath?: string };
    };
    spec.root = { path: suite.fixtures.rootfs, readonly: true };
    spec.process.args = ['sh', '-c', 'sleep 1 & exit 0'];
    spec.process.env = ['PATH=/bin:/usr/bin'];
    spec.linux.namespaces = spec.linux.namespaces.filter((ns) => ns.type !== 'pid');
    spec.linux.cgroupsPath = `/${containerd.namespace}/orph1`;
    const dir = mkdtempSync(join(tmpdir(), 'tsshim-orphan-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, '--config', join(dir, 'config.json'), 'orph1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const reaped = (): boolean =>
      containerd
        .logs()
        .split('\n')
        .some((l) => l.includes('reaper: reaped an exit nobody waits for') && l.includes('"id":"orph1"'));
    expect(await eventually(async () => reaped(), 30_000), "no reaper line with the task id in containerd's log").toBe(true);
    await removeContainer(containerd, 'orph1');
  });
});
