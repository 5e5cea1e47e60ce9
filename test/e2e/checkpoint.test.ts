// Issue #4: checkpoint and restore through tsshim with a real CRIU (trixie's 4.1.1, set up by
// scripts/criu.sh because bookworm's 3.17 fails `criu check` on this kernel).
import { existsSync, readFileSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import {
  CheckpointOptionsType,
  LinuxRuncCheckpointOptionsType,
  LinuxRuncCreateOptionsType,
  RuncOptionsType,
  packAny,
} from '../../src/api/index.js';
import type { AnyMessage as ShimAny } from '../../src/api/index.js';
import { ContainerdClient } from './clients/containerd.js';
import type { AnyMessage } from './clients/containerd.js';
import { copyRootfs, criuDir, describeEachContainerd, eventually, removeContainer, runtimes } from './harness/index.js';
import type { Containerd, ContainerdVersion } from './harness/index.js';

const runtime = process.env.TSSHIM_E2E_RUNTIME ?? runtimes.tsshim;

function criuStatus(): string {
  const check = join(criuDir, '..', 'CHECK');
  if (!existsSync(join(criuDir, 'criu'))) return 'criu is not installed: run scripts/ensure-deps.sh';
  return readFileSync(check, 'utf8').trim();
}

/** A counter in /count, one line of 8 digits, rewritten in place every 0.1 s. */
const counterLoop = 'i=0; while true; do i=$((i+1)); printf "%08d\\n" $i 1<> /count; sleep 0.1; done';

/** The end of CRIU's restore log named in a failed restore's message: why it failed. */
async function restoreLogTail(message: string): Promise<string> {
  const log = /log file: (\S+restore\.log)/.exec(message)?.[1];
  if (!log) return '';
  const text = await readFile(log, 'utf8').catch((err: Error) => `(cannot read ${log}: ${err.message})`);
  return text.split('\n').slice(-40).join('\n');
}

async function counter(containerd: Containerd, id: string, execId: string): Promise<number> {
  const out = await containerd.ctrOk(['task', 'exec', '--exec-id', execId, id, 'cat', '/count']);
  return Number(out.trim());
}

describeEachContainerd('checkpoint and restore through tsshim', (suite) => {
  it('checkpoints a running counter and restores it into a new container that continues counting', async () => {
    // Not a skip: a CRIU that does not work here is a failure that says so.
    expect(criuStatus(), `CRIU is unusable on this kernel: ${criuStatus()}`).toBe('Looks good');
    const { containerd } = suite;
    await containerd.ctrOk([
      'run',
      '-d',
      '--runtime',
      runtime,
      suite.fixtures.image,
      'cp1',
      // Overwritten in place at a fixed width (`1<>`: no truncation): a reader never finds it empty,
      // and a dump that catches the shell with it open restores it (CRIU reopens open files by path
      // and checks their size; a renamed-away or resized file fails the restore).
      'sh',
      '-c',
      counterLoop,
    ]);
    expect(await eventually(async () => (await counter(containerd, 'cp1', 'c0')) > 5, 10_000)).toBe(true);
    const dumped = await containerd.ctr(['containers', 'checkpoint', '--task', '--rw', 'cp1', 'checkpoint/cp1:1'], { timeoutMs: 60_000 });
    // On failure, show CRIU's own log (its path is in the error).
    const dumpLog = /(\/\S+criu-dump\.log)/.exec(dumped.stderr)?.[1];
    expect(
      dumped.code,
      `${dumped.stderr}\n${
        dumpLog && existsSync(dumpLog)
          ? readFileSync(dumpLog, 'utf8')
              .split('\n')
              .filter((l) => /Error|error/.test(l))
              .join('\n')
          : ''
      }`,
    ).toBe(0);
    const atCheckpoint = await counter(containerd, 'cp1', 'c1');
    // The original keeps running (leave-running is the default of a checkpoint with the task).
    expect(await eventually(async () => (await counter(containerd, 'cp1', 'c2')) > atCheckpoint, 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'cp1']);
    await eventually(async () => (await containerd.ctr(['task', 'delete', 'cp1'])).code === 0, 10_000);
    await containerd.ctrOk(['containers', 'delete', 'cp1']);

    await containerd.ctrOk(['containers', 'restore', '--live', '--rw', 'cp2', 'checkpoint/cp1:1'], { timeoutMs: 60_000 });
    const ls = await containerd.ctrOk(['task', 'ls']);
    expect(ls).toMatch(/cp2\s+\d+\s+RUNNING/);
    // Restored from memory: the count goes on from where the checkpoint caught it, never from 1.
    const first = await counter(containerd, 'cp2', 'r1');
    expect(first).toBeGreaterThanOrEqual(atCheckpoint - 1);
    expect(await eventually(async () => (await counter(containerd, 'cp2', 'r2')) > first, 10_000)).toBe(true);
    await containerd.ctrOk(['task', 'kill', '-s', 'SIGKILL', 'cp2']);
    await eventually(async () => (await containerd.ctr(['task', 'delete', 'cp2'])).code === 0, 10_000);
    await containerd.ctrOk(['containers', 'delete', 'cp2']);
    await containerd.ctr(['images', 'rm', 'checkpoint/cp1:1']);
  });
});

function wireAny(any: ShimAny): AnyMessage {
  return { typeUrl: any.type_url ?? '', value: Buffer.from(any.value ?? []) };
}

/**
 * The options containerd's client library sends for WithCheckpointImagePath/WithRestoreImagePath to a
 * runtime not named io.containerd.runc.*: the legacy containerd.linux.runc types up to 1.7 (whose
 * checkpoint image_path and work_path swap field numbers), containerd.runc.v1 from 2.0 on.
 */
function clientOptions(version: ContainerdVersion, imagePath: string, workPath: string): { checkpoint: AnyMessage; restore: AnyMessage } {
  const legacy = version === '1.6' || version === '1.7';
  return legacy
    ? {
        checkpoint: wireAny(packAny(LinuxRuncCheckpointOptionsType, { imagePath, workPath })),
        restore: wireAny(packAny(LinuxRuncCreateOptionsType, { criuImagePath: imagePath })),
      }
    : {
        checkpoint: wireAny(packAny(CheckpointOptionsType, { imagePath, workPath })),
        restore: wireAny(packAny(RuncOptionsType, { criuImagePath: imagePath })),
      };
}

describeEachContainerd('checkpoint to an image path and restore from it through tsshim', (suite) => {
  let client: ContainerdClient | undefined;
  const grpc = (): ContainerdClient => (client ??= new ContainerdClient(suite.containerd.address));
  afterAll(() => client?.close());

  it("writes the images to the client's image path (work files to its work path) and restores a new container from it", async () => {
    expect(criuStatus(), `CRIU is unusable on this kernel: ${criuStatus()}`).toBe('Looks good');
    const { containerd, version } = suite;
    const ns = containerd.namespace;
    const imagePath = join(containerd.tempDir, 'cp-image');
    const workPath = join(containerd.tempDir, 'cp-work');
    const options = clientOptions(version, imagePath, workPath);
    // Both containers run from this one directory, so the restored process finds its files.
    const rootfs = await copyRootfs(join(containerd.tempDir, 'rootfs-cp-path'));
    const countFile = join(rootfs, 'count');
    const count = async (): Promise<number> => Number((await readFile(countFile, 'utf8').catch(() => '')).trim() || 0);
    await writeFile(join(rootfs, 'run.sh'), `#!/bin/sh\n${counterLoop}\n`);
    await chmod(join(rootfs, 'run.sh'), 0o755);

    await containerd.ctrOk(['containers', 'create', '--runtime', runtime, '--rootfs', rootfs, 'cpp1', '/run.sh']);
    await grpc().create(ns, 'cpp1');
    await grpc().start(ns, 'cpp1');
    expect(await eventually(async () => (await count()) > 20, 20_000)).toBe(true);
    const beforeCheckpoint = await count();
    const written = await grpc().checkpoint(ns, 'cpp1', options.checkpoint);
    // 2.x writes nothing to its content store when the runtime wrote to an image path; 1.6/1.7 archive
    // the (empty) temporary directory they passed as CheckpointTaskRequest.path.
    if (version === '2.1') expect(written).toEqual([]);
    expect(existsSync(join(imagePath, 'inventory.img')), `no CRIU images in ${imagePath}`).toBe(true);
    expect(existsSync(join(workPath, 'dump.log')), `no CRIU dump log in ${workPath}`).toBe(true);
    await removeContainer(containerd, 'cpp1');

    // A fresh start would count from 1 again; the restored process goes on from its checkpoint.
    await writeFile(countFile, `${'0'.padStart(8, '0')}\n`); // the size the dump saw: CRIU checks it
    await containerd.ctrOk(['containers', 'create', '--runtime', runtime, '--rootfs', rootfs, 'cpp2', '/run.sh']);
    await grpc().create(ns, 'cpp2', { options: options.restore });
    await grpc()
      .start(ns, 'cpp2')
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await restoreLogTail(err.message)}`);
      });
    expect((await grpc().get(ns, 'cpp2')).status).toBe('RUNNING');
    expect(await eventually(async () => (await count()) > 0, 10_000, 20)).toBe(true);
    expect(await count()).toBeGreaterThanOrEqual(beforeCheckpoint);
    await removeContainer(containerd, 'cpp2');
  });
});
