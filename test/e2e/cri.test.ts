// Issue #5 item 2: the Kubernetes CRI path through tsshim. A private containerd with its CRI plugin and
// a runtime handler `tsshim` (runtime_type io.containerd.tsshim.v2) runs host-network pods the way the
// kubelet drives them; the same calls with the Go shim are in cri-smoke.test.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { containerConfig } from './clients/cri.js';
import type { ContainerOptions, PodSandboxConfig } from './clients/cri.js';
import { cgroupDir, describeEachCri, healthyPodLifecycle, runPodLifecycle, tsshimCriHandler } from './harness/index.js';
import type { CriSuite } from './harness/index.js';
import { isAlive, readProcessStat, recordingRunc, runtimes, shimBinaryName, waitFor } from './harness/index.js';

const handler = tsshimCriHandler;
const shimName = shimBinaryName(runtimes.tsshim);

// Recording wrappers of runc, for the handlers whose `options` table names a BinaryName. Their paths go
// into containerd's config, so they exist before any suite starts.
const recorderDir = mkdtempSync('/tmp/tsshim-cri-runc-');
afterAll(() => rmSync(recorderDir, { recursive: true, force: true }));

/** Named in the handler's options table (CRI 1.7+ passes the table as config_body; 1.6 drops the key). */
const bodyRecorder = recordingRunc(recorderDir, 'runc-from-body');
/** Named in a TOML file that the handler's `ConfigPath` option points at (every version passes config_path). */
const fileRecorder = recordingRunc(recorderDir, 'runc-from-file');
const configPathFile = join(recorderDir, 'tsshim-options.toml');
writeFileSync(configPathFile, `BinaryName = ${JSON.stringify(fileRecorder.path)}\n`);

/** A CRI container log file's text ('' until CRI has created it). */
function logText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Runs a host-network pod with `runtimeHandler`; returns its id and config (CreateContainer needs both). */
async function runPod(suite: CriSuite, name: string, runtimeHandler = handler): Promise<{ podId: string; pod: PodSandboxConfig }> {
  const pod = suite.pod(name);
  return { podId: await suite.cri.runPodSandbox(pod, runtimeHandler), pod };
}

/** Creates and starts a busybox container in the pod; returns its id. */
async function startContainer(
  suite: CriSuite,
  podId: string,
  pod: PodSandboxConfig,
  options: Omit<ContainerOptions, 'image'>,
): Promise<string> {
  const id = await suite.cri.createContainer(podId, containerConfig({ image: suite.fixtures.image, ...options }), pod);
  await suite.cri.startContainer(id);
  return id;
}

async function removePod(suite: CriSuite, podId: string): Promise<void> {
  await suite.cri.stopPodSandbox(podId);
  await suite.cri.removePodSandbox(podId);
}

