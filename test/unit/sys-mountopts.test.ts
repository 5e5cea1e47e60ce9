import { describe, expect, it } from 'vitest';
import {
  MS_BIND,
  MS_DIRSYNC,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
  compactLowerdir,
  mountPointsUnder,
  optionsSize,
  parseMountInfo,
  parseMountOptions,
  unescapeMountInfo,
  unsupportedMountOption,
} from '../../src/sys/mountopts.js';

describe('parseMountOptions', () => {
  it('maps flag words and keeps the rest as data', () => {
    expect(parseMountOptions(['rbind', 'ro'])).toEqual({ flags: MS_BIND | MS_REC | MS_RDONLY, data: '' });
    expect(parseMountOptions(['bind', 'rw'])).toEqual({ flags: MS_BIND, data: '' });
    expect(parseMountOptions(['nosuid', 'nodev', 'noexec', 'mode=755', 'size=65536k'])).toEqual({
      flags: MS_NOSUID | MS_NODEV | MS_NOEXEC,
      data: 'mode=755,size=65536k',
    });
    expect(parseMountOptions(['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/a:/b'])).toEqual({
      flags: 0,
      data: 'index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b',
    });
  });

  it('applies words in order, so later ones clear earlier ones', () => {
    expect(parseMountOptions(['ro', 'rw']).flags).toBe(0);
    expect(parseMountOptions(['rw', 'ro']).flags).toBe(MS_RDONLY);
    expect(parseMountOptions(['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec']).flags).toBe(0);
    expect(parseMountOptions(['sync', 'async']).flags).toBe(0);
    expect(parseMountOptions(['noatime', 'atime', 'nodiratime', 'diratime', 'mand', 'nomand']).flags).toBe(0);
    expect(parseMountOptions(['relatime', 'norelatime', 'strictatime', 'nostrictatime']).flags).toBe(0);
  });

  it('knows every containerd flag word', () => {
    const cases: Array<[string, number]> = [
      ['sync', MS_SYNCHRONOUS],
      ['dirsync', MS_DIRSYNC],
      ['remount', MS_REMOUNT],
      ['mand', MS_MANDLOCK],
      ['noatime', MS_NOATIME],
      ['nodiratime', MS_NODIRATIME],
      ['relatime', MS_RELATIME],
      ['strictatime', MS_STRICTATIME],
      ['private', MS_PRIVATE],
      ['rprivate', MS_PRIVATE | MS_REC],
      ['shared', MS_SHARED],
      ['rshared', MS_SHARED | MS_REC],
      ['slave', MS_SLAVE],
      ['rslave', MS_SLAVE | MS_REC],
      ['unbindable', MS_UNBINDABLE],
      ['runbindable', MS_UNBINDABLE | MS_REC],
    ];
    for (const [word, flag] of cases) expect(parseMountOptions([word]), word).toEqual({ flags: flag, data: '' });
    expect(parseMountOptions(['defaults'])).toEqual({ flags: 0, data: '' });
  });

  it('returns unsigned flags', () => {
    const { flags } = parseMountOptions(['ro', 'nosuid', 'strictatime', 'rshared']);
    expect(flags).toBeGreaterThan(0);
    expect(flags).toBe(MS_RDONLY | MS_NOSUID | MS_STRICTATIME | MS_SHARED | MS_REC);
  });
});

describe('unsupportedMountOption', () => {
  it('refuses loop and idmapped mounts, accepts the rest', () => {
    expect(unsupportedMountOption(['ro', 'loop'])).toBe('loop');
    expect(unsupportedMountOption(['uidmap=0:1000:1'])).toBe('uidmap=0:1000:1');
    expect(unsupportedMountOption(['rbind', 'ro', 'lowerdir=/x'])).toBeUndefined();
  });
});

describe('compactLowerdir', () => {
  const root = '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots';
  it('mounts from the parent of the common prefix with relative lowerdirs', () => {
    const opts = ['index=off', `lowerdir=${root}/12/fs:${root}/13/fs:${root}/1/fs`, `upperdir=${root}/14/fs`];
    const { chdir, options } = compactLowerdir(opts);
    expect(chdir).toBe(`${root}/`);
    expect(options).toEqual(['index=off', `upperdir=${root}/14/fs`, 'lowerdir=12/fs:13/fs:1/fs']);
    expect(optionsSize(options)).toBeLessThan(optionsSize(opts));
  });

  it('leaves a single lowerdir or unrelated dirs alone', () => {
    expect(compactLowerdir(['lowerdir=/a/b/c'])).toEqual({ chdir: '', options: ['lowerdir=/a/b/c'] });
    expect(compactLowerdir(['lowerdir=/a/x:/b/y'])).toEqual({ chdir: '', options: ['lowerdir=/a/x:/b/y'] });
    expect(compactLowerdir(['index=off'])).toEqual({ chdir: '', options: ['index=off'] });
  });
});

describe('mountinfo', () => {
  const text = [
    '22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw',
    '30 22 0:40 / /run/b/rootfs rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
    '31 30 0:41 / /run/b/rootfs/dev rw master:3 - tmpfs tmpfs rw',
    '32 31 0:42 / /run/b/rootfs/dev/pts rw - devpts devpts rw',
    '33 30 0:43 / /run/b/rootfs rw - tmpfs tmpfs rw',
    '34 22 0:44 / /run/b/rootfs2 rw - tmpfs tmpfs rw',
    '35 22 0:45 / /run/with\\040space rw - tmpfs my\\134src rw',
    'garbage',
    '',
  ].join('\n');

  it('parses fields and octal escapes', () => {
    const entries = parseMountInfo(text);
    expect(entries).toHaveLength(7);
    expect(entries[1]).toEqual({
      id: 30,
      parentId: 22,
      mountPoint: '/run/b/rootfs',
      fsType: 'overlay',
      source: 'overlay',
      superOptions: 'rw,lowerdir=/l,upperdir=/u,workdir=/w',
    });
    expect(entries[2]!.fsType).toBe('tmpfs'); // optional fields skipped
    expect(entries[6]).toMatchObject({ mountPoint: '/run/with space', source: 'my\\src' });
    expect(unescapeMountInfo('a\\011b\\012c')).toBe('a\tb\nc');
  });

  it("gives a cgroup v1 hierarchy's controllers as its super options (cgroups/join.ts reads them)", () => {
    const [entry] = parseMountInfo('38 29 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct');
    expect(entry).toMatchObject({ mountPoint: '/sys/fs/cgroup/cpu,cpuacct', fsType: 'cgroup', superOptions: 'rw,cpu,cpuacct' });
  });

  it('lists mounts under a dir deepest first, stacked ones once each, not siblings with a common prefix', () => {
    expect(mountPointsUnder(parseMountInfo(text), '/run/b/rootfs')).toEqual([
      '/run/b/rootfs/dev/pts',
      '/run/b/rootfs/dev',
      '/run/b/rootfs',
      '/run/b/rootfs',
    ]);
    expect(mountPointsUnder(parseMountInfo(text), '/run/b/rootfs/')).toHaveLength(4);
    expect(mountPointsUnder(parseMountInfo(text), '/nothing')).toEqual([]);
  });
});
