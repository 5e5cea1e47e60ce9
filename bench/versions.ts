// The versions a bench run used, printed under the table.
import { existsSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, release } from 'node:os';
import { join } from 'node:path';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import { runCommand } from '../test/e2e/harness/exec.js';
import { distDir, tsshimBinary } from '../test/e2e/harness/paths.js';

/** The single executable (scripts/build-sea.mjs). */
export const seaBinary = join(distDir, 'sea', 'containerd-shim-tsshim-v2');

async function firstLine(file: string, args: readonly string[]): Promise<string> {
  try {
    const r = await runCommand(file, args, { timeoutMs: 10_000 });
    const text = `${r.stdout}${r.stderr}`.trim();
    return (
      text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .slice(0, 2)
        .join(' ') || `exit ${r.code}`
    );
  } catch (e) {
    return `unavailable (${(e as Error).message})`;
  }
}

export function goShimBinary(containerd: Containerd): string {
  return join(containerd.binaries.binDir, 'containerd-shim-runc-v2');
}

/** Timings here are only comparable between runs on a quiet host; say how quiet it was. */
export function describeLoad(): string {
  return `${availableParallelism()} CPUs, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export async function describeVersions(containerd: Containerd): Promise<string[]> {
  return [
    `containerd ${containerd.fullVersion} (${containerd.binaries.binDir})`,
    `tsshim: ${await firstLine(tsshimBinary, ['-v'])}, node ${process.version}` +
      (existsSync(seaBinary) ? `; SEA ${(statSync(seaBinary).size / 2 ** 20).toFixed(1)} MiB` : ''),
    `Go shim: ${await firstLine(goShimBinary(containerd), ['-v'])}`,
    `runc: ${await firstLine('runc', ['--version'])}`,
    `kernel ${release()}`,
  ];
}
