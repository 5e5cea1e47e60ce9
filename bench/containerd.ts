// A private containerd for the bench: the e2e harness's, but logging at info level, in a cgroup of its own
// (bench/cpu.ts), with the single executable as a runtime of its own. The harness's config says level
// "debug", and containerd then starts every shim with -debug (more logging in both shims, which is not
// what production runs); containerd's --log-level flag overrides the config.
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Containerd } from '../test/e2e/harness/containerd.js';
import { shellQuote } from '../test/e2e/harness/exec.js';
import { assertPrivateRunContainerd } from '../test/e2e/harness/isolation.js';
import { shimBinaryName } from '../test/e2e/harness/paths.js';
import { findContainerd } from '../test/e2e/harness/versions.js';
import type { ContainerdVersion } from '../test/e2e/harness/versions.js';
import { CpuAccount } from './cpu.js';
import { seaRuntimeName } from './runtimes.js';
import { seaBinary } from './versions.js';

export interface BenchContainerd {
  containerd: Containerd;
  cpu: CpuAccount;
  /** Stops containerd (and what is left of its shims), then removes its cgroup. */
  stop(): Promise<string[]>;
}

/**
 * `env` goes into containerd's environment and so into every shim's: TSSHIM_SPARES=0 for the cold path,
 * TSSHIM_SHIM_SHARING=namespace for a containerd-wide shared mode.
 */
export async function startBenchContainerd(
  version: ContainerdVersion,
  namespace: string,
  env: Record<string, string> = {},
): Promise<BenchContainerd> {
  const binaries = findContainerd(version);
  assertPrivateRunContainerd();
  const tempDir = await mkdtemp('/tmp/tsshim-bench-');
  const cpu = CpuAccount.create(tempDir.split('/').pop() ?? `tsshim-bench-${process.pid}`);
  const wrapper = join(tempDir, 'containerd-info');
  await writeFile(
    wrapper,
    `#!/bin/sh\necho $$ > ${shellQuote(cpu.procsFile)}\nexec ${shellQuote(binaries.containerd)} --log-level info "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  // The single executable as a runtime of its own (--sea), beside the launcher's io.containerd.tsshim.v2.
  const seaDir = join(tempDir, 'sea-bin');
  await mkdir(seaDir);
  await symlink(seaBinary, join(seaDir, shimBinaryName(seaRuntimeName)));
  const opts = { version, namespace, pathPrefix: [seaDir], env };
  const containerd = new Containerd({ ...binaries, containerd: wrapper }, tempDir, opts);
  const stop = async (): Promise<string[]> => {
    const report = await containerd.stop();
    if (report.killed.length > 0) process.stderr.write(`bench: cleanup killed leftover processes: ${report.killed.join(', ')}\n`);
    const removed = cpu.remove();
    return removed === undefined ? report.problems : [...report.problems, removed];
  };
  try {
    await containerd.launch(opts);
  } catch (e) {
    await stop();
    throw e;
  }
  return { containerd, cpu, stop };
}
