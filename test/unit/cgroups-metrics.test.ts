// Metrics from recorded cgroup files: decode the packed Any and check the numbers against the files.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { unpackAny } from '../../src/api/any.js';
import { CgroupsV1MetricsType, CgroupsV2MetricsType } from '../../src/api/metrics.js';
import { CgroupNotFoundError, CgroupV1, CgroupV2, cgroupOfPid, parseProcCgroup } from '../../src/cgroups/index.js';
import { parseBlkio } from '../../src/cgroups/v1.js';
import { parseIoStat, parsePressure } from '../../src/cgroups/v2.js';
import { u64 } from '../../src/cgroups/wire.js';
import { encodeMessage } from '../../src/api/codec.js';
import { io } from '../../src/api/gen/proto.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures-cgroups');
const hugepagesDir = join(fixtures, 'hugepages');
const v1 = { root: join(fixtures, 'v1/sys'), procRoot: join(fixtures, 'v1/proc'), hugepagesDir };
const v2 = { root: join(fixtures, 'v2/sys'), procRoot: join(fixtures, 'v2/proc'), hugepagesDir };

/** A single-number file of a fixture cgroup. */
const num = (path: string): number => Number(readFileSync(path, 'utf8').trim());
/** A flat-keyed file of a fixture cgroup as numbers. */
const keyed = (path: string): Record<string, number> =>
  Object.fromEntries(
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, v]) => [k!, Number(v)]),
  );

describe('parseProcCgroup', () => {
  it('splits v1 controllers (combined and named hierarchies) and finds the unified path', () => {
    const parsed = parseProcCgroup('12:cpu,cpuacct:/a/b\n9:name=systemd:/sys\n4:memory:/a/b\n0::/u/v\n');
    expect(Object.fromEntries(parsed.v1)).toEqual({ cpu: '/a/b', cpuacct: '/a/b', systemd: '/sys', memory: '/a/b' });
    expect(parsed.unified).toBe('/u/v');
  });
});

describe('cgroupOfPid', () => {
  it('gives a v1 handle with one directory per hierarchy the process is in', async () => {
    const cg = await cgroupOfPid(4242, v1);
    expect(cg).toBeInstanceOf(CgroupV1);
    const paths = (cg as CgroupV1).paths;
    expect(paths.get('memory')).toBe(join(v1.root, 'memory/ctr'));
    expect(paths.get('cpuacct')).toBe(join(v1.root, 'cpuacct/ctr'));
    expect(paths.has('freezer')).toBe(false); // not mounted in the fixture root
  });

  it('gives a v2 handle on a unified host', async () => {
    const cg = await cgroupOfPid(4343, v2);
    expect(cg).toBeInstanceOf(CgroupV2);
    expect((cg as CgroupV2).path).toBe(join(v2.root, 'kubepods/pod1/ctr'));
  });

  it('is CgroupNotFoundError for a process that is gone', async () => {
    await expect(cgroupOfPid(999999, v1)).rejects.toBeInstanceOf(CgroupNotFoundError);
  });
});

