// Pure helpers for mounts: flag values, containerd's option words, /proc/self/mountinfo
// parsing, and the overlay lowerdir compaction. No syscalls here (unit-tested).
import { posix } from 'node:path';

// Linux mount(2)/umount2(2) flag values (include/uapi/linux/mount.h); they are ABI and the
// integration test checks them against the addon's constants.
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MNT_DETACH = 0x2;

/** Flags that change propagation; mount(2) wants them in a call of their own. */
export const MS_PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

/** A mount as containerd sends it (containerd.types.Mount). */
export interface MountSpec {
  type: string;
  source: string;
  /** Relative to the target directory (containerd 2.x); empty means the directory itself. */
  target?: string;
  options: readonly string[];
}

export interface ParsedMountOptions {
  flags: number;
  /** Filesystem-specific options, joined with ','. */
  data: string;
}

// containerd's option words (core/mount/mount_linux.go) plus the propagation words: each flag with
// the word that sets it and, where there is one, the word that clears it.
const flagWords: ReadonlyArray<readonly [flag: number, sets: string, clears?: string]> = [
  [MS_RDONLY, 'ro', 'rw'],
  [MS_NOSUID, 'nosuid', 'suid'],
  [MS_NODEV, 'nodev', 'dev'],
  [MS_NOEXEC, 'noexec', 'exec'],
  [MS_SYNCHRONOUS, 'sync', 'async'],
  [MS_MANDLOCK, 'mand', 'nomand'],
  [MS_NOATIME, 'noatime', 'atime'],
  [MS_NODIRATIME, 'nodiratime', 'diratime'],
  [MS_RELATIME, 'relatime', 'norelatime'],
  [MS_STRICTATIME, 'strictatime', 'nostrictatime'],
  [MS_DIRSYNC, 'dirsync'],
  [MS_REMOUNT, 'remount'],
];
/** Words with an `r` form that adds MS_REC: bind/rbind, private/rprivate, and so on. */
const recursiveWords: ReadonlyArray<readonly [flag: number, word: string]> = [
  [MS_BIND, 'bind'],
  [MS_PRIVATE, 'private'],
  [MS_SHARED, 'shared'],
  [MS_SLAVE, 'slave'],
  [MS_UNBINDABLE, 'unbindable'],
];

/** word -> [clears?, flag]; `defaults` is known and sets nothing. */
const optionFlags: ReadonlyMap<string, readonly [boolean, number]> = new Map<string, readonly [boolean, number]>([
  ['defaults', [false, 0]],
  ...flagWords.flatMap(([flag, sets, clears]) => [[sets, [false, flag]] as const, ...(clears ? [[clears, [true, flag]] as const] : [])]),
  ...recursiveWords.flatMap(([flag, word]) => [[word, [false, flag]] as const, [`r${word}`, [false, flag | MS_REC]] as const]),
]);

/**
 * Turns fstab-style option words into mount(2) flags and data: known words set or clear
 * flags in order (so `ro,rw` ends read-write), everything else is data joined with ','.
 */
export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0;
  const data: string[] = [];
  for (const word of options) {
    const known = optionFlags.get(word);
    if (known === undefined || known[1] === 0) {
      if (known === undefined) data.push(word);
      continue;
    }
    const [clear, flag] = known;
    flags = clear ? flags & ~flag : flags | flag;
  }
  return { flags: flags >>> 0, data: data.join(',') };
}

/** Option words this implementation refuses rather than passing them to the kernel as data. */
export function unsupportedMountOption(options: readonly string[]): string | undefined {
  return options.find((o) => o === 'loop' || o.startsWith('uidmap=') || o.startsWith('gidmap=') || o.startsWith('X-containerd.'));
}

/**
 * Overlay with many layers: mount data is limited to one page, so (like containerd) when the
 * options are long, mount from the parent of the lowerdirs' common prefix with relative
 * lowerdir paths. Returns the directory to mount from ('' when no compaction applies).
 */
export function compactLowerdir(options: readonly string[]): { chdir: string; options: string[] } {
  const index = options.findIndex((o) => o.startsWith('lowerdir='));
  if (index < 0) return { chdir: '', options: [...options] };
  const dirs = options[index]!.slice('lowerdir='.length).split(':');
  if (dirs.length < 2) return { chdir: '', options: [...options] };
  // The snapshot directories are numbered (snapshots/1, snapshots/12): step back from a
  // prefix that may end inside a number to its parent directory.
  let common = posix.dirname(longestCommonPrefix(dirs));
  if (common === '/' || common === '.' || common === '') return { chdir: '', options: [...options] };
  common += '/';
  if (!dirs.every((d) => d.startsWith(common))) return { chdir: '', options: [...options] };
  const rest = options.filter((_, i) => i !== index);
  rest.push(`lowerdir=${dirs.map((d) => d.slice(common.length)).join(':')}`);
  return { chdir: common, options: rest };
}

function longestCommonPrefix(strs: readonly string[]): string {
  let prefix = strs[0] ?? '';
  for (const s of strs) {
    let i = 0;
    while (i < prefix.length && i < s.length && prefix[i] === s[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}

/** Sum of the option words' lengths (containerd's measure for the compaction threshold). */
export function optionsSize(options: readonly string[]): number {
  return options.reduce((n, o) => n + o.length, 0);
}

export interface MountInfoEntry {
  id: number;
  parentId: number;
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-superblock options; for cgroup v1 they name the hierarchy's controllers. */
  superOptions: string;
}

/** Undoes the octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) of mountinfo. */
export function unescapeMountInfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)); malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 7 || sep < 0 || fields.length < sep + 3) continue;
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      mountPoint: unescapeMountInfo(fields[4]!),
      fsType: unescapeMountInfo(fields[sep + 1]!),
      source: unescapeMountInfo(fields[sep + 2]!),
      superOptions: fields[sep + 3] ?? '',
    });
  }
  return entries;
}

/**
 * Mount points at or under `dir` (a resolved path), deepest first; a path mounted several
 * times appears once per mount (each umount removes the topmost).
 */
export function mountPointsUnder(entries: readonly MountInfoEntry[], dir: string): string[] {
  const base = dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
  const prefix = base === '/' ? '/' : `${base}/`;
  const depth = (p: string): number => p.split('/').filter(Boolean).length;
  return (
    entries
      .map((e, order) => ({ path: e.mountPoint, order }))
      .filter((e) => e.path === base || e.path.startsWith(prefix))
      // deepest first; on one path, the later (upper) mount first
      .sort((a, b) => depth(b.path) - depth(a.path) || b.order - a.order)
      .map((e) => e.path)
  );
}
