// Mounting a container's rootfs and tearing it down, as containerd's core/mount does.
//
// Limits (documented, not silently wrong): `loop`, `uidmap=`/`gidmap=` (idmapped mounts) and
// containerd 2.x mount-manager transformers (`format/`, `mkdir/` types, `X-containerd.*`
// options) are refused with a clear error; fuse.* / fuse3.* types go through mount.fuse(3).
import { lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf } from './errno.js';
import { native } from './native.js';
import { run } from './spawn.js';
import {
  MNT_DETACH,
  MS_BIND,
  MS_PROPAGATION,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_SILENT,
  compactLowerdir,
  mountPointsUnder,
  optionsSize,
  parseMountInfo,
  parseMountOptions,
  unsupportedMountOption,
  type MountSpec,
} from './mountopts.js';

export * from './mountopts.js';

export class MountError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MountError';
  }
}

/** Mounts `m` on `target` (an existing path). */
async function mountOne(m: MountSpec, target: string): Promise<void> {
  const helper = m.type.startsWith('fuse3.') ? 'mount.fuse3' : m.type.startsWith('fuse.') ? 'mount.fuse' : undefined;
  if (helper) return mountWithHelper(helper, m, target);
  if (m.type.includes('/'))
    throw new MountError(`mount type ${JSON.stringify(m.type)} needs containerd's mount manager, which tsshim does not implement`);
  const refused = unsupportedMountOption(m.options);
  if (refused !== undefined) throw new MountError(`mount option ${JSON.stringify(refused)} is not supported by tsshim`);

  const n = native();
  const pageSize = n.constants.PAGE_SIZE;
  let chdir = '';
  let options: readonly string[] = m.options;
  if (m.type === 'overlay' && optionsSize(options) >= pageSize - 512) ({ chdir, options } = compactLowerdir(options));
  const { flags, data } = parseMountOptions(options);
  if (data.length > pageSize) throw new MountError(`mount options of ${target} are too long (${data.length} bytes, limit ${pageSize})`);

  const plain = (flags & ~MS_PROPAGATION) >>> 0;
  // A remount without new data changes flags only: no first mount call.
  if ((flags & MS_REMOUNT) === 0 || data !== '') {
    if (chdir) n.mountIn(chdir, m.source, target, m.type, plain, data);
    else n.mount(m.source, target, m.type, plain, data);
  }
  if ((flags & MS_PROPAGATION) !== 0) {
    n.mount(null, target, null, (flags & (MS_PROPAGATION | MS_REC | MS_SILENT)) >>> 0, null);
  }
  // The kernel ignores MS_RDONLY on the first bind: read-only needs a remount of the bind.
  if ((plain & (MS_BIND | MS_RDONLY)) === (MS_BIND | MS_RDONLY)) {
    n.mount(null, target, null, (plain | MS_REMOUNT) >>> 0, null);
  }
}

async function mountWithHelper(helper: string, m: MountSpec, target: string): Promise<void> {
  const prefix = helper === 'mount.fuse3' ? 'fuse3.' : 'fuse.';
  const args = [m.source, target, ...m.options.flatMap((o) => ['-o', o]), '-t', m.type.slice(prefix.length)];
  const result = await run(helper, args);
  if (result.code !== 0) {
    const output = (result.stdout.toString() + result.stderr.toString()).trim();
    throw new MountError(`${helper} ${args.join(' ')} failed (${result.code ?? result.signal}): ${output}`);
  }
}

/**
 * Resolves `unsafePath` inside `root` as if `root` were '/': symlinks (absolute ones
 * re-rooted) and '..' never lead outside `root`. Missing components are kept as given.
 */
function secureJoin(root: string, unsafePath: string): string {
  const pending = unsafePath.split('/');
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(candidate).isSymbolicLink();
    } catch {
      // does not exist (yet): keep the name
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > 40) throw new MountError(`too many symbolic links resolving ${unsafePath} in ${root}`);
    const dest = readlinkSync(candidate);
    if (dest.startsWith('/')) resolved = [];
    pending.unshift(...dest.split('/'));
  }
  return join(root, ...resolved);
}

/**
 * Mounts each of `mounts` in order on `targetDir` (or on its `target` below it). If one
 * fails, everything already mounted under `targetDir` is unmounted and the error rethrown.
 */
export async function mountAll(mounts: readonly MountSpec[], targetDir: string): Promise<void> {
  for (const m of mounts) {
    const target = m.target ? secureJoin(targetDir, m.target) : targetDir;
    try {
      await mountOne(m, target);
    } catch (err) {
      try {
        await unmountAll(targetDir);
      } catch {
        // the mount error is the one worth reporting
      }
      if (err instanceof MountError) throw err;
      throw new MountError(`mount ${m.type} ${m.source} on ${target}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

export interface UnmountOptions {
  /** EBUSY retries before falling back to a lazy (MNT_DETACH) unmount. */
  busyRetries?: number;
  busyDelayMs?: number;
}

/**
 * Unmounts everything at or below `targetDir` (this mount namespace), deepest first.
 * EBUSY is retried briefly; then the mount is detached lazily. A missing dir is a no-op.
 */
export async function unmountAll(targetDir: string, opts: UnmountOptions = {}): Promise<void> {
  if (!targetDir) return;
  let dir: string;
  try {
    dir = realpathSync(targetDir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw err;
  }
  for (let round = 0; round < 8; round++) {
    const points = mountPointsUnder(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')), dir);
    if (points.length === 0) return;
    for (const point of points) await unmountOne(point, opts);
  }
  throw new MountError(`mounts remain under ${targetDir} after unmounting`);
}

async function unmountOne(path: string, opts: UnmountOptions): Promise<void> {
  const n = native();
  const retries = opts.busyRetries ?? 20;
  for (let attempt = 0; ; attempt++) {
    try {
      n.umount2(path, 0);
      return;
    } catch (err) {
      // EINVAL / ENOENT: no longer a mount point (a parent's lazy unmount took it along).
      const errno = errnoOf(err);
      if (errno === 'EINVAL' || errno === 'ENOENT') return;
      if (errno !== 'EBUSY') throw err;
      if (attempt >= retries) break;
    }
    await sleep(opts.busyDelayMs ?? 50);
  }
  try {
    n.umount2(path, MNT_DETACH);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno !== 'EINVAL' && errno !== 'ENOENT') throw err;
  }
}