describe('v1 metrics', () => {
  const dir = (c: string): string => join(v1.root, c, 'ctr');

  it('packs io.containerd.cgroups.v1.Metrics with the numbers of the files', async () => {
    const any = await (await cgroupOfPid(4242, v1)).metrics();
    expect(any.type_url).toBe('io.containerd.cgroups.v1.Metrics');
    const m = unpackAny(CgroupsV1MetricsType, any);

    // cpu: cpuacct.usage in ns, cpuacct.stat in USER_HZ ticks -> ns, cpu.stat throttling
    const acct = keyed(join(dir('cpuacct'), 'cpuacct.stat'));
    expect(m.cpu?.usage?.total).toBe(num(join(dir('cpuacct'), 'cpuacct.usage')));
    expect(m.cpu?.usage?.user).toBe(acct.user! * 10_000_000);
    expect(m.cpu?.usage?.kernel).toBe(acct.system! * 10_000_000);
    const cpuStat = keyed(join(dir('cpu'), 'cpu.stat'));
    expect(m.cpu?.throttling?.periods).toBe(cpuStat.nr_periods);
    expect(m.cpu?.throttling?.throttledPeriods).toBe(cpuStat.nr_throttled);
    expect(m.cpu?.throttling?.throttledTime).toBe(cpuStat.throttled_time);
    expect(m.cpu?.throttling?.throttledPeriods).toBeGreaterThan(0);

    // memory: what CRI reads, then every memory.stat field
    const stat = keyed(join(dir('memory'), 'memory.stat'));
    expect(m.memory?.usage?.usage).toBe(num(join(dir('memory'), 'memory.usage_in_bytes')));
    expect(m.memory?.usage?.limit).toBe(64 * 1024 * 1024);
    expect(m.memory?.usage?.max).toBe(num(join(dir('memory'), 'memory.max_usage_in_bytes')));
    expect(m.memory?.usage?.failcnt).toBe(0);
    expect(m.memory?.totalRss).toBe(stat.total_rss);
    expect(m.memory?.totalInactiveFile).toBe(stat.total_inactive_file);
    expect(m.memory?.totalPgFault).toBe(stat.total_pgfault);
    expect(m.memory?.totalPgMajFault).toBe(stat.total_pgmajfault);
    expect(m.memory?.pgPgIn).toBe(stat.pgpgin);
    expect(m.memory?.hierarchicalMemoryLimit).toBe(stat.hierarchical_memory_limit);
    // 2^63 - 4096 ("no limit" in v1) is exact as a double and on the wire
    expect(m.memory?.hierarchicalSwapLimit).toBe(2 ** 63 - 4096);
    expect(m.memory?.swap?.limit).toBe(2 ** 63 - 4096);
    expect(m.memory?.kernel?.usage).toBe(num(join(dir('memory'), 'memory.kmem.usage_in_bytes')));
    expect(m.memory?.kernelTcp).toEqual(expect.objectContaining({ usage: 0, limit: 2 ** 63 - 4096 }));
    expect(m.memoryOomControl).toEqual(expect.objectContaining({ oomKillDisable: 0, underOom: 0, oomKill: 0 }));

    // pids
    expect(m.pids?.current).toBe(num(join(dir('pids'), 'pids.current')));
    expect(m.pids?.limit).toBe(64);

    // blkio: no CFQ files here, so the throttle files, with device names from /proc/partitions
    expect(m.blkio?.ioServicedRecursive?.map((e) => [e.device, e.major, e.minor, e.op])).toEqual(
      ['Read', 'Write', 'Sync', 'Async', 'Discard', 'Total'].map((op) => ['/dev/vda', 254, 0, op]),
    );
  });

  it('leaves out what the process has no controller for, as Go does (cpu stays, empty)', async () => {
    const any = await new CgroupV1(new Map([['pids', dir('pids')]]), v1).metrics();
    const m = unpackAny(CgroupsV1MetricsType, any);
    expect(m.memory).toBeNull();
    expect(m.blkio).toBeNull();
    expect(m.pids?.limit).toBe(64);
    expect(m.cpu?.usage?.total).toBe(0);
  });

  it('reads v1 "max" (pids.max) as 0, as Go does', async () => {
    const any = await new CgroupV1(new Map([['pids', join(fixtures, 'v2/sys/kubepods/pod1/ctr')]]), v1).metrics();
    expect(unpackAny(CgroupsV1MetricsType, any).pids).toEqual(expect.objectContaining({ current: 7, limit: 0 }));
  });

  it('parses blkio lines with and without an op and rejects garbage', () => {
    const devices = new Map([['8:0', '/dev/sda']]);
    expect(parseBlkio('8:0 Read 4096\n8:0 Write 12\n8:16 3\nTotal 4108\n', 'f', devices)).toEqual([
      { op: 'Read', device: '/dev/sda', major: 8, value: 4096 },
      { op: 'Write', device: '/dev/sda', major: 8, value: 12 },
      { major: 8, minor: 16, value: 3 },
    ]);
    expect(() => parseBlkio('8:0 Read x\n', 'f', devices)).toThrow(/invalid line/);
  });
});

