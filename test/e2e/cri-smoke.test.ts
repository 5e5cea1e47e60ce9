// The CRI test client and the harness's CRI set-up, proven with the Go shim (handler `runc` =
// io.containerd.runc.v2): host-network pod, busybox container, ExecSync, stop and removal.
import { expect, it } from 'vitest';
import { containerConfig } from './clients/cri.js';
import { describeEachCri } from './harness/cri.js';
import { healthyPodLifecycle, runPodLifecycle } from './harness/cri-scenario.js';

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
    const healthy = healthyPodLifecycle('io.containerd.runc.v2');
    expect(seen).toMatchObject(healthy.partial);
    expect(seen.echo).toEqual(healthy.echo);
  });

  it('ExecSync reports a non-zero exit code and stderr', async () => {
    const pod = suite.pod('exitcode');
    const podId = await suite.cri.runPodSandbox(pod, 'runc');
    const id = await suite.cri.createContainer(
      podId,
      containerConfig({ name: 'c', image: suite.fixtures.image, command: ['sleep', '3600'] }),
      pod,
    );
    await suite.cri.startContainer(id);
    expect(await suite.cri.execSync(id, ['sh', '-c', 'echo oops >&2; exit 3'])).toEqual({ stdout: '', stderr: 'oops\n', exitCode: 3 });
    await suite.cri.stopPodSandbox(podId);
    await suite.cri.removePodSandbox(podId);
  });
});
