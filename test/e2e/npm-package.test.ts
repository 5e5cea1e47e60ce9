// The npm package (issue 12, item 3), installed the way users install it: `npm pack` at the repository
// root, `npm install -g <tarball>` into a temporary prefix (offline: the tarball is the only source),
// and that prefix's bin/ alone provides containerd-shim-tsshim-v2 to a private containerd (dist/ is not
// on its PATH). Then an upgrade: a second tarball (another build) installed over the first while a
// container of the first runs; both containers work, the old one to the end, and the old build's spare
// daemon declines the new launcher's start and exits (docs/architecture.md §13).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachContainerd, eventually, findSpareDaemons, installTarball, installedBuildDir, installedPackageDir, isAlive, mappedFiles,
  packTarball, removeContainer, runtimes, shimBinaryName, shimIdentity, taskRow, waitFor,
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
afterAll(() => rmSync(work, { recursive: true, force: true }));

function packed(): { first: string; second: string } {
  if (!tarballs) throw new Error('npm pack failed (see beforeAll)');
  return tarballs;
}

/** The daemon serving container `id`. */
function daemonOf(containerd: Containerd, id: string): number {
  const pids = containerd.shims(shimName).filter((p) => shimIdentity(p).id === id).map((p) => p.pid);
  expect(pids, `one daemon should serve ${id}`).toHaveLength(1);
  return pids[0]!;
}

/**
 * True when process `pid` runs the build in `buildDir` (it has that build's addon mapped): by the build's
 * id under the prefix, since npm moves a package it replaces aside (lib/node_modules/.tsshim-*) before it
 * deletes it.
 */
const runsBuild = (pid: number, buildDir: string): boolean => mappedFiles(pid).some((f) =>
  f.startsWith(`${prefix}/lib/node_modules/`) && f.replace(/ \(deleted\)$/, '').endsWith(`/dist/npm/${basename(buildDir)}/tsshim.node`));

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

describeEachContainerd('npm package installed with npm install -g', (suite) => {
  beforeAll(() => {
    rmSync(prefix, { recursive: true, force: true });
    mkdirSync(prefix, { recursive: true });
    installTarball(prefix, packed().first);
  }, 60_000);

  it('the tarball holds only what runs (no sources, no tests, no dependencies); the installed package has no node_modules', () => {
    const entries = execFileSync('tar', ['-tzf', packed().first], { encoding: 'utf8' }).trim().split('\n');
    const outside = entries.filter((e) => !['package/package.json', 'package/README.md', 'package/LICENSE'].includes(e) && !e.startsWith('package/dist/npm/'));
    expect(outside).toEqual([]);
    for (const file of ['containerd-shim-tsshim-v2', 'shim.mjs', 'tsshim.node']) expect(entries.some((e) => e.endsWith(`/${file}`))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(installedPackageDir(prefix), 'package.json'), 'utf8')) as { dependencies?: object };
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(existsSync(join(installedPackageDir(prefix), 'node_modules'))).toBe(false);
  });

  it('ctr run --rm through the installed shim: output and exit status come through', async () => {
    const r = await suite.containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'npm-rm', 'sh', '-c', 'echo hello-from-npm; exit 3']);
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
      expect(await waitFor(() => {
        oldSpare = findSpareDaemons(containerd.address).find((p) => runsBuild(p.pid, oldBuild))?.pid;
        return oldSpare !== undefined;
      }, 20_000), 'a spare of the installed build should be up').toBe(true);

      installTarball(prefix, packed().second);
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
}, { pathPrefix: [join(prefix, 'bin')], noDist: true });
