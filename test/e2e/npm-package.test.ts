// The npm package (issue 12, item 3), installed the way the README tells users to: `npm pack` at the
// repository root, then the README's own commands (Install, Upgrade, Uninstall), run unchanged with npm's
// global prefix pointed at a temporary directory (npm_config_prefix; offline: the tarball is the only
// source). That prefix's bin/ alone provides containerd-shim-tsshim-v2 to a private containerd (dist/ is
// not on its PATH). The upgrade: a second tarball (another build) installed over the first while a
// container of the first runs; both containers work, the old one to the end, and the old build's spare
// daemon declines the new launcher's start and exits (docs/architecture.md §13). Then the README's Logs
// and Error messages sections, checked against what this containerd and shim really print.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachContainerd,
  eventually,
  findSpareDaemons,
  installedBuildDir,
  installedPackageDir,
  isAlive,
  mappedFiles,
  packTarball,
  packageVersion,
  prefixEnv,
  readmeBlock,
  removeContainer,
  repoRoot,
  runScript,
  runtimes,
  shimBinaryName,
  shimIdentity,
  taskRow,
  waitFor,
} from './harness/index.js';
import type { Containerd, ContainerdSuite } from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);
const work = mkdtempSync('/tmp/tsshim-npm-');
const prefix = join(work, 'prefix');
let tarballs: { first: string; second: string } | undefined;

beforeAll(() => {
  tarballs = { first: packTarball(join(work, 'first')), second: packTarball(join(work, 'second')) };
}, 120_000);

/** The README's install commands, run in the tarball's directory against the temporary prefix; their output. */
function readmeInstall(tarball: string): string {
  const block = readmeBlock('### The npm package');
  expect(block).toContain(`./${basename(tarball)}`);
  return runScript(block, dirname(tarball), prefixEnv(prefix));
}
afterAll(() => rmSync(work, { recursive: true, force: true }));

function packed(): { first: string; second: string } {
  if (!tarballs) throw new Error('npm pack failed (see beforeAll)');
  return tarballs;
}

/** The daemon serving container `id`. */
function daemonOf(containerd: Containerd, id: string): number {
  const pids = containerd
    .shims(shimName)
    .filter((p) => shimIdentity(p).id === id)
    .map((p) => p.pid);
  expect(pids, `one daemon should serve ${id}`).toHaveLength(1);
  return pids[0]!;
}

/**
 * True when process `pid` runs the build in `buildDir` (it has that build's addon mapped): by the build's
 * id under the prefix, since npm moves a package it replaces aside (lib/node_modules/.tsshim-*) before it
 * deletes it.
 */
const runsBuild = (pid: number, buildDir: string): boolean =>
  mappedFiles(pid).some(
    (f) =>
      f.startsWith(`${prefix}/lib/node_modules/`) && f.replace(/ \(deleted\)$/, '').endsWith(`/dist/npm/${basename(buildDir)}/tsshim.node`),
  );

async function execKillDelete(suite: ContainerdSuite, id: string): Promise<void> {
  const { containerd } = suite;
  const exec = await containerd.ctr(['task', 'exec', '--exec-id', `${id}-e`, id, 'sh', '-c', `echo exec-in-${id}; exit 4`]);
  expect(exec.stdout).toBe(`exec-in-${id}\n`);
  expect(exec.code).toBe(4);
  await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
  expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
  await containerd.ctrOk(['task', 'delete', id]);
  await containerd.ctrOk(['containers', 'delete', id]);
}

