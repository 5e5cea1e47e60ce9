// cgroup v1 statistics -> io.containerd.cgroups.v1.Metrics, field by field as containerd/cgroups
// v3 cgroup1 fills them (the Go shim calls Stat with IgnoreNotExist: a missing controller or
// file leaves its part empty). One difference: a missing file here only leaves its own fields
// empty, where Go also skips the rest of that controller.
import { join } from 'node:path';
import type { io } from '../api/gen/proto.js';
import { CgroupReadError } from './errors.js';
import { parseFlatKeyed, parseUint64, readFlatKeyed, readOptional, readSingleValue } from './files.js';
import { blockDevices, hugePageSizes, type CgroupHost } from './host.js';
import { field, omitDefaults, u64 } from './wire.js';

type IMetrics = io.containerd.cgroups.v1.IMetrics;
type IMemoryEntry = io.containerd.cgroups.v1.IMemoryEntry;
type IBlkIOEntry = io.containerd.cgroups.v1.IBlkIOEntry;
type ICPUStat = io.containerd.cgroups.v1.ICPUStat;

/** Controller name -> absolute directory of the container's cgroup in that hierarchy. */
export type V1Paths = ReadonlyMap<string, string>;

/** USER_HZ: cpuacct.stat counts in these ticks on every Linux architecture containerd runs on. */
const CLOCK_TICKS = 100n;
const NS_PER_SECOND = 1_000_000_000n;

/** cgroup v1 code reports a "max" (no limit) as 0. */
const V1_MAX = 0n;

const value = async (path: string): Promise<bigint> => (await readSingleValue(path, V1_MAX)) ?? 0n;

export async function readV1Metrics(paths: V1Paths, host: CgroupHost): Promise<IMetrics> {
  // Go always reports cpu with its two parts, even without the cpu/cpuacct controllers.
  const cpu: ICPUStat = { usage: {}, throttling: {} };
  const metrics: IMetrics = { cpu };
  const at = (controller: string): string | undefined => paths.get(controller);
  const cpuacctDir = at('cpuacct');
  const cpuDir = at('cpu');
  const memoryDir = at('memory');
  const pidsDir = at('pids');
  const blkioDir = at('blkio');
  const hugetlbDir = at('hugetlb');
  await Promise.all([
    cpuacctDir !== undefined && readCpuacct(cpuacctDir).then((usage) => (cpu.usage = usage)),
    cpuDir !== undefined && readThrottling(cpuDir).then((t) => (cpu.throttling = t)),
    memoryDir !== undefined && readMemory(memoryDir, metrics),
    pidsDir !== undefined &&
      readPids(pidsDir).then((p) => {
        if (p) metrics.pids = p;
      }),
    blkioDir !== undefined && readBlkio(blkioDir, host).then((b) => (metrics.blkio = b)),
    hugetlbDir !== undefined && readHugetlb(hugetlbDir, host).then((h) => (metrics.hugetlb = h)),
  ]);
  return metrics;
}

async function readCpuacct(dir: string): Promise<io.containerd.cgroups.v1.ICPUUsage> {
  const [stat, total, perCpuText] = await Promise.all([
    readFlatKeyed(join(dir, 'cpuacct.stat')),
    value(join(dir, 'cpuacct.usage')),
    readOptional(join(dir, 'cpuacct.usage_percpu')).then((t) => t ?? ''),
  ]);
  const ns = (key: string): number => u64(((stat.get(key) ?? 0n) * NS_PER_SECOND) / CLOCK_TICKS);
  const perCpu = perCpuText
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((n) => u64(BigInt(n)));
  return omitDefaults({ total: u64(total), kernel: ns('system'), user: ns('user'), perCpu });
}

async function readThrottling(dir: string): Promise<io.containerd.cgroups.v1.IThrottle> {
  const stat = await readFlatKeyed(join(dir, 'cpu.stat'));
  return omitDefaults({
    periods: field(stat, 'nr_periods'),
    throttledPeriods: field(stat, 'nr_throttled'),
    throttledTime: field(stat, 'throttled_time'),
  });
}

/** memory.stat key -> MemoryStat field (the proto's names differ from the kernel's in places). */
const MEMORY_STAT_FIELDS: ReadonlyArray<readonly [keyof io.containerd.cgroups.v1.IMemoryStat, string]> = [
  ['cache', 'cache'],
  ['rss', 'rss'],
  ['rssHuge', 'rss_huge'],
  ['mappedFile', 'mapped_file'],
  ['dirty', 'dirty'],
  ['writeback', 'writeback'],
  ['pgPgIn', 'pgpgin'],
  ['pgPgOut', 'pgpgout'],
  ['pgFault', 'pgfault'],
  ['pgMajFault', 'pgmajfault'],
  ['inactiveAnon', 'inactive_anon'],
  ['activeAnon', 'active_anon'],
  ['inactiveFile', 'inactive_file'],
  ['activeFile', 'active_file'],
  ['unevictable', 'unevictable'],
  ['hierarchicalMemoryLimit', 'hierarchical_memory_limit'],
  ['hierarchicalSwapLimit', 'hierarchical_memsw_limit'],
  ['totalCache', 'total_cache'],
  ['totalRss', 'total_rss'],
  ['totalRssHuge', 'total_rss_huge'],
  ['totalMappedFile', 'total_mapped_file'],
  ['totalDirty', 'total_dirty'],
  ['totalWriteback', 'total_writeback'],
  ['totalPgPgIn', 'total_pgpgin'],
  ['totalPgPgOut', 'total_pgpgout'],
  ['totalPgFault', 'total_pgfault'],
  ['totalPgMajFault', 'total_pgmajfault'],
  ['totalInactiveAnon', 'total_inactive_anon'],
  ['totalActiveAnon', 'total_active_anon'],
  ['totalInactiveFile', 'total_inactive_file'],
  ['totalActiveFile', 'total_active_file'],
  ['totalUnevictable', 'total_unevictable'],
];

