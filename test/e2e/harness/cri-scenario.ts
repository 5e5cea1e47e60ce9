// The basic pod lifecycle through CRI, parameterized by runtime handler: the smoke test runs it with the
// Go shim (`runc`), the tsshim suites with `tsshim`. It returns what it observed; callers assert.
import { randomBytes } from 'node:crypto';
import { containerConfig } from '../clients/cri.js';
import type { ContainerStatus, ExecSyncResult, PodSandboxStatus } from '../clients/cri.js';
import type { CriSuite } from './cri.js';

export interface PodLifecycleObservations {
  podId: string;
  containerId: string;
  /** PodSandboxStatus right after RunPodSandbox. */
  podStatus: PodSandboxStatus;
  /** containerd's verbose info for the sandbox (parsed `info` JSON: pid, runtimeType, ...). */
  podInfo: Record<string, unknown>;
  /** ContainerStatus after StartContainer. */
  runningStatus: ContainerStatus;
  echo: ExecSyncResult;
  /** ContainerStatus after StopContainer. */
  stoppedStatus: ContainerStatus;
  /** Pods with this id left after RemovePodSandbox (expected 0). */
  podsLeft: number;
}

/**
 * What runPodLifecycle observes when all goes well with a handler of `runtimeType`, for
 * `expect(seen).toMatchObject(...)`; the ExecSync answer is compared whole, as `echo`.
 */
export function healthyPodLifecycle(runtimeType: string): { partial: object; echo: ExecSyncResult } {
  return {
    partial: {
      podStatus: { state: 'SANDBOX_READY', linux: { namespaces: { options: { network: 'NODE' } } } },
      podInfo: { runtimeType },
      runningStatus: { state: 'CONTAINER_RUNNING' },
      // busybox sleep as PID 1 ignores the SIGTERM: 137 is the SIGKILL after StopContainer's timeout.
      stoppedStatus: { state: 'CONTAINER_EXITED', exitCode: 137 },
      podsLeft: 0,
    },
    echo: { stdout: 'hi\n', stderr: '', exitCode: 0 },
  };
}

/** RunPodSandbox, Create/StartContainer (busybox `sleep`), ExecSync `echo hi`, Stop/Remove both. */
export async function runPodLifecycle(suite: CriSuite, runtimeHandler: string): Promise<PodLifecycleObservations> {
  const { cri } = suite;
  const name = `smoke-${randomBytes(3).toString('hex')}`;
  const pod = suite.pod(name);
  const podId = await cri.runPodSandbox(pod, runtimeHandler);
  const { status: podStatus, info } = await cri.podSandboxStatus(podId, true);
  const podInfo = JSON.parse(info.info ?? '{}') as Record<string, unknown>;
  const containerId = await cri.createContainer(
    podId,
    containerConfig({
      name: 'sleeper',
      image: suite.fixtures.image,
      command: ['sleep', '3600'],
      logPath: `${name}-sleeper.log`,
    }),
    pod,
  );
  await cri.startContainer(containerId);
  const runningStatus = (await cri.containerStatus(containerId)).status;
  const echo = await cri.execSync(containerId, ['echo', 'hi']);
  // busybox sleep as PID 1 ignores SIGTERM: this also proves the SIGKILL after the timeout.
  await cri.stopContainer(containerId, 2);
  const stoppedStatus = (await cri.containerStatus(containerId)).status;
  await cri.removeContainer(containerId);
  await cri.stopPodSandbox(podId);
  await cri.removePodSandbox(podId);
  const podsLeft = (await cri.listPodSandbox({ id: podId })).length;
  return { podId, containerId, podStatus, podInfo, runningStatus, echo, stoppedStatus, podsLeft };
}
