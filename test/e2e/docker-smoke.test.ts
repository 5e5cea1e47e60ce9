// The Docker harness (Debian trixie's dockerd on a private containerd) proven with the Go shim, selected
// the way tsshim will be: a daemon.json runtime with runtimeType io.containerd.runc.v2.
import { expect, it } from 'vitest';
import { describeEachDocker } from './harness/docker-suite.js';

const goShim = 'goshim';

describeEachDocker(
  'Docker (Go shim runtime)',
  (suite) => {
    it('docker info lists the configured runtime and a cgroupfs overlay2 daemon on this containerd', async () => {
      const info = JSON.parse(await suite.docker.dockerOk(['info', '--format', '{{json .}}'])) as Record<string, unknown>;
      expect(Object.keys(info.Runtimes as Record<string, unknown>)).toContain(goShim);
      expect(info.Driver).toBe('overlay2');
      expect(info.CgroupDriver).toBe('cgroupfs');
    });

    it('docker run --rm prints the output and returns the exit code', async () => {
      const { docker, image } = suite;
      expect(await docker.dockerOk(['run', '--rm', '--runtime', goShim, '--network', 'none', image, 'echo', 'hi'])).toBe('hi\n');
      const failed = await docker.docker(['run', '--rm', '--runtime', goShim, '--network', 'none', image, 'sh', '-c', 'exit 7']);
      expect(failed.code).toBe(7);
    });

    it('the container runs through containerd in namespace moby with the configured shim', async () => {
      const { docker, containerd, image } = suite;
      const id = (await docker.dockerOk(['run', '-d', '--runtime', goShim, '--network', 'none', image, 'sleep', '300'])).trim();
      const info = await containerd.ctrOk(['containers', 'info', id], { namespace: 'moby' });
      expect(JSON.parse(info)).toMatchObject({ Runtime: { Name: 'io.containerd.runc.v2' } });
      expect(await docker.dockerOk(['exec', id, 'echo', 'from exec'])).toBe('from exec\n');
      await docker.dockerOk(['rm', '-f', id]);
    });
  },
  { docker: { runtimes: { [goShim]: { runtimeType: 'io.containerd.runc.v2' } } } },
);
