// The shim binaries on their own: `-v`; `start` as containerd runs it (bundle dir as cwd, the
// containerd's addresses), then the first ttrpc answer from the daemon `start` spawned (to Connect; a
// Shutdown then makes the idle daemon exit); then `delete`, as containerd runs it after every shim exit.
import { closeSync, constants, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { formatCommand, runCommand } from '../test/e2e/harness/exec.js';
import { isAlive, waitFor } from '../test/e2e/harness/procs.js';
import { Code, TtrpcClient, TtrpcError, socketPathFromAddress } from 'ttrpc-ts';
import { shimProcesses } from './processes.js';
import type { RuntimeTag } from './report.js';
import { BenchStepError, runtimeOrder } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface ShimStartSamples {
  version: number[];
  start: number[];
  /** From spawning `start` to the daemon's first ttrpc answer. */
  startToFirstReply: number[];
  /** The `delete` action, which containerd runs whenever a shim's connection closes. */
  delete: number[];
}

const namespaceOf = (runtime: Runtime): string => (runtime.tag === 'shared' ? 'bench-start-shared' : 'bench-start');

function shimEnv(containerd: Containerd, runtime: Runtime): NodeJS.ProcessEnv {
  // What containerd gives a shim it starts (its own environment plus these).
  return {
    ...process.env,
    PATH: containerd.path,
    TTRPC_ADDRESS: containerd.ttrpcAddress,
    GRPC_ADDRESS: containerd.address,
    NAMESPACE: namespaceOf(runtime),
    ...runtime.binaryEnv,
  };
}

/** `unix:///...` as printed by a v2 shim, or the address inside a 2.x bootstrap JSON. */
function parseStartOutput(stdout: string): string {
  const text = stdout.trim();
  if (!text.startsWith('{')) return text;
  const parsed: unknown = JSON.parse(text);
  const address = (parsed as { address?: unknown }).address;
  if (typeof address !== 'string') throw new BenchStepError(`start printed JSON without an address: ${text}`);
  return address;
}

async function makeBundle(dir: string): Promise<number> {
  await mkdir(join(dir, 'rootfs'), { recursive: true });
  // Both shims read the spec in `start` (for the grouping annotations); nothing else in it is used.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations: {} }));
  // The Go shim's `delete` reads the runc binary name that its Create records here.
  writeFileSync(join(dir, 'runtime'), 'runc');
  const mk = await runCommand('mkfifo', [join(dir, 'log')]);
  if (mk.code !== 0) throw new BenchStepError(`mkfifo ${join(dir, 'log')}: ${mk.stderr}`);
  // containerd holds the log FIFO's read end; so do we (never read: the few lines fit in the pipe).
  return openSync(join(dir, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
}

const answered = (e: unknown): boolean =>
  // An error status is an answer too; a closed connection or a timeout is not.
  e instanceof TtrpcError && e.code !== Code.Unavailable && e.code !== Code.DeadlineExceeded;

/**
 * Asks the daemon for Connect (any answer, an error status included, shows it serves) and returns when the
 * answer came; then sends Shutdown, untimed, which ends an idle daemon (the Go shim may close the
 * connection before its answer to Shutdown is written, so that answer is not waited for).
 */
async function firstReply(address: string): Promise<number> {
  const client = await TtrpcClient.connect(address, { connectTimeoutMs: 5_000 });
  try {
    await client.call('containerd.task.v2.Task', 'Connect', new Uint8Array(), { timeoutMs: 5_000 }).catch((e: unknown) => {
      if (!answered(e)) throw e;
    });
    const at = performance.now();
    await client.call('containerd.task.v2.Task', 'Shutdown', new Uint8Array(), { timeoutMs: 5_000 }).catch(() => undefined);
    return at;
  } finally {
    await client.close();
  }
}

/** The daemon started for `id` (an adopted spare or a shared daemon carries no -id of ours: Shutdown ends those). */
function daemonPids(containerd: Containerd, id: string): number[] {
  return shimProcesses(containerd.address)
    .filter((p) => p.role === 'daemon' && p.cmdline.includes('-id') && p.cmdline[p.cmdline.indexOf('-id') + 1] === id)
    .map((p) => p.pid);
}

async function stopDaemon(containerd: Containerd, id: string, socket: string | undefined): Promise<void> {
  const pids = (): number[] => daemonPids(containerd, id);
  if (!(await waitFor(() => pids().length === 0, 3_000))) {
    for (const pid of pids()) process.kill(pid, 'SIGKILL');
    await waitFor(() => pids().every((pid) => !isAlive(pid)), 3_000);
  }
  if (socket !== undefined) {
    try {
      unlinkSync(socket);
    } catch {
      // the shim removed it on Shutdown
    }
  }
}

function shimArgs(containerd: Containerd, runtime: Runtime, id: string, action: 'start' | 'delete'): string[] {
  return [
    '-namespace',
    namespaceOf(runtime),
    '-address',
    containerd.address,
    '-publish-binary',
    containerd.binaries.containerd,
    '-id',
    id,
    action,
  ];
}

/** `delete` of a container runc never knew (both shims then answer with a 137 exit). */
async function deleteOnce(containerd: Containerd, runtime: Runtime, id: string, bundle: string): Promise<number> {
  const binary = runtime.binary;
  const args = shimArgs(containerd, runtime, id, 'delete');
  const t0 = performance.now();
  const r = await runCommand(binary, args, { cwd: bundle, env: shimEnv(containerd, runtime), timeoutMs: 30_000 });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new BenchStepError(`${formatCommand(binary, args)} failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
  return ms;
}

async function startOnce(containerd: Containerd, runtime: Runtime, i: number, into: ShimStartSamples, record: boolean): Promise<void> {
  const binary = runtime.binary;
  const id = `bench-start-${runtime.tag}-${i}`;
  // The directory is named after the id, as containerd's bundles are (the Go shim's delete relies on it).
  const bundle = join(containerd.tempDir, 'start-bundles', id);
  const logFd = await makeBundle(bundle);
  let socket: string | undefined;
  try {
    const args = shimArgs(containerd, runtime, id, 'start');
    const t0 = performance.now();
    const r = await runCommand(binary, args, { cwd: bundle, env: shimEnv(containerd, runtime), timeoutMs: 30_000 });
    const tStart = performance.now();
    if (r.code !== 0)
      throw new BenchStepError(`${formatCommand(binary, args)} failed (exit ${r.code ?? r.signal}): ${r.stdout}${r.stderr}`);
    const address = parseStartOutput(r.stdout);
    socket = socketPathFromAddress(address);
    const tReply = await firstReply(address).catch((e: unknown) => {
      throw new BenchStepError(`${runtime.tag} shim ${id}: no answer from the daemon at ${address}: ${(e as Error).message}`);
    });
    await stopDaemon(containerd, id, socket);
    const deleteMs = await deleteOnce(containerd, runtime, id, bundle);
    if (record) {
      into.start.push(tStart - t0);
      into.startToFirstReply.push(tReply - t0);
      into.delete.push(deleteMs);
    }
  } finally {
    await stopDaemon(containerd, id, socket);
    closeSync(logFd);
    await rm(bundle, { recursive: true, force: true });
  }
}

async function versionOnce(binary: string, into: ShimStartSamples, record: boolean): Promise<void> {
  const t0 = performance.now();
  const r = await runCommand(binary, ['-v']);
  if (r.code !== 0) throw new BenchStepError(`${binary} -v failed: ${r.stderr}`);
  if (record) into.version.push(performance.now() - t0);
}

/** A failed iteration is reported through `onError` and leaves no sample; the others still count. */
export async function measureShimStart(
  containerd: Containerd,
  runtimes: readonly Runtime[],
  iterations: number,
  warmup: number,
  onError: (message: string) => void,
): Promise<Partial<Record<RuntimeTag, ShimStartSamples>>> {
  const result: Partial<Record<RuntimeTag, ShimStartSamples>> = {};
  for (const r of runtimes) result[r.tag] = { version: [], start: [], startToFirstReply: [], delete: [] };
  for (let i = 0; i < iterations; i++) {
    for (const runtime of runtimeOrder(runtimes, i)) {
      const into = result[runtime.tag]!;
      try {
        await versionOnce(runtime.binary, into, i >= warmup);
        await startOnce(containerd, runtime, i, into, i >= warmup);
      } catch (e) {
        if (!(e instanceof BenchStepError)) throw e;
        onError(`shim binaries alone (${runtime.tag}, iteration ${i + 1}): ${e.message}`);
      }
    }
  }
  return result;
}
