// Cleanup steps for a test containerd that must work whatever state a failed test left behind.
import { type Dirent, existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './exec.js';
import { descendantsOf, findShimProcesses, findSpareDaemons, isAlive, listProcesses, mountsUnder, readProcess } from './procs.js';
import type { ProcessInfo } from './procs.js';
import { waitFor } from './wait.js';

/**
 * The part of the cgroup tree a containerd's cleanup may touch. runc puts a container of namespace ns in
 * /<ns>/<id> of every hierarchy, and that tree is the host's: another containerd on the machine (a CRI
 * conformance run, a second test run) has its containers in /k8s.io/<id> too. So only a namespace this
 * harness made up is swept whole; in any other, only the ids of this containerd's own containers.
 */
export interface CgroupScope {
  namespace: string;
  /** This containerd's containers in the namespace; undefined when no other containerd can use it. */
  ids?: ReadonlySet<string>;
}

function inScope(path: string, scope: CgroupScope): boolean {
  const under = (dir: string): boolean => path === dir || path.startsWith(`${dir}/`);
  if (scope.ids === undefined) return under(`/${scope.namespace}`);
  return [...scope.ids].some((id) => under(`/${scope.namespace}/${id}`));
}

/** Processes whose cgroup (any hierarchy) lies in one of the scopes. */
function processesInCgroupScopes(scopes: readonly CgroupScope[], all: ProcessInfo[]): ProcessInfo[] {
  if (scopes.length === 0) return [];
  return all.filter((p) => {
    let text: string;
    try {
      text = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8');
    } catch {
      return false;
    }
    return text.split('\n').some((line) => {
      const path = line.split(':').slice(2).join(':');
      return scopes.some((scope) => inScope(path, scope));
    });
  });
}

/**
 * SIGKILLs the shims of the containerd at `address`, everything below them, and every process left in the
 * cgroups of `scopes` (container processes orphaned by a dead shim). Returns the pids it killed.
 */
export async function killLeftoverProcesses(address: string, scopes: readonly CgroupScope[], problems: string[]): Promise<number[]> {
  const all = listProcesses();
  // Idle spares are expected to outlive a test's containers: stopped here, not reported.
  for (const spare of findSpareDaemons(address, all)) {
    try {
      process.kill(spare.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const shims = findShimProcesses(address, undefined, all);
  const victims = new Map<number, ProcessInfo>();
  for (const p of [
    ...shims,
    ...descendantsOf(
      shims.map((s) => s.pid),
      all,
    ),
    ...processesInCgroupScopes(scopes, all),
  ]) {
    if (p.pid !== process.pid && p.state !== 'Z') victims.set(p.pid, p);
  }
  for (const pid of victims.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const pids = [...victims.keys()];
  if (!(await waitFor(() => pids.every((pid) => !isAlive(pid)), 5_000))) {
    problems.push(`processes still alive after SIGKILL: ${pids.filter(isAlive).join(', ')}`);
  }
  return pids;
}

/** Lazily unmounts everything at or below `dir`, deepest first. Returns what it unmounted. */
export async function unmountAllUnder(dir: string, problems: string[]): Promise<string[]> {
  const done: string[] = [];
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (points.length === 0) break;
    for (const p of points) {
      const r = await runCommand('umount', ['-l', p], { timeoutMs: 10_000 });
      if (r.code === 0) done.push(p);
      else if (round === 2) problems.push(`umount ${p}: ${r.stderr.trim()}`);
    }
  }
  return done;
}

function removeCgroupTree(dir: string, problems: string[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // not there
  }
  for (const e of entries) if (e.isDirectory()) removeCgroupTree(join(dir, e.name), problems);
  try {
    rmdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    problems.push(`rmdir ${dir}: ${code ?? String(e)}${code === 'EBUSY' ? `; in it: ${describeCgroupMembers(dir)}` : ''}`);
  }
}

/** The processes still in a cgroup, each with what /proc says of it (for a cgroup that cannot be removed). */
function describeCgroupMembers(dir: string): string {
  let pids: number[];
  try {
    pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (e) {
    return `(cgroup.procs unreadable: ${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  if (pids.length === 0) return 'no process (a dying one the kernel still counts, or a child cgroup)';
  return pids
    .map((pid) => {
      const p = readProcess(pid);
      if (p === undefined) return `${pid} (gone)`;
      const parent = readProcess(p.ppid);
      return (
        `${pid} ${p.state} ${JSON.stringify(p.cmdline.length > 0 ? p.cmdline.join(' ') : `[${p.comm}]`)} ` +
        `parent ${p.ppid} ${JSON.stringify(parent ? parent.cmdline.join(' ') || `[${parent.comm}]` : '?')}`
      );
    })
    .join('; ');
}

/**
 * rmdir of one cgroup directory, retried while the kernel still counts a just-killed process in it
 * (EBUSY); resolves once it is gone, throws after `timeoutMs` with the processes still in it.
 */
export async function removeCgroupDir(dir: string, timeoutMs = 5_000): Promise<void> {
  let last: unknown;
  const removed = await waitFor(
    () => {
      try {
        if (existsSync(dir)) rmdirSync(dir);
        return true;
      } catch (e) {
        last = e;
        return false;
      }
    },
    timeoutMs,
    20,
  );
  if (!removed)
    throw new Error(`rmdir ${dir}: ${(last as NodeJS.ErrnoException).code ?? String(last)}; in it: ${describeCgroupMembers(dir)}`);
}

/**
 * Removes the (now empty) cgroups runc created for the scopes in every hierarchy: a whole namespace's
 * tree, or its own containers' /<ns>/<id> and then /<ns> itself if nobody else has a cgroup in it.
 */
export function removeScopeCgroups(scopes: readonly CgroupScope[], problems: string[]): void {
  const base = '/sys/fs/cgroup';
  const hierarchies = new Set<string>([base]);
  try {
    for (const e of readdirSync(base)) {
      const dir = join(base, e);
      try {
        if (statSync(dir).isDirectory()) hierarchies.add(dir);
      } catch {
        // dangling
      }
    }
  } catch {
    return;
  }
  for (const h of hierarchies) {
    for (const scope of scopes) {
      const dir = join(h, scope.namespace);
      if (scope.ids === undefined) {
        removeCgroupTree(dir, problems);
        continue;
      }
      for (const id of scope.ids) removeCgroupTree(join(dir, id), problems);
      try {
        rmdirSync(dir);
      } catch {
        // Not there, or another containerd's cgroups are in it: theirs to remove.
      }
    }
  }
}
