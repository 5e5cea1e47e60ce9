// cgroup v2 statistics -> io.containerd.cgroups.v2.Metrics, as containerd/cgroups v3 cgroup2
// Manager.Stat fills them: single values read as 0 when missing and MaxUint64 for "max";
// pressure (PSI) only when its file parses. One difference: cpu.stat is read whenever it
// exists (its usage fields exist without the cpu controller), where Go needs "cpu" in
// cgroup.controllers; a container's cgroup always has it, so the answers agree there.
import { join } from 'node:path';
import type { io } from '../api/gen/proto.js';
import { MAX_UINT64, parseUint64, readFlatKeyed, readOptional, readSingleValue } from './files.js';
import { hugePageSizes, type CgroupHost } from './host.js';
import { field, omitDefaults, u64 } from './wire.js';

type IMetrics = io.containerd.cgroups.v2.IMetrics;
type IPSIStats = io.containerd.cgroups.v2.IPSIStats;
type IPSIData = io.containerd.cgroups.v2.IPSIData;
type IIOEntry = io.containerd.cgroups.v2.IIOEntry;
type IMemoryStat = io.containerd.cgroups.v2.IMemoryStat;

/** Go's getStatFileContentUint64: missing or unparsable = 0, "max" = MaxUint64. */
async function value(path: string): Promise<number> {
  try {
    return u64((await readSingleValue(path, MAX_UINT64)) ?? 0n);
  } catch {
    return 0;
  }
}

/** MemoryStat field <- memory.stat key. */
const MEMORY_STAT_FIELDS: ReadonlyArray<readonly [keyof IMemoryStat, string]> = [
  ['anon', 'anon'],
  ['file', 'file'],
  ['kernelStack', 'kernel_stack'],
  ['slab', 'slab'],
  ['sock', 'sock'],
  ['shmem', 'shmem'],
  ['fileMapped', 'file_mapped'],
  ['fileDirty', 'file_dirty'],
  ['fileWriteback', 'file_writeback'],
  ['anonThp', 'anon_thp'],
  ['inactiveAnon', 'inactive_anon'],
  ['activeAnon', 'active_anon'],
  ['inactiveFile', 'inactive_file'],
  ['activeFile', 'active_file'],
  ['unevictable', 'unevictable'],
  ['slabReclaimable', 'slab_reclaimable'],
  ['slabUnreclaimable', 'slab_unreclaimable'],
  ['pgfault', 'pgfault'],
  ['pgmajfault', 'pgmajfault'],
  ['workingsetRefault', 'workingset_refault'],
  ['workingsetActivate', 'workingset_activate'],
  ['workingsetNodereclaim', 'workingset_nodereclaim'],
  ['pgrefill', 'pgrefill'],
  ['pgscan', 'pgscan'],
  ['pgsteal', 'pgsteal'],
  ['pgactivate', 'pgactivate'],
  ['pgdeactivate', 'pgdeactivate'],
  ['pglazyfree', 'pglazyfree'],
  ['pglazyfreed', 'pglazyfreed'],
  ['thpFaultAlloc', 'thp_fault_alloc'],
  ['thpCollapseAlloc', 'thp_collapse_alloc'],
];

