// Issue #4: runtime options reach runc (containerd.runc.v1.Options), passed the way clients do:
// CreateTaskRequest.options through containerd's gRPC Tasks API (ctr cannot set them for a
// non-runc runtime name).
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { RuncOptionsType, packAny } from '../../src/api/index.js';
import type { containerd as api } from '../../src/api/index.js';
import { ContainerdClient } from './clients/containerd.js';
import {
  copyRootfs,
  describeEachContainerd,
  eventually,
  isAlive,
  recordingRunc,
  removeContainer,
  runtimes,
  shimBinaryName,
  shimIdentity,
  waitFor,
} from './harness/index.js';
import type { ContainerdSuite } from './harness/index.js';

const runtime = process.env.TSSHIM_E2E_RUNTIME ?? runtimes.tsshim;

function runcOptions(options: api.runc.v1.IOptions): { typeUrl: string; value: Buffer } {
  const any = packAny(RuncOptionsType, options);
  return { typeUrl: any.type_url ?? '', value: Buffer.from(any.value ?? []) };
}

interface OptionHelpers {
  grpc(): ContainerdClient;
  /** ctr creates the container from its own rootfs copy, `script` as its /run.sh (no arguments for
   * ctr to misparse); the task is created over gRPC with the runc `options`. */
  createTask(id: string, options: api.runc.v1.IOptions, script: string, stdout?: string): Promise<number>;
  finish(id: string): Promise<void>;
}

function helpersFor(suite: ContainerdSuite): OptionHelpers {
  let client: ContainerdClient | undefined;
  afterAll(() => client?.close());
  const grpc = (): ContainerdClient => (client ??= new ContainerdClient(suite.containerd.address));
  return {
    grpc,
    async createTask(id, options, script, stdout = '') {
      const { containerd } = suite;
      const rootfs = await copyRootfs(join(containerd.tempDir, `rootfs-${id}`));
      await writeFile(join(rootfs, 'run.sh'), `#!/bin/sh\n${script}\n`);
      await chmod(join(rootfs, 'run.sh'), 0o755);
      await containerd.ctrOk(['containers', 'create', '--runtime', runtime, '--rootfs', rootfs, id, '/run.sh']);
      return grpc().create(containerd.namespace, id, { options: runcOptions(options), stdout, stderr: stdout });
    },
    async finish(id) {
      // SIGKILL (if it still runs), delete once it has stopped, then the container.
      await removeContainer(suite.containerd, id);
    },
  };
}

