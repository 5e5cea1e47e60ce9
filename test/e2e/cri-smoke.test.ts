// The CRI test client and the harness's CRI set-up, proven with the Go shim (handler `runc` =
// io.containerd.runc.v2): host-network pod, busybox container, ExecSync, stop and removal.
import { expect, it } from 'vitest';
import { containerConfig } from './clients/cri.js';
import { describeEachCri } from './harness/cri.js';
import { runPodLifecycle } from './harness/cri-scenario.js';

describeEachCri('CRI client (Go shim handler runc)', (suite) => {
  it('answers Version and lists the fixture images', async () => {
    const version = await suite.cri.version();
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toMatch(/^v1/);
    const tags = (await suite.cri.listImages()).flatMap((i) => i.repoTags);
    expect(tags).toEqual(expect.arrayContaining([suite.fixtures.image, suite.fixtures.pauseImage]));
  });

  it('runs a host-network pod with a busybox container, ExecSync, then stops and removes both', async () => {
    const seen = await runPodLifecycle(suite, 'runc');
    expect(seen.podStatus.state).toBe('SANDBOX_READY');
    expect(seen.podStatus.linux?.namespaces?.options?.network).toBe('NODE');
    expect(seen.podInfo['runtimeType']).toBe('io.containerd.runc.v2');
    expect(seen.runningStatus.state).toBe('CONTAINER_RUNNING');
    expect(seen.echo).toEqual({ stdout: 'hi\n', stderr: '', exitCode: 0 });
    expect(seen.stoppedStatus.state).toBe('CONTAINER_EXITED');
    expect(seen.stoppedStatus.exitCode).toBe(137);
    expect(seen.podsLeft).toBe(0);
  });

  it('ExecSync reports a non-zero exit code and stderr', async () => {
    const pod = suite.pod('exitcode');
    const podId = await suite.cri.runPodSandbox(pod, 'runc');
    const id = await suite.cri.createContainer(podId, containerConfig({ name: 'c', image: suite.fixtures.image, command: ['sleep', '3600'] }), pod);
    await suite.cri.startContainer(id);
    expect(await suite.cri.execSync(id, ['sh', '-c', 'echo oops >&2; exit 3'])).toEqual({ stdout: '', stderr: 'oops\n', exitCode: 3 });
    await suite.cri.stopPodSandbox(podId);
    await suite.cri.removePodSandbox(podId);
  });
});
