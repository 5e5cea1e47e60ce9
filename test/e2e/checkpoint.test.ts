// Issue #4: checkpoint and restore through tsshim with a real CRIU (trixie's 4.1.1, set up by
// scripts/criu.sh because bookworm's 3.17 fails `criu check` on this kernel).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { criuDir, describeEachContainerd, eventually, runtimes } from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = process.env['TSSHIM_E2E_RUNTIME'] ?? runtimes.tsshim;

function criuStatus(): string {
  const check = join(criuDir, '..', 'CHECK');
  if (!existsSync(join(criuDir, 'criu'))) return 'criu is not installed: run scripts/ensure-deps.sh';
  return readFileSync(check, 'utf8').trim();
}

async function counter(containerd: Containerd, id: string, execId: string): Promise<number> {
  const out = await containerd.ctrOk(['task', 'exec', '--exec-id', execId, id, 'cat', '/count']);
  return Number(out.trim());
}

describeEachContainerd('checkpoint and restore through tsshim', (suite) => {
  it('checkpoints a running counter and restores it into a new container that continues counting', async () => {
    // Not a skip: a CRIU that does not work here is a failure that says so.
    expect(criuStatus(), `CRIU is unusable on this kernel: ${criuStatus()}`).toBe('Looks good');
    const { containerd } = suite;
    await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'cp1',
      'sh', '-c', 'i=0; while true; do i=$((i+1)); echo $i > /count; sleep 0.1; done']);
    expect(await eventually(async () => (await counter(containerd, 'cp1', 'c0')) > 5, 10_000)).toBe(true);
    const dumped = await containerd.ctr(['containers', 'checkpoint', '--task', '--rw', 'cp1', 'checkpoint/cp1:1'], { timeoutMs: 60_000 });
    // On failure, show CRIU's own log (its path is in the error).
    const dumpLog = /(\/\S+criu-dump\.log)/.exec(dumped.stderr)?.[1];
    expect(dumped.code, `${dumped.stderr}\n${dumpLog && existsSync(dumpLog) ? readFileSync(dumpLog, 'utf8').split('\n').filter((l) => /Error|error/.test(l)).join('\n') : ''}`).toBe(0);
    const atCheckpoint = await counter(containerd, 'cp1', 'c1');
    // The original keeps running (leave-running is the default of a checkpoint with the task).
    expect(await eventually(async () => (await counter(containerd, 'cp1', 'c2')) > atCheckpoint, 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'cp1']);
    await eventually(async () => (await containerd.ctr(['task', 'delete', 'cp1'])).code === 0, 10_000);
    await containerd.ctrOk(['containers', 'delete', 'cp1']);

    await containerd.ctrOk(['containers', 'restore', '--live', '--rw', 'cp2', 'checkpoint/cp1:1'], { timeoutMs: 60_000 });
    const ls = await containerd.ctrOk(['task', 'ls']);
    expect(ls).toMatch(/cp2\s+\d+\s+RUNNING/);
    // Restored from memory: the count goes on from where the checkpoint caught it, never from 1.
    const first = await counter(containerd, 'cp2', 'r1');
    expect(first).toBeGreaterThanOrEqual(atCheckpoint - 1);
    expect(await eventually(async () => (await counter(containerd, 'cp2', 'r2')) > first, 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'cp2']);
    await eventually(async () => (await containerd.ctr(['task', 'delete', 'cp2'])).code === 0, 10_000);
    await containerd.ctrOk(['containers', 'delete', 'cp2']);
    await containerd.ctr(['images', 'rm', 'checkpoint/cp1:1']);
  });
});