describeEachContainerd(
  'npm package installed with npm install -g',
  (suite) => {
    beforeAll(() => {
      rmSync(prefix, { recursive: true, force: true });
      mkdirSync(prefix, { recursive: true });
      const out = readmeInstall(packed().first);
      expect(out).toMatch(
        new RegExp(`^containerd-shim-tsshim-v2:\n  Version:  ${packageVersion.replace(/\./g, '\\.')}\n  Revision: [0-9a-f]{40}`, 'm'),
      );
    }, 60_000);

    it('the tarball holds only what runs (no sources, no tests, no dependencies); the installed package has no node_modules', () => {
      const entries = execFileSync('tar', ['-tzf', packed().first], { encoding: 'utf8' }).trim().split('\n');
      const outside = entries.filter(
        (e) => !['package/package.json', 'package/README.md', 'package/LICENSE'].includes(e) && !e.startsWith('package/dist/npm/'),
      );
      expect(outside).toEqual([]);
      for (const file of ['containerd-shim-tsshim-v2', 'shim.mjs', 'tsshim.node'])
        expect(entries.some((e) => e.endsWith(`/${file}`))).toBe(true);
      const manifest = JSON.parse(readFileSync(join(installedPackageDir(prefix), 'package.json'), 'utf8')) as { dependencies?: object };
      expect(manifest.dependencies ?? {}).toEqual({});
      expect(existsSync(join(installedPackageDir(prefix), 'node_modules'))).toBe(false);
    });

    it('ctr run --rm through the installed shim: output and exit status come through', async () => {
      const r = await suite.containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        suite.fixtures.image,
        'npm-rm',
        'sh',
        '-c',
        'echo hello-from-npm; exit 3',
      ]);
      expect(r.stdout).toBe('hello-from-npm\n');
      expect(r.code).toBe(3);
    });

    it('run -d, exec, kill, delete; the daemon runs the build under the temporary prefix', async () => {
      const { containerd } = suite;
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'npm-d', 'sleep', '600']);
      try {
        const daemon = daemonOf(containerd, 'npm-d');
        const build = installedBuildDir(prefix);
        expect(build.startsWith(`${prefix}/`)).toBe(true);
        expect(runsBuild(daemon, build), `daemon ${daemon} should have ${build}/tsshim.node mapped`).toBe(true);
        await execKillDelete(suite, 'npm-d');
        expect(await waitFor(() => !isAlive(daemon), 10_000)).toBe(true);
      } catch (e) {
        await removeContainer(containerd, 'npm-d').catch(() => undefined);
        throw e;
      }
    });

    it('upgrade: another build installed over a running container; the new container gets the new build, the old one keeps its own to the end', async () => {
      const { containerd } = suite;
      try {
        const oldBuild = installedBuildDir(prefix);
        await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'npm-old', 'sleep', '600']);
        const oldDaemon = daemonOf(containerd, 'npm-old');
        expect(runsBuild(oldDaemon, oldBuild)).toBe(true);
        // The old build's spare, booted for the next start.
        let oldSpare: number | undefined;
        expect(
          await waitFor(() => {
            oldSpare = findSpareDaemons(containerd.address).find((p) => runsBuild(p.pid, oldBuild))?.pid;
            return oldSpare !== undefined;
          }, 20_000),
          'a spare of the installed build should be up',
        ).toBe(true);

        readmeInstall(packed().second);
        const newBuild = installedBuildDir(prefix);
        expect(newBuild).not.toBe(oldBuild);
        expect(existsSync(oldBuild), 'npm replaced the package: the old build is gone from disk').toBe(false);

        await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'npm-new', 'sleep', '600']);
        const newDaemon = daemonOf(containerd, 'npm-new');
        expect(runsBuild(newDaemon, newBuild)).toBe(true);
        expect(await waitFor(() => !isAlive(oldSpare!), 10_000), 'the old spare exits once the new launcher called it').toBe(true);

        // The old container's daemon still runs the old build (from memory) and serves it to the end.
        expect(isAlive(oldDaemon) && runsBuild(oldDaemon, oldBuild)).toBe(true);
        await execKillDelete(suite, 'npm-old');
        expect(await waitFor(() => !isAlive(oldDaemon), 10_000)).toBe(true);
        await execKillDelete(suite, 'npm-new');
        expect(await waitFor(() => !isAlive(newDaemon), 10_000)).toBe(true);
      } catch (e) {
        await removeContainer(containerd, 'npm-old').catch(() => undefined);
        await removeContainer(containerd, 'npm-new').catch(() => undefined);
        throw e;
      }
    });

    it("README Logs: at containerd's debug level (this config) the installed daemon's request lines reach containerd's log", async () => {
      const { containerd } = suite;
      expect(readmeBlock('## Logs', 'toml')).toBe('[debug]\n  level = "debug"\n');
      expect(readFileSync(containerd.configPath, 'utf8')).toMatch(/^\[debug\]\n {2}level = ["']debug["']$/m);
      const r = await containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'npm-logs', 'true']);
      expect(r.code).toBe(0);
      const lines = containerd
        .logs()
        .split('\n')
        .filter((l) => l.includes('"id":"npm-logs"') && l.includes('"msg":"request"'));
      expect(lines.length, "debug lines of the npm-logs daemon in containerd's log").toBeGreaterThan(0);
    });

    it('README Error messages: exec into a stopped container; the launcher without node', async () => {
      const { containerd } = suite;
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'npm-stopped', 'true']);
      try {
        expect(await eventually(async () => (await taskRow(containerd, 'npm-stopped'))?.status === 'STOPPED', 10_000)).toBe(true);
        const exec = await containerd.ctr(['task', 'exec', '--exec-id', 'late', 'npm-stopped', 'true']);
        expect(exec.code).not.toBe(0);
        expect(exec.stderr).toContain('container npm-stopped is not running: cannot exec in a stopped container');
        expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toContain(
          '| `container ... is not running: cannot exec in a stopped container` |',
        );
        await containerd.ctrOk(['task', 'delete', 'npm-stopped']);
        await containerd.ctrOk(['containers', 'delete', 'npm-stopped']);
      } catch (e) {
        await removeContainer(containerd, 'npm-stopped').catch(() => undefined);
        throw e;
      }
      const noNode = spawnSync(join(prefix, 'bin', shimName), ['-v'], { env: { PATH: '/nonexistent' }, encoding: 'utf8' });
      expect(noNode.stderr).toBe('containerd-shim-tsshim-v2: cannot run node: No such file or directory\n');
      expect(noNode.status).toBe(127);
      expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toContain(
        '| `containerd-shim-tsshim-v2: cannot run node: No such file or directory` |',
      );
    });

    it('README Uninstall: npm uninstall -g removes the shim; the spare of the removed build exits by itself; containerd then reports the shim missing', async () => {
      const { containerd } = suite;
      const spares = findSpareDaemons(containerd.address).map((p) => p.pid);
      expect(spares.length, 'a spare of the installed build is up').toBeGreaterThan(0);
      runScript(readmeBlock('## Uninstall'), prefix, prefixEnv(prefix));
      expect(existsSync(join(prefix, 'bin', shimName))).toBe(false);
      expect(existsSync(installedPackageDir(prefix))).toBe(false);
      expect(await waitFor(() => spares.every((pid) => !isAlive(pid)), 15_000), 'spares exit once their build is gone').toBe(true);
      const r = await containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'npm-gone', 'true']);
      expect(r.code).not.toBe(0);
      // Never found: "executable file not found in $PATH"; found before (some versions remember the path): fork/exec fails.
      const missing = new RegExp(
        `exec: "${shimName}": executable file not found in \\$PATH|fork/exec ${prefix}/bin/${shimName}: no such file or directory`,
      );
      expect(r.stderr).toMatch(missing);
      const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
      expect(readme).toContain(`| \`exec: "${shimName}": executable file not found in $PATH\` |`);
      expect(readme).toContain(`| \`fork/exec /usr/local/bin/${shimName}: no such file or directory\` |`);
      await removeContainer(containerd, 'npm-gone').catch(() => undefined);
    });
  },
  { pathPrefix: [join(prefix, 'bin')], noDist: true },
);
