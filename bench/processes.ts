// The shim processes serving one containerd, by family, for memory and process counts. A tsshim process
// is matched by its argv (-address <containerd address>), not by its binary: the daemon is node, a spare
// daemon carries the action word `spare`, and a shared daemon serves many containers.
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { distDir } from '../test/e2e/harness/paths.js';
import { argAfter, listProcesses } from '../test/e2e/harness/procs.js';
import type { ProcessInfo } from '../test/e2e/harness/procs.js';

export type ShimFamily = 'tsshim' | 'go';

/** What a shim process is doing, from the action word at the end of its argv. */
export type ShimRole = 'daemon' | 'spare' | 'start' | 'delete';

export interface ShimProcess extends ProcessInfo {
  family: ShimFamily;
  role: ShimRole;
}

function exeBase(pid: number): string {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return '';
  }
}

/** The family of a process containerd started as a shim, or undefined for anything else (ctr, runc, containers). */
/**
 * argv as words. An adopted spare rewrites its process title to the daemon's command line, which then
 * reads as one string with spaces (and NUL padding) in /proc/<pid>/cmdline; a fresh spare pads its argv
 * with a blank argument for that title.
 */
function argvWords(cmdline: readonly string[]): string[] {
  return cmdline.flatMap((a) => a.split(' ')).filter((w) => w !== '');
}

function shimFamily(p: Pick<ProcessInfo, 'comm' | 'cmdline'>, exe: string): ShimFamily | undefined {
  if (exe === 'containerd-shim-runc-v2' || p.cmdline[0]?.endsWith('containerd-shim-runc-v2')) return 'go';
  if (exe === 'runc' || p.comm === 'ctr' || exe === 'ctr') return undefined;
  const names = [exe, ...p.cmdline.slice(0, 2).map((a) => basename(a))];
  if (names.some((n) => n.startsWith('containerd-shim-tsshim'))) return 'tsshim';
  if (exe === 'node' || p.cmdline.some((a) => a.startsWith(`${distDir}/`))) return 'tsshim';
  return undefined;
}

/** The shim flags that take a value (containerd's shim command line). */
const valueFlags = new Set(['-namespace', '-id', '-address', '-bundle', '-publish-binary', '-socket']);

export function shimRole(argv: readonly string[]): ShimRole {
  const cmdline = argvWords(argv);
  // Bare words: neither a flag nor a flag's value (a container id may be any word).
  const words = new Set(cmdline.filter((a, i) => i > 0 && !a.startsWith('-') && !valueFlags.has(cmdline[i - 1] ?? '')));
  if (words.has('start')) return 'start';
  if (words.has('delete')) return 'delete';
  if (words.has('spare')) return 'spare';
  return 'daemon';
}

/** Every live shim process (daemons, spares, and any start/delete in flight) started for `address`. */
export function shimProcesses(address: string, all: ProcessInfo[] = listProcesses()): ShimProcess[] {
  const found: ShimProcess[] = [];
  for (const p of all) {
    // ctr takes --address, shims take -address: only the latter counts.
    const words = argvWords(p.cmdline);
    if (p.state === 'Z' || p.pid === process.pid || argAfter(words, '-address') !== address) continue;
    const family = shimFamily({ comm: p.comm, cmdline: words }, exeBase(p.pid));
    if (family !== undefined) found.push({ ...p, cmdline: words, family, role: shimRole(words) });
  }
  return found;
}

/** The long-lived ones (daemons and spares) of one family: what idle memory is made of. */
export function residentShims(address: string, family: ShimFamily, all?: ProcessInfo[]): ShimProcess[] {
  return shimProcesses(address, all).filter((p) => p.family === family && (p.role === 'daemon' || p.role === 'spare'));
}
