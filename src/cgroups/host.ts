// Where the cgroup filesystems and the host facts the metrics need live; injectable for tests.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readOptional } from './files.js';

export interface CgroupHostOptions {
  /** Mount point of the cgroup filesystems (default /sys/fs/cgroup). */
  root?: string;
  /** procfs (default /proc): /proc/<pid>/cgroup and /proc/partitions. */
  procRoot?: string;
  /** Huge page sizes directory (default /sys/kernel/mm/hugepages). */
  hugepagesDir?: string;
}

export interface CgroupHost {
  readonly root: string;
  readonly procRoot: string;
  readonly hugepagesDir: string;
}

export function resolveHost(options: CgroupHostOptions = {}): CgroupHost {
  return {
    root: options.root ?? '/sys/fs/cgroup',
    procRoot: options.procRoot ?? '/proc',
    hugepagesDir: options.hugepagesDir ?? '/sys/kernel/mm/hugepages',
  };
}

/**
 * The host's huge page sizes named as the hugetlb controller names its files ("2MB", "1GB"),
 * from directory names like "hugepages-2048kB". No directory: none.
 */
export async function hugePageSizes(host: CgroupHost): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(host.hugepagesDir);
  } catch {
    return [];
  }
  const sizes: string[] = [];
  for (const name of names.sort()) {
    const m = /^hugepages-(\d+)kB$/.exec(name);
    if (!m) continue;
    const kib = Number(m[1]);
    if (kib >= 1 << 20) sizes.push(`${Math.floor(kib / (1 << 20))}GB`);
    else if (kib >= 1 << 10) sizes.push(`${Math.floor(kib / (1 << 10))}MB`);
    else sizes.push(`${kib}KB`);
  }
  return sizes;
}

/** "major:minor" -> "/dev/<name>" from /proc/partitions (first occurrence wins), for blkio entries. */
export async function blockDevices(host: CgroupHost): Promise<Map<string, string>> {
  const devices = new Map<string, string>();
  const text = await readOptional(join(host.procRoot, 'partitions'));
  if (text === null) return devices;
  for (const line of text.split('\n').slice(2)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || !/^\d+$/.test(fields[0]!) || !/^\d+$/.test(fields[1]!)) continue;
    const key = `${fields[0]}:${fields[1]}`;
    if (!devices.has(key)) devices.set(key, join('/dev', fields[3]!));
  }
  return devices;
}