describeEachCri(
  'CRI through tsshim',
  (suite) => {
    it('runs a host-network pod with a container, ExecSync, Stop and Remove (handler tsshim)', async () => {
      const seen = await runPodLifecycle(suite, handler);
      const healthy = healthyPodLifecycle(runtimes.tsshim);
      expect(seen).toMatchObject(healthy.partial);
      expect(seen.echo).toEqual(healthy.echo);
    });

    it('ExecSync returns stdout, stderr and a non-zero exit code', async () => {
      const { podId, pod } = await runPod(suite, 'execsync');
      const id = await startContainer(suite, podId, pod, { name: 'c', command: ['sleep', '3600'] });
      expect((await suite.cri.containerInfo(id)).runtimeType).toBe(runtimes.tsshim);
      expect(await suite.cri.execSync(id, ['sh', '-c', 'echo out; echo oops >&2; exit 3'])).toEqual({
        stdout: 'out\n',
        stderr: 'oops\n',
        exitCode: 3,
      });
      expect(await suite.cri.execSync(id, ['cat', '/proc/1/cmdline'])).toEqual({
        stdout: 'sleep\u00003600\u0000',
        stderr: '',
        exitCode: 0,
      });
      await removePod(suite, podId);
    });

    it('ContainerStats reports CPU and memory figures', async () => {
      const { podId, pod } = await runPod(suite, 'stats');
      const id = await startContainer(suite, podId, pod, {
        name: 'busy',
        command: ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 3600'],
      });
      expect(await suite.cri.execSync(id, ['true'])).toMatchObject({ exitCode: 0 });
      const stats = await suite.cri.containerStats(id);
      expect(stats.attributes?.id).toBe(id);
      expect(Number(stats.cpu?.usageCoreNanoSeconds?.value)).toBeGreaterThan(0);
      expect(Number(stats.memory?.workingSetBytes?.value)).toBeGreaterThan(0);
      expect(Number(stats.cpu?.timestamp)).toBeGreaterThan(0);
      await removePod(suite, podId);
    });

    it('UpdateContainerResources sets the new memory limit in the container cgroup', async () => {
      const { podId, pod } = await runPod(suite, 'update');
      const id = await startContainer(suite, podId, pod, {
        name: 'c',
        command: ['sleep', '3600'],
        resources: { memoryLimitInBytes: 64 << 20 },
      });
      const { pid } = await suite.cri.containerInfo(id);
      const limitFile = join(cgroupDir(pid, 'memory'), 'memory.limit_in_bytes');
      expect(readFileSync(limitFile, 'utf8').trim()).toBe(String(64 << 20));
      await suite.cri.updateContainerResources(id, { memoryLimitInBytes: 96 << 20 });
      expect(readFileSync(limitFile, 'utf8').trim()).toBe(String(96 << 20));
      await removePod(suite, podId);
    });

    it('StopContainer sends SIGTERM (a trap exits by it) and SIGKILL after the timeout (an ignored TERM)', async () => {
      const { podId, pod } = await runPod(suite, 'stop');
      const trapping = await startContainer(suite, podId, pod, {
        name: 'trapping',
        logPath: 'stop-trapping.log',
        command: ['sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while true; do sleep 1; done'],
      });
      const ignoring = await startContainer(suite, podId, pod, {
        name: 'ignoring',
        logPath: 'stop-ignoring.log',
        command: ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 1; done'],
      });
      // "ready" comes after the trap is set: a TERM before it would not test the trap.
      const trappingLog = join(suite.env.logDirectory, 'stop-trapping.log');
      expect(await waitFor(() => logText(trappingLog).includes('ready'), 20_000)).toBe(true);
      expect(await waitFor(() => logText(join(suite.env.logDirectory, 'stop-ignoring.log')).includes('ready'), 20_000)).toBe(true);
      // A generous timeout for the trap: it must not be the SIGKILL that ends it.
      await suite.cri.stopContainer(trapping, 30);
      expect((await suite.cri.containerStatus(trapping)).status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 42 });
      expect(logText(trappingLog)).toMatch(/ stdout F got TERM\n/);
      await suite.cri.stopContainer(ignoring, 2);
      expect((await suite.cri.containerStatus(ignoring)).status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
      await suite.cri.removeContainer(trapping);
      await suite.cri.removeContainer(ignoring);
      expect(await suite.cri.listContainers({ podSandboxId: podId })).toEqual([]);
      await removePod(suite, podId);
    });

    it('a container over its 16 MiB memory limit is OOM-killed and reports reason OOMKilled', async () => {
      const { podId, pod } = await runPod(suite, 'oom');
      const id = await startContainer(suite, podId, pod, {
        name: 'hog',
        resources: { memoryLimitInBytes: 16 << 20 },
        command: ['sh', '-c', 'x=aaaaaaaa; while true; do x="$x$x"; done'],
      });
      const status = await suite.cri.waitForContainerState(id, 'CONTAINER_EXITED', 60_000);
      expect(status).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
      await removePod(suite, podId);
    });

    it('all containers of a pod share one tsshim process; another pod gets its own', async () => {
      const shimsBefore = suite.containerd.shims(shimName).map((s) => s.pid);
      const { podId, pod } = await runPod(suite, 'grouped');
      const first = await startContainer(suite, podId, pod, { name: 'first', command: ['sleep', '3600'] });
      const second = await startContainer(suite, podId, pod, { name: 'second', command: ['sleep', '3600'] });
      const newShims = suite.containerd.shims(shimName).filter((s) => !shimsBefore.includes(s.pid));
      expect(newShims).toHaveLength(1);
      const shimPid = newShims[0]!.pid;
      const pausePid = (await suite.cri.podSandboxInfo(podId)).pid;
      const appPids = await Promise.all([first, second].map(async (id) => (await suite.cri.containerInfo(id)).pid));
      for (const pid of [pausePid, ...appPids]) expect(readProcessStat(pid)?.ppid).toBe(shimPid);

      const other = await runPod(suite, 'grouped-other');
      const otherPause = (await suite.cri.podSandboxInfo(other.podId)).pid;
      expect(readProcessStat(otherPause)?.ppid).not.toBe(shimPid);
      expect(suite.containerd.shims(shimName).filter((s) => !shimsBefore.includes(s.pid))).toHaveLength(2);

      // Removing one app container leaves the shim serving the rest of the pod.
      await suite.cri.stopContainer(first, 2);
      await suite.cri.removeContainer(first);
      expect(isAlive(shimPid)).toBe(true);
      expect(await suite.cri.execSync(second, ['echo', 'still here'])).toMatchObject({ stdout: 'still here\n', exitCode: 0 });
      await removePod(suite, podId);
      expect(await waitFor(() => !isAlive(shimPid), 15_000)).toBe(true);
      await removePod(suite, other.podId);
    });

    it('a ConfigPath in the handler options reaches tsshim as runtimeoptions.v1.Options: runc is its BinaryName', async () => {
      const before = fileRecorder.calls().length; // the recorders are shared by the versions' suites
      const { podId, pod } = await runPod(suite, 'configpath', 'tsshim-config-path');
      const info = await suite.cri.podSandboxInfo(podId);
      expect(info.runtimeType).toBe(runtimes.tsshim);
      expect(info.runtimeOptions).toMatchObject({ config_path: configPathFile });
      const id = await startContainer(suite, podId, pod, { name: 'c', command: ['sleep', '3600'] });
      expect(await suite.cri.execSync(id, ['echo', 'via file'])).toMatchObject({ stdout: 'via file\n', exitCode: 0 });
      const calls = fileRecorder.calls().slice(before);
      expect(calls.filter((c) => / create /.test(c))).toHaveLength(2); // pause and app container
      expect(calls.some((c) => / exec /.test(c))).toBe(true);
      await removePod(suite, podId);
    });

    it(`BinaryName in the handler options table: ${suite.version === '1.6' ? 'CRI 1.6 drops the key, plain runc runs' : 'config_body carries it to tsshim'}`, async () => {
      const before = bodyRecorder.calls().length;
      const { podId, pod } = await runPod(suite, 'binaryname', 'tsshim-binary-name');
      const info = await suite.cri.podSandboxInfo(podId);
      const id = await startContainer(suite, podId, pod, { name: 'c', command: ['sleep', '3600'] });
      expect(await suite.cri.execSync(id, ['echo', 'via body'])).toMatchObject({ stdout: 'via body\n', exitCode: 0 });
      const creates = bodyRecorder
        .calls()
        .slice(before)
        .filter((c) => / create /.test(c));
      if (suite.version === '1.6') {
        // 1.6 decodes the table into runtimeoptions.v1.Options {TypeUrl, ConfigPath}: BinaryName is lost.
        expect(info.runtimeOptions).toEqual({}); // an empty runtimeoptions.v1.Options
        expect(creates).toHaveLength(0);
      } else {
        // The table re-encoded as TOML: 1.7 writes "double", 2.1 'single' quoted strings.
        expect(Buffer.from(String(info.runtimeOptions?.config_body ?? ''), 'base64').toString()).toMatch(
          new RegExp(`^BinaryName = (["'])${bodyRecorder.path}\\1\n$`),
        );
        expect(creates).toHaveLength(2);
      }
      await removePod(suite, podId);
    });
  },
  {
    runtimeHandlers: {
      [handler]: runtimes.tsshim,
      'tsshim-binary-name': { runtimeType: runtimes.tsshim, options: { BinaryName: bodyRecorder.path } },
      'tsshim-config-path': { runtimeType: runtimes.tsshim, options: { ConfigPath: configPathFile } },
    },
  },
);
