// Issue #14: containerd's CRI test TestContainerIOLeakAfterStartFailed counts every pipe the pod's shim
// holds after a container failed to start, and wants none. A Node process holds pipes of its own from
// its start (libuv's), so that count can never be 0 for tsshim; this shows the part that matters: the
// failed start leaves no pipe behind, and what the shim holds then is what a bare Node process holds.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { containerConfig } from './clients/cri.js';
import { describeEachCri, findShimProcesses, runtimes, shimBinaryName, shimIdentity, tsshimCriHandler } from './harness/index.js';
import type { CriSuite } from './harness/index.js';

/**
 * The pipes (`pipe:[inode]`) among a process's descriptors above stdio, less those this test process
 * holds too: descriptors inherited from whoever started the test run reach containerd and every shim.
 */
function pipesOf(pid: number): string[] {
  const inherited = new Set(pid === process.pid ? [] : pipesOf(process.pid));
  const pipes: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    if (Number(fd) <= 2) continue;
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('pipe:') && !inherited.has(target)) pipes.push(target);
    } catch {
      // closed while we looked
    }
  }
  return pipes.sort();
}

/**
 * The pipes (above stdio) a bare Node process holds: the daemon's own node executable, with the
 * NODE_OPTIONS the daemon was given (its argv may be a rewritten process title).
 */
function nodeOwnPipes(pid: number): string[] {
  const inherited = new Set(pipesOf(process.pid));
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const nodeOptions = environ.find((e) => e.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length) ?? '';
  const list = `const fs = require('fs'); for (const fd of fs.readdirSync('/proc/self/fd')) {
    try { const t = fs.readlinkSync('/proc/self/fd/' + fd); if (Number(fd) > 2 && t.startsWith('pipe:')) console.log(t); } catch {} }`;
  return execFileSync(readlinkSync(`/proc/${pid}/exe`), ['-e', list], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  })
    .split('\n')
    .filter((t) => t !== '' && !inherited.has(t));
}

function podShim(suite: CriSuite, podId: string, binary: string): number {
  const shims = findShimProcesses(suite.containerd.address, binary).filter((p) => shimIdentity(p).id === podId);
  expect(shims, `one ${binary} daemon for pod ${podId}`).toHaveLength(1);
  return shims[0]!.pid;
}

/**
 * Runs a pod, fails to start a container in it; returns the pod shim's pipes before and after, and
 * those of a bare Node process like the shim's.
 */
async function failedStart(
  suite: CriSuite,
  handler: string,
  binary: string,
): Promise<{ before: string[]; after: string[]; nodeOwn: string[] }> {
  const pod = suite.pod(`failed-start-${handler}`);
  const podId = await suite.cri.runPodSandbox(pod, handler);
  const shim = podShim(suite, podId, binary);
  const before = pipesOf(shim);
  const id = await suite.cri.createContainer(
    podId,
    containerConfig({ name: 'missing-command', image: suite.fixtures.image, command: ['something-that-doesnt-exist'] }),
    pod,
  );
  await expect(suite.cri.startContainer(id)).rejects.toThrow(/something-that-doesnt-exist/);
  const after = pipesOf(shim);
  const nodeOwn = nodeOwnPipes(shim);
  await suite.cri.stopPodSandbox(podId);
  await suite.cri.removePodSandbox(podId);
  return { before, after, nodeOwn };
}

describeEachCri(
  'a container that fails to start leaks no pipe in the pod shim',
  (suite) => {
    it('tsshim holds the same pipes after the failed start as before: as many as Node itself', async () => {
      const ts = await failedStart(suite, tsshimCriHandler, shimBinaryName(runtimes.tsshim));
      expect(ts.after).toEqual(ts.before);
      // What is left are libuv's own (8 descriptors in `node -e 0` here), as in any Node process.
      expect(ts.nodeOwn.length).toBeGreaterThan(0);
      expect(ts.after.length, `tsshim pipes ${ts.after.join(' ')}; Node alone ${ts.nodeOwn.join(' ')}`).toBe(ts.nodeOwn.length);
    });
  },
  { runtimeHandlers: { [tsshimCriHandler]: runtimes.tsshim } },
);
