// Where the harness finds the repository, the shim under test and the cached downloads.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The directory of dist/containerd-shim-tsshim-v2 (first on containerd's PATH). */
export const distDir = join(repoRoot, 'dist');
export const tsshimBinary = join(distDir, 'containerd-shim-tsshim-v2');
/** Same default as scripts/ensure-deps.sh and fixtures/build.sh. */
export const cacheDir = process.env.TSSHIM_CACHE ?? '/var/cache/tsshim';
/** The `criu` wrapper scripts/criu.sh installs. */
export const criuDir = join(cacheDir, 'criu-trixie', 'bin');
export const ensureDepsHint = 'run scripts/ensure-deps.sh (as root) to install it';

export const runtimes = {
  tsshim: 'io.containerd.tsshim.v2',
  runc: 'io.containerd.runc.v2',
} as const;

/** io.containerd.runc.v2 -> containerd-shim-runc-v2 (containerd's rule for runtime names). */
export function shimBinaryName(runtime: string): string {
  const parts = runtime.split('.');
  if (parts.length < 2) throw new Error(`not a shim runtime name: ${runtime}`);
  return `containerd-shim-${parts[parts.length - 2]}-${parts[parts.length - 1]}`;
}
