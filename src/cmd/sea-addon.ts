// The single executable carries the native addon as an asset; process.dlopen needs a file. It is
// written once to a file named after its SHA-256 (computed at build time), so every later start
// costs one stat, and executables of different builds never load each other's addon.
import { existsSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The extraction directory cannot be trusted (not ours, or writable by others). */
class AddonDirError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`cannot use ${dir} for the tsshim addon: ${reason}`);
    this.name = 'AddonDirError';
  }
}

/**
 * root: /run/containerd/tsshim (tmpfs, root-only, beside containerd's own state). Anyone else: a
 * per-user directory under the temp dir.
 */
function defaultAddonDir(uid: number = process.getuid?.() ?? -1): string {
  return uid === 0 ? '/run/containerd/tsshim' : join(tmpdir(), `tsshim-${uid}`);
}

/** Creates `dir` (0700) and refuses one that another user owns or could write into. */
function ensurePrivateDir(dir: string, uid: number): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new AddonDirError(dir, 'not a directory');
  if (uid >= 0 && st.uid !== uid) throw new AddonDirError(dir, `owned by uid ${st.uid}, not ${uid}`);
  if ((st.mode & 0o022) !== 0) throw new AddonDirError(dir, `mode ${(st.mode & 0o777).toString(8)} lets others write`);
}

/**
 * Path of the addon whose content hashes to `sha256`, writing `bytes()` there first if it is
 * missing (temp name + rename, so a concurrent start never dlopens a half-written file).
 */
export function extractAddon(sha256: string, bytes: () => Uint8Array, dir: string = defaultAddonDir()): string {
  const path = join(dir, `addon-${sha256}.node`);
  if (existsSync(path)) return path;
  ensurePrivateDir(dir, process.getuid?.() ?? -1);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, bytes(), { mode: 0o500, flag: 'wx' });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  return path;
}
