// A private containerd for the bench: the e2e harness's, but logging at info level. The harness's
// config says level "debug", and containerd then starts every shim with -debug (more logging in both
// shims, which is not what production runs); containerd's --log-level flag overrides the config.
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Containerd } from '../test/e2e/harness/containerd.js';
import { assertPrivateRunContainerd } from '../test/e2e/harness/isolation.js';
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
  const opts = { version, namespace };
  const containerd = new Containerd({ ...binaries, containerd: wrapper }, tempDir, opts);
  try {
    await containerd.launch(opts);
  } catch (e) {
    await containerd.stop();
    throw e;
  }
  return containerd;
}
