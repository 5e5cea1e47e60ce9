// Moving a process into an existing cgroup (the runc option `shim_cgroup`, applied in `start`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const unifiedRoot = '/sys/fs/cgroup';

/** Mount points of the cgroup v1 hierarchies, from /proc/self/mountinfo. */
function v1Hierarchies(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after || !after.startsWith('cgroup ')) continue;
    const mountPoint = before.split(' ')[4];
    if (mountPoint) points.push(mountPoint.replace(/\\040/g, ' '));
  }
  return points;
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
  const dirs = v1Hierarchies(mountinfo).map((m) => join(m, path)).filter((dir) => existsSync(join(dir, 'cgroup.procs')));
  if (dirs.length === 0) throw new Error(`failed to load cgroup ${path}: it exists in no cgroup v1 hierarchy`);
  for (const dir of dirs) writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}
