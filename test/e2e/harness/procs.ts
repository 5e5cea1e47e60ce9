// Process and mount inspection from /proc, for assertions and for cleanup.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { distDir, tsshimBinary } from './paths.js';

// bench imports waitFor from here with the process helpers.
export { waitFor } from './wait.js';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** One-letter state from /proc/<pid>/stat: R, S, D, Z, T, ... */
  state: string;
  comm: string;
  /** argv; empty for zombies and kernel threads. */
  cmdline: string[];
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process exited while we looked
  }
}

/** Whether the process is blocked in a sleep syscall (nanosleep, clock_nanosleep): its kernel wait channel. */
export function isInNanosleep(pid: number): boolean {
  return readProcessStat(pid)?.state === 'S' && (readText(`/proc/${pid}/wchan`) ?? '').includes('nanosleep');
}

/** Whether the process has a handler installed for signal number `signal` (SigCgt in /proc/<pid>/status). */
export function catchesSignal(pid: number, signal: number): boolean {
  const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readText(`/proc/${pid}/status`) ?? '')?.[1];
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n;
}

/** Parses /proc/<pid>/stat; undefined if the process is gone. */
export function readProcessStat(pid: number): Pick<ProcessInfo, 'pid' | 'ppid' | 'state' | 'comm'> | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // comm is in parentheses and may itself contain ") ", so split at the last one.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const rest = stat.slice(close + 2).split(' ');
  return { pid, comm: stat.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

export function readCmdline(pid: number): string[] {
  const raw = (readText(`/proc/${pid}/cmdline`) ?? '').replace(/\0+$/, '');
  if (raw === '') return [];
  const args = raw.split('\0');
  // A spare daemon that became a shim daemon rewrote its argv as one title string (src/shim/spare.ts).
  if (args.length === 1 && args[0]!.startsWith('containerd-shim-')) return args[0]!.trim().split(/ +/);
  return args;
}

/** An idle spare daemon of tsshim (src/shim/spare-spawn.ts): `... -address <address> spare`. */
function isSpareDaemon(p: Pick<ProcessInfo, 'cmdline'>): boolean {
  const i = p.cmdline.indexOf('spare');
  return i >= 2 && p.cmdline[i - 2] === '-address';
}

/** The idle tsshim spare daemons of the containerd at `address`. */
export function findSpareDaemons(address: string, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  return all.filter((p) => p.state !== 'Z' && isSpareDaemon(p) && argAfter(p.cmdline, '-address') === address);
}

export function readProcess(pid: number): ProcessInfo | undefined {
  const stat = readProcessStat(pid);
  return stat && { ...stat, cmdline: readCmdline(pid) };
}

export function listProcesses(): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcess(Number(name));
    if (info) all.push(info);
  }
  return all;
}

export function isAlive(pid: number): boolean {
  const stat = readProcessStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** All descendants of the given pids (not including them), by parent links. */
export function descendantsOf(pids: readonly number[], all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  const seen = new Set(pids);
  let frontier = [...pids];
  while (frontier.length > 0) {
    const next = all.filter((p) => frontier.includes(p.ppid) && !seen.has(p.pid));
    for (const p of next) seen.add(p.pid);
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

/** Zombies, optionally only those whose parent is `ppid`. */
export function findZombies(ppid?: number, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  return all.filter((p) => p.state === 'Z' && (ppid === undefined || p.ppid === ppid));
}

/** The word after `flag` (or `-flag`) in argv, or the value of `flag=value` / `-flag=value`. */
export function argAfter(cmdline: readonly string[], flag: string): string | undefined {
  const i = cmdline.findIndex((a) => a === flag || a === `-${flag}`);
  if (i >= 0) return cmdline[i + 1];
  const inline = cmdline.find((a) => a.startsWith(`${flag}=`) || a.startsWith(`-${flag}=`));
  return inline?.slice(inline.indexOf('=') + 1);
}

function readEnviron(pid: number): string[] {
  return (readText(`/proc/${pid}/environ`) ?? '').split('\0');
}

function exeName(pid: number): string | undefined {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return undefined;
  }
}

/**
 * Shim processes serving the containerd at `address` (idle spares are not counted: they serve nothing yet): containerd starts every shim with `-address <grpc
 * address>` and TTRPC_ADDRESS=<address>.ttrpc in its environment (the environment survives a daemon that
 * rewrites its process title). `binaryName` narrows to one shim binary (e.g. 'containerd-shim-runc-v2');
 * the tsshim launcher execs node on dist/shim.mjs, so containerd-shim-tsshim-v2 also matches that.
 */
export function findShimProcesses(address: string, binaryName?: string, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  return all.filter((p) => {
    if (p.state === 'Z' || p.pid === process.pid || isSpareDaemon(p)) return false;
    const ours = argAfter(p.cmdline, '-address') === address || readEnviron(p.pid).includes(`TTRPC_ADDRESS=${address}.ttrpc`);
    if (!ours) return false;
    // Without a binary name: anything containerd started as a shim, but not the runc it runs.
    if (binaryName === undefined) return !['runc', 'runc:[2:INIT]'].includes(p.comm) && exeName(p.pid) !== 'runc';
    const names = [...p.cmdline.map((a) => basename(a)), p.comm, exeName(p.pid) ?? ''];
    if (names.some((n) => n.includes(binaryName))) return true;
    return binaryName === basename(tsshimBinary) && p.cmdline.some((a) => a.startsWith(`${distDir}/`));
  });
}

/** The namespace (-namespace) and container id (-id) a shim was started for. */
export function shimIdentity(p: ProcessInfo): { namespace: string | undefined; id: string | undefined } {
  return { namespace: argAfter(p.cmdline, '-namespace'), id: argAfter(p.cmdline, '-id') };
}

/** Mount points (in this mount namespace) at or below `prefix`, deepest first. */
export function mountsUnder(prefix: string): string[] {
  const root = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const points = (readText('/proc/self/mountinfo') ?? '')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === root || p.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Filesystem type of the mount exactly at `path`, if `path` is a mount point. */
export function mountTypeAt(path: string): string | undefined {
  for (const line of (readText('/proc/self/mountinfo') ?? '').split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (fields[4] === path && sep > 0) return fields[sep + 1];
  }
  return undefined;
}

/** A process's directory in one cgroup v1 controller (this host is cgroup v1), from /proc/<pid>/cgroup. */
export function cgroupDir(pid: number, controller: string): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':');
    if (controllers!.split(',').includes(controller)) return `/sys/fs/cgroup/${controller}${path}`;
  }
  throw new Error(`pid ${pid} has no ${controller} cgroup`);
}
