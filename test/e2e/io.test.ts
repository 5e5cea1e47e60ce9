// Issue #3: output is never lost, readers may come and go, and log URIs (file://, binary://).
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachContainerd, eventually, listProcesses, removeContainer, runtimes, taskRow, until, waitFor } from './harness/index.js';

const runtime = runtimes.tsshim;

/** A logging binary like containerd's runtime/v2/logging helpers: fds 3/4 in, fd 5 ready. */
const loggerScript = (dir: string) => `#!/bin/sh
env > ${dir}/env
echo "$@" > ${dir}/args
cat <&3 > ${dir}/stdout &
cat <&4 > ${dir}/stderr &
echo ready >&5
exec 5>&-
trap 'echo term > ${dir}/signal; exit 0' TERM
wait
`;

describeEachContainerd('stdio through tsshim', (suite) => {
  it('10 MiB written just before exit all reach ctr', async () => {
    const r = await suite.containerd.ctr(
      [
        'run',
        '--rm',
        '--runtime',
        runtime,
        suite.fixtures.image,
        'big1',
        'sh',
        '-c',
        'head -c 10485760 /dev/zero | tr "\\\\000" x; echo; echo end',
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(10 * 1024 * 1024 + '\nend\n'.length);
    expect(r.stdout.endsWith('x\nend\n')).toBe(true);
  });

  it('a reader that goes away does not stop the container; a later `ctr task attach` sees new output', async () => {
    const { containerd } = suite;
    const first = containerd.spawnCtr([
      'run',
      '--runtime',
      runtime,
      suite.fixtures.image,
      'att1',
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo tick-$i; echo $i > /tmp/ticks; sleep 0.2; done',
    ]);
    await first.waitForOutput(/tick-3/);
    // The loop also counts its ticks in a file, read through the init's root, to see it go on without a reader.
    const init = (await taskRow(containerd, 'att1'))!.pid;
    const ticks = (): number => {
      try {
        return Number(readFileSync(`/proc/${init}/root/tmp/ticks`, 'utf8')) || 0;
      } catch {
        return 0;
      }
    };
    first.kill('SIGKILL'); // the attached client dies
    await first.exited;
    // Tick seen + 2 is echoed after this read: the shell wrote to stdout with the client gone and lived on.
    let seen = 0;
    await until(() => {
      seen = ticks();
      return seen > 0;
    }, 'the tick count (0 while the shell rewrites the file)');
    await until(() => ticks() >= seen + 2, 'two more ticks after the client died');
    const tasks = await containerd.ctrOk(['task', 'ls']);
    expect(tasks).toMatch(/att1\s+\d+\s+RUNNING/);
    const attach = containerd.spawnCtr(['task', 'attach', 'att1']);
    const before = Number(/tick-(\d+)/.exec(first.stdout().trim().split('\n').at(-1) ?? '')?.[1] ?? 0);
    const [, n] = await attach.waitForOutput(/tick-(\d+)\n[\s\S]*tick-\d+\n/);
    expect(Number(n)).toBeGreaterThan(before);
    await attach.stop();
    await removeContainer(containerd, 'att1');
  });

  it('--log-uri file:// appends stdout and stderr to the file', async () => {
    const dir = await mkdtemp('/tmp/tsshim-log-');
    try {
      const file = join(dir, 'sub', 'out.log');
      const r = await suite.containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        '--log-uri',
        `file://${file}`,
        suite.fixtures.image,
        'flog1',
        'sh',
        '-c',
        'echo line-out; echo line-err >&2',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const text = await readFile(file, 'utf8');
      expect(text.split('\n').sort()).toEqual(['', 'line-err', 'line-out']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--log-uri binary:// runs the logging binary with fds 3/4/5 and the container env, and stops it at the end', async () => {
    const dir = await mkdtemp('/tmp/tsshim-blog-');
    try {
      const bin = join(dir, 'logger.sh');
      await writeFile(bin, loggerScript(dir));
      await chmod(bin, 0o755);
      const r = await suite.containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        '--log-uri',
        `binary://${bin}?mode=test`,
        suite.fixtures.image,
        'blog1',
        'sh',
        '-c',
        'echo to-out; echo to-err >&2',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(await eventually(async () => (await readFile(join(dir, 'stdout'), 'utf8').catch(() => '')) === 'to-out\n', 10_000)).toBe(true);
      expect(await readFile(join(dir, 'stderr'), 'utf8')).toBe('to-err\n');
      const env = (await readFile(join(dir, 'env'), 'utf8')).split('\n');
      expect(env).toContain('CONTAINER_ID=blog1');
      expect(env).toContain(`CONTAINER_NAMESPACE=${suite.containerd.namespace}`);
      expect((await readFile(join(dir, 'args'), 'utf8')).trim()).toBe('mode test');
      // Nothing of the logger outlives the container.
      expect(await waitFor(() => !listProcesses().some((p) => p.cmdline.join(' ').includes(bin)), 15_000)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unknown log URI scheme is refused with a message naming the scheme', async () => {
    const r = await suite.containerd.ctr([
      'run',
      '--rm',
      '--runtime',
      runtime,
      '--log-uri',
      'gopher://x/y',
      suite.fixtures.image,
      'bad1',
      'true',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/gopher/);
    await suite.containerd.ctr(['containers', 'delete', 'bad1']);
  });
});
