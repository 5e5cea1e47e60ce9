// A private containerd for the bench: the e2e harness's, but logging at info level. The harness's
// config says level "debug", and containerd then starts every shim with -debug (more logging in both
// shims, which is not what production runs); containerd's --log-level flag overrides the config.
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Containerd } from '../test/e2e/harness/containerd.js';
import { assertPrivateRunContainerd } from '../test/e2e/harness/isolation.js';
import { shimBinaryName } from '../test/e2e/harness/paths.js';
import { seaRuntime } from './runtimes.js';
import { seaBinary } from './versions.js';
import { findContainerd } from '../test/e2e/harness/versions.js';
import type { ContainerdVersion } from '../test/e2e/harness/versions.js';

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export async function startBenchContainerd(version: ContainerdVersion, namespace: string): Promise<Containerd> {
  const binaries = findContainerd(version);
  assertPrivateRunContainerd();
  const tempDir = await mkdtemp('/tmp/tsshim-bench-');
  const wrapper = join(tempDir, 'containerd-info');
  await writeFile(wrapper, `#!/bin/sh\nexec ${shellQuote(binaries.containerd)} --log-level info "$@"\n`);
  await chmod(wrapper, 0o755);
  // The single executable as a runtime of its own (seaRuntime), beside the launcher's io.containerd.tsshim.v2.
  const seaDir = join(tempDir, 'sea-bin');
  await mkdir(seaDir);
  await symlink(seaBinary, join(seaDir, shimBinaryName(seaRuntime.name)));
  const opts = { version, namespace, pathPrefix: [seaDir] };
  const containerd = new Containerd({ ...binaries, containerd: wrapper }, tempDir, opts);
  try {
    await containerd.launch(opts);
  } catch (e) {
    await containerd.stop();
    throw e;
  }
  return containerd;
}
