// Moving a process into an existing cgroup (the runc option `shim_cgroup`, applied in `start`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMountInfo } from '../sys/mountopts.js';

const unifiedRoot = '/sys/fs/cgroup';

/** Mount points of the cgroup v1 hierarchies, from /proc/self/mountinfo. */
function v1Hierarchies(mountinfo: string): string[] {
  return parseMountInfo(mountinfo)
    .filter((m) => m.fsType === 'cgroup')
    .map((m) => m.mountPoint);
}

/**
 * Writes `pid` into `path`'s cgroup.procs: on cgroup v2 the one cgroup, on v1 every hierarchy
 * in which the cgroup exists (like the Go shim's cgroup1.Load + AddProc). Throws if none does.
 */
export function joinCgroup(path: string, pid: number, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): void {
  if (existsSync(join(unifiedRoot, 'cgroup.controllers'))) {
    const dir = join(unifiedRoot, path);
    if (!existsSync(dir)) throw new Error(`failed to load cgroup ${path}: ${dir} does not exist`);
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    return;
  }
  const dirs = v1Hierarchies(mountinfo)
    .map((m) => join(m, path))
    .filter((dir) => existsSync(join(dir, 'cgroup.procs')));
  if (dirs.length === 0) throw new Error(`failed to load cgroup ${path}: it exists in no cgroup v1 hierarchy`);
  for (const dir of dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}

/** cgroup v1 mount points by the controllers (or `name=` of a named hierarchy) they hold; v2's as ''. */
function hierarchiesByControllers(mountinfo: string): Map<string, string> {
  const byControllers = new Map<string, string>();
  for (const { fsType, mountPoint, superOptions } of parseMountInfo(mountinfo)) {
    if (fsType === 'cgroup2') byControllers.set('', mountPoint);
    if (fsType !== 'cgroup') continue;
    const controllers = superOptions
      .split(',')
      .filter(
        (o) =>
          !['rw', 'ro', 'nosuid', 'nodev', 'noexec', 'relatime', 'xattr', 'clone_children'].includes(o) && !o.startsWith('release_agent='),
      );
    byControllers.set(controllers.sort().join(','), mountPoint);
  }
  return byControllers;
}

/**
 * Moves `pid` into every cgroup `source` is in, where it is not there already (a spare daemon
 * adopted by `start` goes where a daemon spawned by `start` would have been: containerd's cgroups).
 */
export function joinCgroupsOf(source: number, pid: number, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): void {
  const mounts = hierarchiesByControllers(mountinfo);
  const current = new Set(readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n'));
  for (const line of readFileSync(`/proc/${source}/cgroup`, 'utf8').trim().split('\n')) {
    if (current.has(line)) continue;
    const [, controllers = '', path = '/'] = line.split(':');
    const mountPoint = mounts.get(controllers.split(',').sort().join(','));
    if (mountPoint === undefined) continue;
    writeFileSync(join(mountPoint, path, 'cgroup.procs'), String(pid));
  }
}
