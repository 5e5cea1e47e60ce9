// Run by sys-mount.test.ts under `unshare -m --propagation private`: real mounts that vanish
// with the namespace. Prints one JSON report line; each check records what it saw.
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountAll, mountPointsUnder, parseMountInfo, unmountAll, MountError, type MountSpec } from '../../../src/sys/mount.js';
import { native } from '../../../src/sys/native.js';

const mountsUnder = (dir: string) =>
  parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((e) => e.mountPoint === dir || e.mountPoint.startsWith(`${dir}/`));
const mountOptionsOf = (dir: string): string => {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === dir)
    .pop();
  return line?.split(' ')[5] ?? '';
};
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
};

async function main(): Promise<Record<string, unknown>> {
  const base = mkdtempSync(join(tmpdir(), 'tsshim-mounts-'));
  const report: Record<string, unknown> = {};
  try {
    // A tmpfs whose own root everything else lives in (so cleanup is one unmountAll).
    const root = join(base, 'root');
    mkdirSync(root);

    // 1. tmpfs with flags and data.
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=1m', 'mode=0750'] }], root);
    const tmpfs = mountsUnder(root);
    report.tmpfs = { count: tmpfs.length, fsType: tmpfs[0]?.fsType, options: mountOptionsOf(root) };
    writeFileSync(join(root, 'hello'), 'hi');

    // 2. Read-only bind (bind, then remount read-only), target relative to the dir.
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'content');
    mkdirSync(join(root, 'ro'));
    await mountAll([{ type: 'bind', source: src, target: 'ro', options: ['rbind', 'ro'] }], root);
    report.roBind = {
      read: readFileSync(join(root, 'ro', 'file'), 'utf8'),
      write: errorOf(() => writeFileSync(join(root, 'ro', 'new'), 'x')),
      options: mountOptionsOf(join(root, 'ro')),
    };

    // 3. A symlinked target cannot escape the dir: /etc is re-rooted inside it.
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'escape'));
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', target: 'escape', options: ['size=1m'] }], root);
    report.escape = {
      mountedAtReRooted: mountsUnder(join(root, 'etc')).length === 1,
      hostEtcUntouched: mountsUnder('/etc').length === 0,
    };

    // 4. Stacked mounts on one path and a nested one.
    mkdirSync(join(root, 'stack'));
    await mountAll(
      [
        { type: 'tmpfs', source: 'tmpfs', target: 'stack', options: ['size=1m'] },
        { type: 'tmpfs', source: 'tmpfs', target: 'stack', options: ['size=1m'] },
      ],
      root,
    );
    mkdirSync(join(root, 'stack', 'deep'));
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', target: 'stack/deep', options: ['size=1m'] }], root);
    report.before = mountPointsUnder(mountsUnder(root), root).length;

    // 5. A failing mount rolls back everything under its dir.
    const rollback = join(base, 'rollback');
    mkdirSync(rollback);
    let rollbackError = 'none';
    try {
      await mountAll(
        [
          { type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
          { type: 'no-such-fs', source: 'x', options: [] },
        ],
        rollback,
      );
    } catch (err) {
      rollbackError = err instanceof MountError ? err.message : `not a MountError: ${String(err)}`;
    }
    report.rollback = { error: rollbackError, left: mountsUnder(rollback).length };
    report.refused = await mountAll([{ type: 'ext4', source: '/x.img', options: ['loop'] }], rollback).then(
      () => 'mounted?!',
      (err: unknown) => (err instanceof MountError ? err.message : String(err)),
    );

    // 6. Overlay with lowerdirs longer than a page (mounted from their common parent).
    report.overlay = await overlayLong(base);

    // 7. A busy mount (open file) is retried, then detached lazily.
    const busy = join(base, 'busy');
    mkdirSync(busy);
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], busy);
    const fd = openSync(join(busy, 'held'), 'w');
    const busyErr = errorOf(() => native().umount2(busy, 0));
    await unmountAll(busy, { busyRetries: 2, busyDelayMs: 10 });
    closeSync(fd);
    report.busy = { firstTry: busyErr, left: mountsUnder(busy).length };

    // 8. unmountAll takes everything under root, deepest first; a missing dir is a no-op.
    await unmountAll(root);
    report.after = mountsUnder(root).length;
    await unmountAll(join(base, 'does-not-exist'));
    return report;
  } finally {
    await unmountAll(base).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  }
}

async function overlayLong(base: string): Promise<Record<string, unknown>> {
  // Like containerd's snapshotter: a long common prefix, short numbered layer dirs.
  const snapshots = join(base, `io.containerd.snapshotter.v1.overlayfs-${'p'.repeat(60)}`, 'snapshots');
  const layers: string[] = [];
  for (let i = 1; i <= 70; i++) {
    const layer = join(snapshots, String(i), 'fs');
    mkdirSync(layer, { recursive: true });
    writeFileSync(join(layer, `layer${i}`), String(i));
    layers.push(layer);
  }
  writeFileSync(join(layers[69]!, 'shared'), 'bottom');
  writeFileSync(join(layers[0]!, 'shared'), 'top');
  const upper = join(base, 'upper');
  const work = join(base, 'work');
  const merged = join(base, 'merged');
  for (const d of [upper, work, merged]) mkdirSync(d);
  const options = ['index=off', `workdir=${work}`, `upperdir=${upper}`, `lowerdir=${layers.join(':')}`];
  const spec: MountSpec = { type: 'overlay', source: 'overlay', options };
  const optionBytes = options.join(',').length;
  try {
    await mountAll([spec], merged);
  } catch (err) {
    return { optionBytes, error: String(err) };
  }
  const result = {
    optionBytes,
    cwdUnchanged: process.cwd(),
    top: readFileSync(join(merged, 'shared'), 'utf8'),
    deepest: readFileSync(join(merged, 'layer70'), 'utf8'),
  };
  await unmountAll(merged);
  return { ...result, left: mountsUnder(merged).length };
}

const cwdBefore = process.cwd();
main().then(
  (report) => process.stdout.write(`${JSON.stringify({ ...report, cwdBefore })}\n`),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: String(err instanceof Error ? err.stack : err) })}\n`);
    process.exitCode = 1;
  },
);
