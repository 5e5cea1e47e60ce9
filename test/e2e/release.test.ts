// The release archive (issue 12, item 4): `npm run release`, then the README's own commands for it
// (unpack, check SHA256SUMS, install into /usr/local/bin, -v; then its uninstall), run unchanged in a
// private mount namespace whose /usr/local/bin is an empty tmpfs, so nothing on the host changes. The
// unpacked executable alone then provides the shim to a private containerd (dist/ is not on its PATH).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeEachContainerd,
  eventually,
  packageVersion,
  readmeBlock,
  releaseArchive,
  removeContainer,
  runtimes,
  shimBinaryName,
  shimIdentity,
  distDir,
  isAlive,
  taskRow,
  waitFor,
} from './harness/index.js';

const runtime = runtimes.tsshim;
const shimName = shimBinaryName(runtime);
const work = mkdtempSync('/tmp/tsshim-release-');
const name = `tsshim-${packageVersion}-linux-${process.arch}`;
const unpacked = join(work, name);
let archive: string | undefined;
let readmeOutput = '';

beforeAll(() => {
  archive = releaseArchive(work);
  // The README's install and uninstall commands, as a user runs them, with a throwaway /usr/local/bin.
  const script = `${readmeBlock('### The release archive')}test -x /usr/local/bin/${shimName}\n${readmeBlock('## Uninstall', 'sh', 1)}test ! -e /usr/local/bin/${shimName}\n`;
  readmeOutput = execFileSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-ec',
      'mount -t tmpfs tsshim-readme /usr/local/bin && exec sh -ec "$1"',
      'sh',
      script,
    ],
    {
      cwd: dirname(archive),
      encoding: 'utf8',
      env: { ...process.env, PATH: `/usr/local/bin:${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function made(): string {
  if (!archive) throw new Error('npm run release or the README commands failed (see beforeAll)');
  return archive;
}

describeEachContainerd(
  'release archive',
  (suite) => {
    it('holds the executable, LICENSE, README, the docs snippets and SHA256SUMS; the README commands verify and install it', () => {
      const entries = execFileSync('tar', ['-tzf', made()], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(entries).toEqual(
        [
          `${name}/`,
          `${name}/LICENSE`,
          `${name}/README.md`,
          `${name}/SHA256SUMS`,
          `${name}/containerd-shim-tsshim-v2`,
          `${name}/docs/`,
          ...['containerd-1.x.toml', 'containerd-2.x.toml', 'ctr-run.sh', 'daemon.json', 'runtimeclass.yaml'].map(
            (f) => `${name}/docs/${f}`,
          ),
        ].sort(),
      );
      expect(readFileSync(join(unpacked, 'SHA256SUMS'), 'utf8').trim().split('\n')).toHaveLength(8);
      expect(readmeOutput).toContain('containerd-shim-tsshim-v2: OK\n');
      expect(readmeOutput).toMatch(
        new RegExp(`containerd-shim-tsshim-v2:\\n  Version:  ${packageVersion.replace(/\./g, '\\.')}\\n  Revision: [0-9a-f]{40}`),
      );
    });

    it("ctr run --rm with the unpacked executable alone on containerd's PATH: output and exit status", async () => {
      made();
      const r = await suite.containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        suite.fixtures.image,
        'rel-rm',
        'sh',
        '-c',
        'echo hello-from-release; exit 3',
      ]);
      expect(r.stdout).toBe('hello-from-release\n');
      expect(r.code).toBe(3);
    });

    it('run -d, exec, kill, delete; the daemon is the unpacked executable; upgraded under it (README: `install` of the new file), it serves on', async () => {
      made();
      const { containerd } = suite;
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, 'rel-d', 'sleep', '600']);
      try {
        const pids = containerd
          .shims(shimName)
          .filter((p) => shimIdentity(p).id === 'rel-d')
          .map((p) => p.pid);
        expect(pids).toHaveLength(1);
        expect(readlinkSync(`/proc/${pids[0]!}/exe`)).toBe(join(unpacked, shimName));
        // An upgrade as the README has it: `install` puts a new file in place (the old one is unlinked, not
        // overwritten), so the running daemon keeps its executable and new containers get the new one.
        execFileSync('install', ['-m', '0755', join(distDir, 'sea', shimName), join(unpacked, shimName)]);
        expect(readlinkSync(`/proc/${pids[0]!}/exe`)).toBe(`${join(unpacked, shimName)} (deleted)`);
        const fresh = await containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'rel-new', 'echo', 'new-build']);
        expect(fresh.stdout).toBe('new-build\n');
        expect(fresh.code).toBe(0);
        const exec = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', 'rel-d', 'sh', '-c', 'echo exec-out; exit 5']);
        expect(exec.stdout).toBe('exec-out\n');
        expect(exec.code).toBe(5);
        await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'rel-d']);
        expect(await eventually(async () => (await taskRow(containerd, 'rel-d'))?.status === 'STOPPED', 10_000)).toBe(true);
        await containerd.ctrOk(['task', 'delete', 'rel-d']);
        await containerd.ctrOk(['containers', 'delete', 'rel-d']);
        expect(await waitFor(() => !isAlive(pids[0]!), 10_000)).toBe(true);
      } catch (e) {
        await removeContainer(containerd, 'rel-d').catch(() => undefined);
        throw e;
      }
    });
  },
  { pathPrefix: [unpacked], noDist: true },
);