export async function readV2Metrics(dir: string, host: CgroupHost): Promise<IMetrics> {
  const at = (name: string): string => join(dir, name);
  const [
    cpuStat,
    memoryStat,
    memoryEvents,
    pidsCurrent,
    pidsMax,
    usage,
    usageLimit,
    maxUsage,
    swapUsage,
    swapLimit,
    swapMaxUsage,
    cpuPsi,
    memoryPsi,
    ioPsi,
    ioUsage,
    hugetlb,
  ] = await Promise.all([
    readFlatKeyed(at('cpu.stat')),
    readFlatKeyed(at('memory.stat')),
    readFlatKeyed(at('memory.events')),
    value(at('pids.current')),
    value(at('pids.max')),
    value(at('memory.current')),
    value(at('memory.max')),
    value(at('memory.peak')),
    value(at('memory.swap.current')),
    value(at('memory.swap.max')),
    value(at('memory.swap.peak')),
    readPressure(at('cpu.pressure')),
    readPressure(at('memory.pressure')),
    readPressure(at('io.pressure')),
    readIoStat(at('io.stat')),
    readHugetlb(dir, host),
  ]);
  const memory: IMemoryStat = {};
  for (const [name, key] of MEMORY_STAT_FIELDS) (memory as Record<string, unknown>)[name] = field(memoryStat, key);
  Object.assign(memory, {
    usage,
    usageLimit: usageLimit,
    maxUsage: maxUsage,
    swapUsage: swapUsage,
    swapLimit: swapLimit,
    swapMaxUsage: swapMaxUsage,
  });
  omitDefaults(memory);
  if (memoryPsi) memory.psi = memoryPsi;

  const cpu: io.containerd.cgroups.v2.ICPUStat = omitDefaults({
    usageUsec: field(cpuStat, 'usage_usec'),
    userUsec: field(cpuStat, 'user_usec'),
    systemUsec: field(cpuStat, 'system_usec'),
    nrPeriods: field(cpuStat, 'nr_periods'),
    nrThrottled: field(cpuStat, 'nr_throttled'),
    throttledUsec: field(cpuStat, 'throttled_usec'),
  });
  if (cpuPsi) cpu.psi = cpuPsi;

  const ioStat: io.containerd.cgroups.v2.IIOStat = omitDefaults({ usage: ioUsage });
  if (ioPsi) ioStat.psi = ioPsi;

  const metrics: IMetrics = {
    pids: omitDefaults({ current: pidsCurrent, limit: pidsMax }),
    cpu,
    memory,
    rdma: {}, // rdma.current/rdma.max are not read; Go sends this empty message when they are absent
    io: ioStat,
  };
  if (hugetlb.length > 0) metrics.hugetlb = hugetlb;
  if (memoryEvents.size > 0) {
    metrics.memoryEvents = omitDefaults({
      low: field(memoryEvents, 'low'),
      high: field(memoryEvents, 'high'),
      max: field(memoryEvents, 'max'),
      oom: field(memoryEvents, 'oom'),
      oomKill: field(memoryEvents, 'oom_kill'),
    });
  }
  return metrics;
}

/** "some|full avg10=.. avg60=.. avg300=.. total=.." lines; null when missing or malformed (as Go). */
async function readPressure(path: string): Promise<IPSIStats | null> {
  let text: string | null;
  try {
    text = await readOptional(path);
  } catch {
    return null; // EOPNOTSUPP when PSI is disabled
  }
  return text === null ? null : parsePressure(text);
}

export function parsePressure(text: string): IPSIStats | null {
  const stats: IPSIStats = {};
  for (const line of text.split('\n')) {
    const [kind, ...pairs] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const data: IPSIData = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq < 0) return null;
      const [key, raw] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (key === 'total') {
        const total = parseUint64(raw);
        if (total === null || raw.startsWith('-')) return null;
        data.total = u64(total);
      } else if (key === 'avg10' || key === 'avg60' || key === 'avg300') {
        const avg = Number(raw);
        if (raw === '' || !Number.isFinite(avg)) return null;
        data[key] = avg;
      }
    }
    stats[kind] = omitDefaults(data);
  }
  return stats;
}

/** io.stat: "major:minor rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..". */
async function readIoStat(path: string): Promise<IIOEntry[]> {
  let text: string | null;
  try {
    text = await readOptional(path);
  } catch {
    return [];
  }
  return text === null ? [] : parseIoStat(text);
}

export function parseIoStat(text: string): IIOEntry[] {
  const entries: IIOEntry[] = [];
  for (const line of text.split('\n')) {
    const [device, ...pairs] = line.split(' ');
    if (device === undefined || pairs.length === 0) continue;
    const majmin = device.split(':');
    if (majmin.length !== 2) continue;
    const major = parseUint64(majmin[0]!);
    const minor = parseUint64(majmin[1]!);
    if (major === null || minor === null) break; // Go stops at the first bad device number
    const entry: IIOEntry = { major: u64(major), minor: u64(minor) };
    for (const pair of pairs) {
      const kv = pair.split('=');
      if (kv.length !== 2) continue;
      const amount = /^\d+$/.test(kv[1]!) ? parseUint64(kv[1]!) : null;
      if (amount === null) continue;
      if (kv[0] === 'rbytes' || kv[0] === 'wbytes' || kv[0] === 'rios' || kv[0] === 'wios') entry[kv[0]] = u64(amount);
    }
    entries.push(omitDefaults(entry));
  }
  return entries;
}

async function readHugetlb(dir: string, host: CgroupHost): Promise<io.containerd.cgroups.v2.IHugeTlbStat[]> {
  const sizes = await hugePageSizes(host);
  return Promise.all(
    sizes.map(async (pagesize) =>
      omitDefaults({
        max: await value(join(dir, `hugetlb.${pagesize}.max`)),
        current: await value(join(dir, `hugetlb.${pagesize}.current`)),
        pagesize,
      }),
    ),
  );
}