describe('v2 metrics', () => {
  const dir = join(v2.root, 'kubepods/pod1/ctr');

  it('packs io.containerd.cgroups.v2.Metrics with the numbers of the files', async () => {
    const any = await (await cgroupOfPid(4343, v2)).metrics();
    expect(any.type_url).toBe('io.containerd.cgroups.v2.Metrics');
    const m = unpackAny(CgroupsV2MetricsType, any);
    const cpu = keyed(join(dir, 'cpu.stat'));
    expect(m.cpu).toEqual(
      expect.objectContaining({
        usageUsec: cpu.usage_usec,
        userUsec: cpu.user_usec,
        systemUsec: cpu.system_usec,
        nrPeriods: 412,
        nrThrottled: 57,
        throttledUsec: 1934220,
      }),
    );
    expect(m.cpu?.psi?.some).toEqual(expect.objectContaining({ avg10: 1.52, avg60: 0.87, avg300: 0.21, total: 3412789 }));
    expect(m.cpu?.psi?.full?.total).toBe(120034);

    const mem = keyed(join(dir, 'memory.stat'));
    expect(m.memory).toEqual(
      expect.objectContaining({
        usage: num(join(dir, 'memory.current')),
        usageLimit: 67108864,
        maxUsage: 41943040,
        anon: mem.anon,
        inactiveFile: mem.inactive_file,
        pgfault: mem.pgfault,
        pgmajfault: mem.pgmajfault,
        file: mem.file,
        kernelStack: mem.kernel_stack,
        slab: mem.slab,
        sock: mem.sock,
        shmem: mem.shmem,
        fileMapped: mem.file_mapped,
        fileDirty: mem.file_dirty,
        fileWriteback: mem.file_writeback,
        anonThp: mem.anon_thp,
        inactiveAnon: mem.inactive_anon,
        activeAnon: mem.active_anon,
        activeFile: mem.active_file,
        slabReclaimable: mem.slab_reclaimable,
        slabUnreclaimable: mem.slab_unreclaimable,
        pgscan: 1204,
        pgsteal: 1180,
        pgrefill: 77,
        pgactivate: 510,
        pgdeactivate: 64,
        thpFaultAlloc: 1,
        swapUsage: 0,
      }),
    );
    // "max" is MaxUint64 in Go; decoded as a double it is 2^64
    expect(m.memory?.swapLimit).toBe(2 ** 64);
    expect(m.memory?.psi?.full?.total).toBe(80334);
    expect(m.pids).toEqual(expect.objectContaining({ current: 7, limit: 2 ** 64 }));
    expect(m.memoryEvents).toEqual(expect.objectContaining({ low: 0, high: 0, max: 118, oom: 3, oomKill: 2 }));
    expect(m.io?.usage).toEqual([
      expect.objectContaining({ major: 254, minor: 0, rbytes: 1459200, wbytes: 314773504, rios: 192, wios: 353 }),
      expect.objectContaining({ major: 8, minor: 16, rbytes: 4096, rios: 1 }),
    ]);
    expect(m.io?.psi?.some?.avg10).toBe(0.31);
    expect(m.hugetlb.map((h) => [h.pagesize, h.current, h.max])).toEqual([
      ['1GB', 0, 0],
      ['2MB', 0, 2 ** 64],
    ]);
    expect(m.rdma).not.toBeNull();
  });

  it('encodes MaxUint64 exactly as Go does (ten bytes ff..ff 01)', async () => {
    const pids = encodeMessage(io.containerd.cgroups.v2.PidsStat, { current: 7, limit: u64((1n << 64n) - 1n) });
    expect(pids.toString('hex')).toBe('0807' + '10' + 'ffffffffffffffffff01');
    // and the Metrics bytes carry it: pids is field 1
    const any = await new CgroupV2(dir, v2).metrics();
    expect(Buffer.from(any.value!).subarray(0, 15).toString('hex')).toBe('0a0d' + '0807' + '10ffffffffffffffffff01');
  });

  it('omits zero scalars like Go (an empty cgroup encodes only the always-present messages)', async () => {
    const any = await new CgroupV2(join(fixtures, 'v2/does-not-exist'), { ...v2, hugepagesDir: '/nonexistent' }).metrics();
    // pids{}, cpu{}, memory{}, rdma{}, io{}: five empty messages
    expect(Buffer.from(any.value!).toString('hex')).toBe('0a00' + '1200' + '2200' + '2a00' + '3200');
  });

  it('parses pressure and io.stat like Go, dropping malformed PSI', () => {
    expect(parsePressure('some avg10=0.10 avg60=0.00 avg300=0.00 total=5\n')).toEqual({ some: { avg10: 0.1, total: 5 } });
    expect(parsePressure('some avg10=x avg60=0 avg300=0 total=5\n')).toBeNull();
    expect(parsePressure('some avg10\n')).toBeNull();
    expect(parseIoStat('8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=9 dios=9\nbogus\n8:1 rbytes=x wios=7\n')).toEqual([
      { major: 8, rbytes: 1, wbytes: 2, rios: 3, wios: 4 },
      { major: 8, minor: 1, wios: 7 },
    ]);
  });
});

describe('u64', () => {
  it('keeps exact doubles as numbers and wraps the rest', () => {
    expect(u64(5n)).toBe(5);
    expect(u64(9223372036854771712n)).toBe(2 ** 63 - 4096);
    expect(typeof u64((1n << 64n) - 1n)).toBe('object');
    expect(typeof u64((1n << 53n) + 1n)).toBe('object');
  });
});