describeEachContainerd('runtime options through tsshim', (suite: ContainerdSuite) => {
  const { grpc, createTask, finish } = helpersFor(suite);

  it('root, no_pivot_root and no_new_keyring reach runc, and `delete` after a shim crash uses the same binary and root', async () => {
    const { containerd } = suite;
    const recorder = recordingRunc(containerd.tempDir, 'runc-opt1');
    const root = join('/run/containerd', 'tsshim-test-root');
    await createTask('opt1', { binaryName: recorder.path, root, noPivotRoot: true, noNewKeyring: true }, 'exec sleep 600');
    await grpc().start(containerd.namespace, 'opt1');
    const create = recorder.calls().find((l) => / create /.test(l));
    expect(create).toContain(`--root ${root}/${containerd.namespace}`);
    expect(create).toContain('--no-pivot');
    expect(create).toContain('--no-new-keyring');
    expect(existsSync(join(root, containerd.namespace, 'opt1', 'state.json'))).toBe(true);

    const shim = containerd.shims(shimBinaryName(runtime)).find((s) => shimIdentity(s).id === 'opt1')!;
    process.kill(shim.pid, 'SIGKILL');
    expect(await waitFor(() => !isAlive(shim.pid), 10_000)).toBe(true);
    // containerd runs `<shim> delete`, which reads the persisted options.
    await waitFor(() => recorder.calls().some((l) => / delete --force opt1$/.test(l)), 15_000, 100);
    expect(recorder.calls().find((l) => / delete --force opt1$/.test(l))).toContain(`--root ${root}/${containerd.namespace}`);
    await containerd.ctr(['task', 'delete', 'opt1']);
    await containerd.ctrOk(['containers', 'delete', 'opt1']);
  });

  it("systemd_cgroup passes --systemd-cgroup to runc; runc's own error comes back when systemd is not there", async () => {
    const { containerd } = suite;
    const recorder = recordingRunc(containerd.tempDir, 'runc-sd1');
    const created = createTask('sd1', { binaryName: recorder.path, systemdCgroup: true }, 'exec sleep 600');
    // No systemd on this machine: runc fails, and says why.
    await expect(created).rejects.toThrow(/OCI runtime create failed/);
    const create = recorder.calls().find((l) => / create /.test(l));
    expect(create).toMatch(/^--root \S+ --log \S+ --log-format json --systemd-cgroup create /);
    await containerd.ctr(['containers', 'delete', 'sd1']);
  });

  it('shim_cgroup moves the shim daemon into that cgroup in `start` (the options Any on stdin)', async () => {
    const { containerd } = suite;
    const name = `tsshim-e2e-shimcg-${process.pid}-${containerd.version.replace('.', '')}`;
    // Every cgroup v1 hierarchy (the Go shim wants the group in each), or the one v2 tree.
    const roots = existsSync('/sys/fs/cgroup/cgroup.controllers')
      ? ['/sys/fs/cgroup']
      : readdirSync('/sys/fs/cgroup', { withFileTypes: true })
          .filter((e) => e.isDirectory() && e.name !== 'unified' && existsSync(join('/sys/fs/cgroup', e.name, 'cgroup.procs')))
          .map((e) => join('/sys/fs/cgroup', e.name));
    const dirs = roots.map((root) => join(root, name));
    for (const dir of dirs) {
      mkdirSync(dir);
      // A new v1 cpuset group has no CPUs or memory nodes, and no process can join it until it has.
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        const parent = join(dir, '..', file);
        if (existsSync(parent)) writeFileSync(join(dir, file), readFileSync(parent));
      }
    }
    try {
      await createTask('shimcg1', { shimCgroup: `/${name}` }, 'exec sleep 600');
      const shim = containerd.shims(shimBinaryName(runtime)).find((s) => shimIdentity(s).id === 'shimcg1')!;
      expect(readFileSync(`/proc/${shim.pid}/cgroup`, 'utf8')).toMatch(new RegExp(`:/${name}$`, 'm'));
      expect(readFileSync(join(dirs[0]!, 'cgroup.procs'), 'utf8')).toContain(String(shim.pid));
      await finish('shimcg1');
      expect(await waitFor(() => !isAlive(shim.pid), 10_000)).toBe(true);
    } finally {
      // Best effort: after a failure the shim may still be inside (the suite's cleanup kills it).
      for (const dir of dirs)
        try {
          rmdirSync(dir);
        } catch {
          /* busy */
        }
    }
  });

  // What the shim itself does with io_uid/io_gid (chown the pipes) is checked in
  // test/integration/stdio-owner.test.ts; runc 1.1 re-owns a user-namespaced container's stdio
  // by itself, so the difference cannot be seen from inside here.
  it('io_uid/io_gid (sent by `ctr run --uidmap` as containerd.linux.runc.CreateOptions, and over gRPC as runc options): a user-namespaced container writes to /dev/stdout', async () => {
    const { containerd } = suite;
    const ns = containerd.namespace;
    // ctr can make a user-namespaced container only with `run`; its task is then replaced by one
    // created over gRPC with the options. Reopening /dev/stdout needs the pipe to be owned by
    // the container's root, which is what io_uid/io_gid are for (runc cannot chown it from inside).
    async function userNamespaced(id: string): Promise<void> {
      const rootfs = await copyRootfs(join(containerd.tempDir, `rootfs-${id}`));
      await writeFile(
        join(rootfs, 'run.sh'),
        '#!/bin/sh\necho "pipe-group-inside=$(stat -L -c %g /proc/self/fd/1)"\necho reopened > /dev/stdout\n',
      );
      await chmod(join(rootfs, 'run.sh'), 0o755);
      await containerd.ctrOk([
        'run',
        '-d',
        '--runtime',
        runtime,
        '--uidmap',
        '0:1000:65536',
        '--gidmap',
        '0:1000:65536',
        '--rootfs',
        rootfs,
        id,
        '/run.sh',
      ]);
      expect(await eventually(async () => (await grpc().get(ns, id)).status === 'STOPPED', 10_000)).toBe(true);
      await containerd.ctrOk(['task', 'delete', id]);
    }
    const owned = join(containerd.tempDir, 'io-owned.log');
    await writeFile(owned, ''); // the Go shim needs the file to exist; tsshim creates it
    await userNamespaced('uid1');
    await grpc().create(ns, 'uid1', { options: runcOptions({ ioUid: 1000, ioGid: 1000 }), stdout: owned, stderr: owned });
    await grpc().start(ns, 'uid1');
    expect((await grpc().wait(ns, 'uid1')).exitStatus, await readFile(owned, 'utf8')).toBe(0);
    expect(await readFile(owned, 'utf8')).toBe('pipe-group-inside=0\nreopened\n');
    await finish('uid1');
  });
});

// crun refuses this host's hybrid cgroup layout (so does it under the Go shim): its containerd
// runs with the cgroup v2 hierarchy hidden. bookworm's crun 1.8.1 also refuses the newer OCI spec
// version that containerd 1.7 and 2.x write ("unknown version specified"), so this runs on 1.6.
describeEachContainerd(
  'binary_name through tsshim',
  (suite: ContainerdSuite) => {
    const { grpc, createTask, finish } = helpersFor(suite);

    it('binary_name runs the container with crun', async () => {
      const ns = suite.containerd.namespace;
      await createTask('crun1', { binaryName: 'crun' }, 'exec sleep 600');
      await grpc().start(ns, 'crun1');
      expect((await grpc().get(ns, 'crun1')).status).toBe('RUNNING');
      // crun keeps its own state layout under the runtime root (runc writes state.json instead).
      const state = join('/run/containerd/runc', ns, 'crun1');
      expect(readdirSync(state)).toContain('status');
      expect(existsSync(join(state, 'state.json'))).toBe(false);
      await finish('crun1');
    });
  },
  { hideUnifiedCgroup: true, onlyVersions: ['1.6'] },
);
