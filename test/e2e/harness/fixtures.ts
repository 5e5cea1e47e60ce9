// The busybox rootfs and OCI image archive built (and cached) by fixtures/build.sh.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureDepsHint, repoRoot } from './paths.js';

export interface Fixtures {
  /** A busybox root filesystem; shared by everyone, so copy it (copyRootfs) before writing into it. */
  rootfs: string;
  /** OCI image layout archive for `ctr image import`. */
  imageArchive: string;
  /** docker.io/library/busybox:tsshim (Cmd ["sh"]). */
  image: string;
  /** registry.k8s.io/pause:tsshim: sleeps until SIGTERM/SIGINT (CRI sandbox image). */
  pauseImage: string;
  busyboxVersion: string;
  /** e.g. linux/amd64 */
  platform: string;
}

function isFixtures(v: unknown): v is Fixtures {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return ['rootfs', 'imageArchive', 'image', 'pauseImage', 'busyboxVersion', 'platform'].every((k) => typeof r[k] === 'string');
}

let cached: Fixtures | undefined;

/** Builds the fixtures on first use (about 1 s), then returns the cached paths (a few ms). */
export function loadFixtures(): Fixtures {
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync('bash', [join(repoRoot, 'fixtures/build.sh')], {
      encoding: 'utf8',
      timeout: 120_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = (e as { stderr?: unknown }).stderr;
    throw new Error(`fixtures/build.sh failed (${ensureDepsHint}): ${typeof stderr === 'string' ? stderr : String(e)}`);
  }
  const parsed: unknown = JSON.parse(out);
  if (!isFixtures(parsed)) throw new Error(`fixtures/build.sh printed an unexpected description: ${out}`);
  cached = parsed;
  return parsed;
}

const execFileAsync = promisify(execFile);

/** A private, writable copy of the busybox rootfs at `dest` (which must not exist yet). */
export async function copyRootfs(dest: string): Promise<string> {
  await execFileAsync('cp', ['-a', '--', loadFixtures().rootfs, dest]);
  return dest;
}