async function readMemory(dir: string, metrics: IMetrics): Promise<void> {
  const statText = await readOptional(join(dir, 'memory.stat'));
  if (statText === null) return; // memory cgroup gone: Go leaves memory unset too
  const stat = parseFlatKeyed(statText, join(dir, 'memory.stat'));
  const [oom, usage, swap, kernel, kernelTcp] = await Promise.all([
    readFlatKeyed(join(dir, 'memory.oom_control')),
    readMemoryEntry(dir, 'memory'),
    readMemoryEntry(dir, 'memory.memsw'),
    readMemoryEntry(dir, 'memory.kmem'),
    readMemoryEntry(dir, 'memory.kmem.tcp'),
  ]);
  const memory: io.containerd.cgroups.v1.IMemoryStat = {};
  for (const [name, key] of MEMORY_STAT_FIELDS) (memory as Record<string, unknown>)[name] = field(stat, key);
  omitDefaults(memory);
  // Go always sets these four entries, even when their files are missing.
  Object.assign(memory, { usage, swap, kernel, kernelTcp });
  metrics.memory = memory;
  metrics.memoryOomControl = omitDefaults({
    oomKillDisable: field(oom, 'oom_kill_disable'),
    underOom: field(oom, 'under_oom'),
    oomKill: field(oom, 'oom_kill'),
  });
}

async function readMemoryEntry(dir: string, prefix: string): Promise<IMemoryEntry> {
  const [usage, max, failcnt, limit] = await Promise.all(
    ['usage_in_bytes', 'max_usage_in_bytes', 'failcnt', 'limit_in_bytes'].map((name) => value(join(dir, `${prefix}.${name}`))),
  );
  return omitDefaults({ limit: u64(limit!), usage: u64(usage!), max: u64(max!), failcnt: u64(failcnt!) });
}

async function readPids(dir: string): Promise<io.containerd.cgroups.v1.IPidsStat | null> {
  const current = await readSingleValue(join(dir, 'pids.current'), V1_MAX);
  if (current === null) return null;
  const limit = await value(join(dir, 'pids.max'));
  return omitDefaults({ current: u64(current), limit: u64(limit) });
}

/** blkio: the CFQ recursive files when the kernel has them, else the throttle files (as Go). */
async function readBlkio(dir: string, host: CgroupHost): Promise<io.containerd.cgroups.v1.IBlkIOStat> {
  const devices = await blockDevices(host);
  const read = async (name: string): Promise<IBlkIOEntry[]> => {
    const path = join(dir, `blkio.${name}`);
    const text = await readOptional(path);
    return text === null ? [] : parseBlkio(text, path, devices);
  };
  const cfq = (await readOptional(join(dir, 'blkio.io_serviced_recursive'))) !== null;
  if (cfq) {
    const [sectors, bytes, serviced, queued, serviceTime, waitTime, merged, time] = await Promise.all(
      [
        'sectors_recursive',
        'io_service_bytes_recursive',
        'io_serviced_recursive',
        'io_queued_recursive',
        'io_service_time_recursive',
        'io_wait_time_recursive',
        'io_merged_recursive',
        'time_recursive',
      ].map(read),
    );
    const stat = {
      sectorsRecursive: sectors!,
      ioServiceBytesRecursive: bytes!,
      ioServicedRecursive: serviced!,
      ioQueuedRecursive: queued!,
      ioServiceTimeRecursive: serviceTime!,
      ioWaitTimeRecursive: waitTime!,
      ioMergedRecursive: merged!,
      ioTimeRecursive: time!,
    };
    if (Object.values(stat).some((entries) => entries.length > 0)) return omitDefaults(stat);
  }
  const [serviced, bytes] = await Promise.all(['throttle.io_serviced', 'throttle.io_service_bytes'].map(read));
  return omitDefaults({ ioServicedRecursive: serviced!, ioServiceBytesRecursive: bytes! });
}

/** Lines "major:minor [Op] value"; the bare "Total n" line is skipped. */
export function parseBlkio(text: string, path: string, devices: ReadonlyMap<string, string>): IBlkIOEntry[] {
  const entries: IBlkIOEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(/[ :]/).filter((f) => f !== '');
    if (fields.length === 2 && fields[0] === 'Total') continue;
    const numbers = fields.length >= 3 ? [fields[0]!, fields[1]!, fields[fields.length === 4 ? 3 : 2]!].map(parseUint64) : [];
    if (numbers.length !== 3 || numbers.some((n) => n === null) || fields.length > 4) {
      throw new CgroupReadError(path, `invalid line ${JSON.stringify(line)}`);
    }
    const [major, minor, amount] = numbers as [bigint, bigint, bigint];
    entries.push(
      omitDefaults({
        op: fields.length === 4 ? fields[2]! : '',
        device: devices.get(`${major}:${minor}`) ?? '',
        major: u64(major),
        minor: u64(minor),
        value: u64(amount),
      }),
    );
  }
  return entries;
}

async function readHugetlb(dir: string, host: CgroupHost): Promise<io.containerd.cgroups.v1.IHugetlbStat[]> {
  const sizes = await hugePageSizes(host);
  return Promise.all(
    sizes.map(async (pagesize) => {
      const [usage, max, failcnt] = await Promise.all(
        ['usage_in_bytes', 'max_usage_in_bytes', 'failcnt'].map((name) => value(join(dir, `hugetlb.${pagesize}.${name}`))),
      );
      return omitDefaults({ usage: u64(usage!), max: u64(max!), failcnt: u64(failcnt!), pagesize });
    }),
  );
}
