// Issue #5 item 3: Docker's path to tsshim (docker CLI -> dockerd -> containerd -> tsshim -> runc).
// dockerd reads docs/daemon.json exactly as the README shows it (runtime "tsshim" of runtimeType
// io.containerd.tsshim.v2) and runs every container here with --runtime tsshim --network none.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cgroupDir, describeEachDocker, docsDir, readProcessStat, runtimes, shimBinaryName } from './harness/index.js';
import type { DockerSuite } from './harness/index.js';

/** The file users paste into /etc/docker/daemon.json. */
const daemonJsonFile = join(docsDir, 'daemon.json');
const runtimeName = 'tsshim';

/** Every container of this file: the tsshim runtime, no network (dockerd runs without a bridge). */
const runFlags = ['--runtime', runtimeName, '--network', 'none'] as const;

/** `docker run -d` of a busybox command; returns the container id. */
async function runDetached(suite: DockerSuite, command: string[], flags: string[] = []): Promise<string> {
  return (await suite.docker.dockerOk(['run', '-d', ...runFlags, ...flags, suite.image, ...command])).trim();
}

async function inspect(suite: DockerSuite, id: string, format: string): Promise<string> {
  return (await suite.docker.dockerOk(['inspect', '--format', format, id])).trim();
}

async function waitForLogs(suite: DockerSuite, id: string, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await suite.docker.docker(['logs', id]);
    if (pattern.test(r.stdout)) return r.stdout;
    if (Date.now() > deadline)
      throw new Error(`docker logs ${id} did not show ${pattern} within ${timeoutMs} ms: ${JSON.stringify(r.stdout)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describeEachDocker(
  'Docker through tsshim',
  (suite) => {
    it('docker info lists the runtime from docs/daemon.json', async () => {
      // docker info names the runtime but does not print its runtimeType (ctr shows it in the next test).
      const info = JSON.parse(await suite.docker.dockerOk(['info', '--format', '{{json .Runtimes}}'])) as Record<string, unknown>;
      expect(Object.keys(info)).toContain(runtimeName);
      expect(suite.docker.configFile).toBe(daemonJsonFile);
    });

    it('docker run --rm prints the output and returns the exit code; containerd runs it with io.containerd.tsshim.v2', async () => {
      const { docker, image } = suite;
      expect(await docker.dockerOk(['run', '--rm', ...runFlags, image, 'echo', 'hi'])).toBe('hi\n');
      const failed = await docker.docker(['run', '--rm', ...runFlags, image, 'sh', '-c', 'echo bad >&2; exit 7']);
      expect(failed).toMatchObject({ code: 7, stdout: '', stderr: 'bad\n' });

      const id = await runDetached(suite, ['sleep', '300']);
      const info = JSON.parse(await suite.containerd.ctrOk(['containers', 'info', id], { namespace: 'moby' })) as {
        Runtime: { Name: string };
      };
      expect(info.Runtime.Name).toBe(runtimes.tsshim);
      // ... and its init is a child of a tsshim daemon.
      const pid = Number(await inspect(suite, id, '{{.State.Pid}}'));
      expect(suite.containerd.shims(shimBinaryName(runtimes.tsshim)).map((s) => s.pid)).toContain(readProcessStat(pid)?.ppid);
      await docker.dockerOk(['rm', '-f', id]);
    });

    it('docker run -i passes stdin; -it runs the container on a terminal', async () => {
      const { docker, image } = suite;
      expect(
        await docker.dockerOk(['run', '--rm', '-i', ...runFlags, image, 'sh', '-c', 'cat; echo done'], { input: 'hello\nworld\n' }),
      ).toBe('hello\nworld\ndone\n');
      const onPty = await docker.dockerOnPty(
        ['run', '--rm', '-it', ...runFlags, image, 'sh', '-c', 'read line; echo "got $line"; tty; exit 5'],
        { input: 'typed\n' },
      );
      expect(onPty.code).toBe(5);
      expect(onPty.stdout).toMatch(/got typed\r\n\/dev\/pts\/\d+\r\n/);
    });

    it('docker exec runs commands, with -t on a terminal and -u as another user', async () => {
      const { docker } = suite;
      const id = await runDetached(suite, ['sleep', '300']);
      expect(await docker.dockerOk(['exec', id, 'sh', '-c', 'echo from exec; cat /proc/1/cmdline'])).toBe(
        'from exec\nsleep\u0000300\u0000',
      );
      expect((await docker.docker(['exec', id, 'sh', '-c', 'exit 4'])).code).toBe(4);
      expect(await docker.dockerOk(['exec', '-t', id, 'tty'])).toMatch(/^\/dev\/pts\/\d+\r\n$/);
      expect(await docker.dockerOk(['exec', '-u', '1000', id, 'id', '-u'])).toBe('1000\n');
      expect(await docker.dockerOk(['exec', '-u', '1000:1000', id, 'sh', '-c', 'id -u; id -g'])).toBe('1000\n1000\n');
      const interactive = await docker.dockerOnPty(['exec', '-it', id, 'sh', '-c', 'read x; echo "exec got $x"'], { input: 'abc\n' });
      expect(interactive.code).toBe(0);
      expect(interactive.stdout).toMatch(/exec got abc\r\n/);
      await docker.dockerOk(['rm', '-f', id]);
    });

    it('docker logs, top and stats --no-stream', async () => {
      const { docker } = suite;
      const id = await runDetached(suite, ['sh', '-c', 'echo to stdout; echo to stderr >&2; exec sleep 300']);
      await waitForLogs(suite, id, /to stdout/);
      const logs = await docker.docker(['logs', id]);
      expect(logs).toMatchObject({ code: 0, stdout: 'to stdout\n', stderr: 'to stderr\n' });

      const top = await docker.dockerOk(['top', id]);
      expect(top).toMatch(/^UID\s+PID\s+PPID/);
      expect(top).toMatch(/sleep 300/);

      const stats = JSON.parse(await docker.dockerOk(['stats', '--no-stream', '--format', '{{json .}}', id])) as Record<string, string>;
      expect(stats.ID).toBe(id.slice(0, 12));
      expect(stats.PIDs).toBe('1');
      // "1.2MiB / 23.5GiB": a usage read from the cgroup and a limit, not Docker's "0B / 0B" for no data.
      expect(stats.MemUsage).toMatch(/^[\d.]+[KMG]?i?B \/ [\d.]+[KMG]i?B$/);
      expect(stats.MemUsage).not.toMatch(/^0B/);
      expect(stats.CPUPerc).toMatch(/^[\d.]+%$/);
      await docker.dockerOk(['rm', '-f', id]);
    });

    it('docker pause freezes the container and unpause thaws it', async () => {
      const { docker } = suite;
      const id = await runDetached(suite, ['sleep', '300']);
      const pid = Number(await inspect(suite, id, '{{.State.Pid}}'));
      const freezer = join(cgroupDir(pid, 'freezer'), 'freezer.state');
      await docker.dockerOk(['pause', id]);
      expect(await inspect(suite, id, '{{.State.Status}}')).toBe('paused');
      expect(readFileSync(freezer, 'utf8').trim()).toBe('FROZEN');
      await docker.dockerOk(['unpause', id]);
      expect(await inspect(suite, id, '{{.State.Status}}')).toBe('running');
      expect(readFileSync(freezer, 'utf8').trim()).toBe('THAWED');
      expect(await docker.dockerOk(['exec', id, 'echo', 'awake'])).toBe('awake\n');
      await docker.dockerOk(['rm', '-f', id]);
    });

    it('docker update --memory sets the limit in the container cgroup', async () => {
      const { docker } = suite;
      // --memory 32m implies a memory+swap limit of 64m; Docker refuses a new --memory above that.
      const id = await runDetached(suite, ['sleep', '300'], ['--memory', '32m']);
      const pid = Number(await inspect(suite, id, '{{.State.Pid}}'));
      const limit = join(cgroupDir(pid, 'memory'), 'memory.limit_in_bytes');
      expect(readFileSync(limit, 'utf8').trim()).toBe(String(32 << 20));
      await docker.dockerOk(['update', '--memory', '48m', id]);
      expect(readFileSync(limit, 'utf8').trim()).toBe(String(48 << 20));
      expect(await inspect(suite, id, '{{.HostConfig.Memory}}')).toBe(String(48 << 20));
      await docker.dockerOk(['rm', '-f', id]);
    });

    it('docker stop ends a SIGTERM trap by its exit code; start runs it again; kill; rm', async () => {
      const { docker, containerd } = suite;
      const id = await runDetached(suite, ['sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo ready; while true; do sleep 1; done']);
      await waitForLogs(suite, id, /ready/);
      const firstPid = Number(await inspect(suite, id, '{{.State.Pid}}'));
      // A generous timeout: the trap, not the SIGKILL after it, must end the container.
      await docker.dockerOk(['stop', '--time', '30', id]);
      expect(await inspect(suite, id, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 42');
      expect(await docker.dockerOk(['logs', id])).toBe('ready\ngot TERM\n');

      await docker.dockerOk(['start', id]);
      expect(await inspect(suite, id, '{{.State.Status}}')).toBe('running');
      const secondPid = Number(await inspect(suite, id, '{{.State.Pid}}'));
      expect(secondPid).not.toBe(firstPid);
      await waitForLogs(suite, id, /got TERM\nready\n/);
      expect(await docker.dockerOk(['exec', id, 'echo', 'second run'])).toBe('second run\n');

      await docker.dockerOk(['kill', id]);
      expect(await docker.dockerOk(['wait', id])).toBe('137\n');
      expect(await inspect(suite, id, '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 137');

      await docker.dockerOk(['rm', id]);
      expect((await docker.docker(['inspect', id])).code).not.toBe(0);
      const left = await containerd.ctrOk(['containers', 'ls', '-q'], { namespace: 'moby' });
      expect(left.split('\n')).not.toContain(id);
    });
  },
  { docker: { configFile: daemonJsonFile } },
);
