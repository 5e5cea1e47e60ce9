// Issue #9: no Node start on a container's critical path once a spare daemon is up; the cold
// path (no spare yet, or spares off) still works; shared mode puts a namespace into one daemon.
// Which Node starts containerd waits for is read from a wrapper the launcher execs as Node
// (TSSHIM_NODE): it logs each start it is asked for, then runs the real Node.
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spareSocketPath } from '../../src/shim/address.js';
import {
  descendantsOf,
  describeEachContainerd,
  eventually,
  findSpareDaemons,
  isAlive,
  readCmdline,
  readProcessStat,
  runtimes,
  shimBinaryName,
  shimIdentity,
  taskRow,
  waitFor,
} from './harness/index.js';
import type { Containerd } from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);

/** A Node wrapper that appends the action of each launch to `log`; one per suite. */
function countingNode(): { wrapper: string; log: string; launches(): string[]; clear(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-node-count-'));
  const wrapper = join(dir, 'node');
  const log = join(dir, 'launches.log');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nfor a; do case "$a" in start|delete|spare) action=$a;; esac; done\necho "\${action:-other}" >> ${log}\nexec ${process.execPath} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  writeFileSync(log, '');
  return {
    wrapper,
    log,
    launches: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    clear: () => writeFileSync(log, ''),
  };
}

/** Waits until a spare of `containerd` listens; returns its pid. */
async function awaitSpare(containerd: Containerd, notPid?: number): Promise<number> {
  const socket = spareSocketPath(containerd.address);
  let pid: number | undefined;
  const ready = await waitFor(() => {
    pid = findSpareDaemons(containerd.address).find((p) => p.pid !== notPid)?.pid;
    return pid !== undefined && existsSync(socket);
  }, 20_000);
  expect(ready, `a spare daemon of ${containerd.address} should listen at ${socket}`).toBe(true);
  return pid!;
}

const warm = countingNode();
describeEachContainerd(
  'spare daemons: start and delete without a Node start',
  (suite) => {
    it('the first start is cold and leaves a spare; the next run --rm starts no Node; its output and status are intact', async () => {
      const { containerd } = suite;
      warm.clear();
      const cold = await containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'cold1', 'echo', 'cold']);
      expect(cold.stdout).toBe('cold\n');
      expect(warm.launches()).toContain('start');
      const spare = await awaitSpare(containerd);

      warm.clear();
      const r = await containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        suite.fixtures.image,
        'warm1',
        'sh',
        '-c',
        'echo to-out; echo to-err >&2; exit 3',
      ]);
      expect(r.stdout).toBe('to-out\n');
      expect(r.stderr).toContain('to-err\n');
      expect(r.code).toBe(3);
      expect(warm.launches(), 'the launcher should neither run start nor delete in Node').toEqual([]);
      // The spare became warm1's daemon and left with it; the launcher started the next spare.
      expect(await waitFor(() => !isAlive(spare), 10_000)).toBe(true);
      await awaitSpare(containerd, spare);
    });

    it('run -d is served by the adopted spare: exec, kill and delete through it, delete answered from the bundle', async () => {
      const { containerd } = suite;
      const spare = await awaitSpare(containerd);
      warm.clear();
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'warm2', 'sleep', '600']);
      const shim = containerd.shims(shimName).find((s) => shimIdentity(s).id === 'warm2');
      expect(shim?.pid).toBe(spare);
      expect(readCmdline(spare)).toEqual(
        expect.arrayContaining(['-namespace', containerd.namespace, '-id', 'warm2', '-address', containerd.address]),
      );
      // Where a daemon `start` spawned would be: not containerd's child, containerd's cgroups and OOM score + 1.
      expect(readProcessStat(spare)?.ppid).not.toBe(containerd.pid);
      expect(readFileSync(`/proc/${spare}/cgroup`, 'utf8')).toBe(readFileSync(`/proc/${containerd.pid}/cgroup`, 'utf8'));
      const task = (await taskRow(containerd, 'warm2'))!;
      expect(readProcessStat(task.pid)?.ppid).toBe(spare);
      expect(await containerd.ctrOk(['task', 'exec', '--exec-id', 'e1', 'warm2', 'echo', 'exec ok'])).toBe('exec ok\n');
      await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'warm2']);
      expect(await eventually(async () => (await taskRow(containerd, 'warm2'))?.status === 'STOPPED', 10_000)).toBe(true);
      await containerd.ctrOk(['task', 'delete', 'warm2']);
      await containerd.ctrOk(['containers', 'delete', 'warm2']);
      expect(warm.launches()).toEqual([]);
      expect(await waitFor(() => !isAlive(spare), 10_000)).toBe(true);
      expect(descendantsOf([spare])).toEqual([]);
    });

    it('a grouped container finds its group daemon through the spare, which stays a spare', async () => {
      const { containerd } = suite;
      const spare = await awaitSpare(containerd);
      warm.clear();
      const runInGroup = (id: string) =>
        containerd.ctrOk([
          'run',
          '-d',
          '--runtime',
          runtime,
          '--annotation',
          'io.containerd.runc.v2.group=gw',
          suite.fixtures.image,
          id,
          'sleep',
          '600',
        ]);
      await runInGroup('gw1');
      // The spare became gw1's daemon; the second start goes to the next spare once it is up.
      const next = await awaitSpare(containerd, spare);
      await runInGroup('gw2');
      const a = (await taskRow(containerd, 'gw1'))!;
      const b = (await taskRow(containerd, 'gw2'))!;
      expect(readProcessStat(a.pid)?.ppid).toBe(spare);
      expect(readProcessStat(b.pid)?.ppid).toBe(spare);
      expect(findSpareDaemons(containerd.address).map((p) => p.pid)).toEqual([next]);
      for (const id of ['gw1', 'gw2']) {
        await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
        expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
        await containerd.ctrOk(['task', 'delete', id]);
        await containerd.ctrOk(['containers', 'delete', id]);
      }
      expect(warm.launches()).toEqual([]);
      expect(isAlive(next)).toBe(true);
    });
  },
  { env: { TSSHIM_NODE: warm.wrapper } },
);

const off = countingNode();
describeEachContainerd(
  'spares off (TSSHIM_SPARES=0): the cold path',
  (suite) => {
    it('every start runs Node and no spare appears; delete still needs none', async () => {
      const { containerd } = suite;
      off.clear(); // one log for the suites of every containerd version
      for (const id of ['off1', 'off2']) {
        const r = await containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, id, 'sh', '-c', 'echo off; exit 4']);
        expect(r.stdout).toBe('off\n');
        expect(r.code).toBe(4);
      }
      expect(off.launches()).toEqual(['start', 'start']);
      expect(findSpareDaemons(containerd.address)).toEqual([]);
    });
  },
  { env: { TSSHIM_NODE: off.wrapper, TSSHIM_SPARES: '0' } },
);
