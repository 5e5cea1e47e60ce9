// The single executable (dist/sea/containerd-shim-tsshim-v2, scripts/build-sea.mjs) under containerd:
// dist/sea is first on containerd's PATH, so io.containerd.tsshim.v2 resolves to it.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeEachContainerd, distDir, eventually, removeContainer, runtimes, shimIdentity, taskRow } from './harness/index.js';
import type { Containerd, ContainerdSuite } from './harness/index.js';
import { daemonNodeFlags } from '../../src/shim/daemon-env.js';

const seaDir = join(distDir, 'sea');
const seaBinary = join(seaDir, 'containerd-shim-tsshim-v2');
const runtime = runtimes.tsshim;
/** Where the executable extracts its addon when run as root (src/cmd/sea-addon.ts). */
const addonDir = '/run/containerd/tsshim';

function requireSea(): void {
  if (!existsSync(seaBinary)) throw new Error(`${seaBinary} is missing: run npm run build (it runs scripts/build-sea.mjs)`);
}

/** The shim processes serving container `id` (start and delete have exited by the time ctr returns). */
function shimPidsFor(containerd: Containerd, id: string): number[] {
  return containerd
    .shims()
    .filter((p) => shimIdentity(p).id === id)
    .map((p) => p.pid);
}

function environ(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .filter(Boolean)
    .map((kv): [string, string] => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]);
  return new Map(entries);
}

/** run -d, exec, kill, delete; checks that the daemon is the single executable (`onRunning` checks more). */
async function detachedLifecycle(suite: ContainerdSuite, id: string, onRunning?: (shimPid: number) => void): Promise<void> {
  const { containerd } = suite;
  await containerd.ctrOk(['run', '-d', '--runtime', runtime, suite.fixtures.image, id, 'sleep', '600']);
  try {
    expect((await taskRow(containerd, id))?.status).toBe('RUNNING');
    const shims = shimPidsFor(containerd, id);
    expect(shims).toHaveLength(1);
    const shimPid = shims[0]!;
    expect(readlinkSync(`/proc/${shimPid}/exe`)).toBe(seaBinary);
    onRunning?.(shimPid);

    const exec = await containerd.ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo exec-out; exit 5']);
    expect(exec.stdout).toContain('exec-out');
    expect(exec.code).toBe(5);

    // SIGKILL: sleep as the container's pid 1 has no SIGTERM handler, so the kernel would not deliver SIGTERM.
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', id]);
    expect(await eventually(async () => (await taskRow(containerd, id))?.status === 'STOPPED', 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'delete', id]);
    await containerd.ctrOk(['containers', 'delete', id]);
    // The shim exits with its last container.
    expect(await eventually(async () => shimPidsFor(containerd, id).length === 0, 10_000)).toBe(true);
  } catch (e) {
    await removeContainer(containerd, id).catch(() => undefined);
    throw e;
  }
}

describeEachContainerd(
  'single executable',
  (suite) => {
    it('ctr run --rm: output and exit status come through', async () => {
      requireSea();
      const r = await suite.containerd.ctr([
        'run',
        '--rm',
        '--runtime',
        runtime,
        suite.fixtures.image,
        'sea-rm',
        'sh',
        '-c',
        'echo hello-from-sea; exit 3',
      ]);
      expect(r.stdout).toContain('hello-from-sea');
      expect(r.code).toBe(3);
      expect(shimPidsFor(suite.containerd, 'sea-rm')).toEqual([]);
    });

    it('run -d, exec, kill, delete; the shim daemon is the executable itself and loads the extracted addon', async () => {
      requireSea();
      await detachedLifecycle(suite, 'sea-d', (shimPid) => {
        // No node or launcher in between: the daemon's argv[0] is the shim's name, its image the SEA.
        expect(readFileSync(`/proc/${shimPid}/cmdline`, 'utf8').split('\0')[0]).toBe('containerd-shim-tsshim-v2');
        const addons = readdirSync(addonDir).filter((f) => /^addon-[0-9a-f]{64}\.node$/.test(f));
        expect(addons.length).toBeGreaterThan(0);
        const maps = readFileSync(`/proc/${shimPid}/maps`, 'utf8');
        expect(addons.some((f) => maps.includes(join(addonDir, f)))).toBe(true);
      });
    });
  },
  { pathPrefix: [seaDir] },
);

// A Node 20 single executable applies NODE_OPTIONS itself (the launcher unsets it before Node starts):
// with V8 flags there, start must still print only its address, and the daemon run with start's own flags.
const foreignNodeOptions = '--max-old-space-size=100 --stack-trace-limit=7';
// Only a readable bundle: with a path Node cannot load, Node itself prints a warning before any of our
// code runs, which containerd would read as part of start's output (a known limit of the executable).
const caBundle = '/etc/ssl/certs/ca-certificates.crt';
const caCertsEnv: Record<string, string> = existsSync(caBundle) ? { NODE_EXTRA_CA_CERTS: caBundle } : {};
describeEachContainerd(
  'single executable under a containerd whose environment has NODE_OPTIONS',
  (suite) => {
    it("start ignores them; the daemon gets start's NODE_OPTIONS, not containerd's", async () => {
      requireSea();
      const r = await suite.containerd.ctr(['run', '--rm', '--runtime', runtime, suite.fixtures.image, 'sea-opts-rm', 'echo', 'ok-opts']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('ok-opts');
      expect(r.code).toBe(0);
      await detachedLifecycle(suite, 'sea-opts-d', (shimPid) => {
        const env = environ(shimPid);
        expect(env.get('NODE_OPTIONS')).toBe(daemonNodeFlags.join(' '));
        expect(env.has('NODE_EXTRA_CA_CERTS')).toBe(false);
      });
    });
  },
  { pathPrefix: [seaDir], env: { NODE_OPTIONS: foreignNodeOptions, ...caCertsEnv } },
);
