// The cgroup v2 OOM watcher against files in a temp dir: inotify sees writes to regular files
// just as it sees the kernel's updates of memory.events and cgroup.events.
import { mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CgroupV2, OomWatchError, watchOOM, type OomWatcher } from '../../src/cgroups/index.js';
import { until } from '../e2e/harness/wait.js';

const logger = pino({ level: 'silent' });
const memoryEvents = (oom: number, oomKill: number): string => `low 0\nhigh 0\nmax 9\noom ${oom}\noom_kill ${oomKill}\noom_group_kill 0\n`;

/**
 * Resolves once inotify's next event for `file` has reached this process: a watch of our own on the file
 * gets it in the same delivery as the OOM watcher's (libuv shares one inotify watch per file), so by
 * then the watcher has looked at the file. Call it before the write.
 */
function inotifyDelivered(file: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`no inotify event for ${file}`));
    }, 5_000);
    const w = watch(file, { persistent: false }, () => {
      clearTimeout(timer);
      w.close();
      setImmediate(resolve); // after the other watchers' callbacks of this delivery
    });
  });
}

/** Writes `text` to `file` and resolves once the OOM watcher has seen the change (see inotifyDelivered). */
async function writeAndSettle(file: string, text: string): Promise<void> {
  const delivered = inotifyDelivered(file);
  writeFileSync(file, text);
  await delivered;
}

describe('watchOOM on cgroup v2', () => {
  let dir: string;
  let watcher: OomWatcher | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsshim-cg2-'));
    writeFileSync(join(dir, 'memory.events'), memoryEvents(0, 0));
    writeFileSync(join(dir, 'cgroup.events'), 'populated 1\nfrozen 0\n');
  });
  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fires when oom_kill increases, not for oom alone, and stops when the cgroup empties', async () => {
    let ooms = 0;
    watcher = watchOOM(new CgroupV2(dir), () => ooms++, logger);

    await writeAndSettle(join(dir, 'memory.events'), memoryEvents(1, 0)); // an OOM charged here but no kill (pod case)
    expect(ooms).toBe(0);

    writeFileSync(join(dir, 'memory.events'), memoryEvents(2, 1));
    await until(() => ooms === 1, 'the first OOM kill');

    await writeAndSettle(join(dir, 'memory.events'), memoryEvents(2, 1)); // rewritten, same counter
    expect(ooms).toBe(1);

    writeFileSync(join(dir, 'memory.events'), memoryEvents(3, 3)); // two more kills: one notification per change
    await until(() => ooms === 2, 'the second OOM kill');

    writeFileSync(join(dir, 'cgroup.events'), 'populated 0\nfrozen 0\n');
    await until(() => watcher!.closed, 'the watch to end');
    await writeAndSettle(join(dir, 'memory.events'), memoryEvents(4, 4));
    expect(ooms).toBe(2);
  });

  it('check() reports a pending kill at once, and only once', async () => {
    let ooms = 0;
    watcher = watchOOM(new CgroupV2(dir), () => ooms++, logger);
    const delivered = inotifyDelivered(join(dir, 'memory.events'));
    writeFileSync(join(dir, 'memory.events'), memoryEvents(1, 1));
    watcher.check(); // e.g. the init's exit was seen before inotify's event
    expect(ooms).toBe(1);
    await delivered; // inotify's own event for that write finds nothing new
    expect(ooms).toBe(1);
  });

  it('counts only kills after the watch began', () => {
    writeFileSync(join(dir, 'memory.events'), memoryEvents(2, 2)); // kills the cgroup saw before
    let ooms = 0;
    watcher = watchOOM(new CgroupV2(dir), () => ooms++, logger);
    watcher.check();
    expect(ooms).toBe(0);
    writeFileSync(join(dir, 'memory.events'), memoryEvents(3, 3));
    watcher.check();
    expect(ooms).toBe(1);
  });

  it('ends when memory.events disappears, and survives a throwing handler', async () => {
    let calls = 0;
    watcher = watchOOM(
      new CgroupV2(dir),
      () => {
        calls++;
        throw new Error('handler bug');
      },
      logger,
    );
    writeFileSync(join(dir, 'memory.events'), memoryEvents(1, 1));
    await until(() => calls === 1, 'the handler');
    expect(watcher.closed).toBe(false);
    rmSync(join(dir, 'memory.events'));
    await until(() => watcher!.closed, 'the watch to end');
  });

  it('refuses a cgroup without the memory controller', () => {
    rmSync(join(dir, 'memory.events'));
    expect(() => watchOOM(new CgroupV2(dir), () => {}, logger)).toThrow(OomWatchError);
  });

  it('close() is idempotent and stops notifications', async () => {
    let ooms = 0;
    watcher = watchOOM(new CgroupV2(dir), () => ooms++, logger);
    watcher.close();
    watcher.close();
    await writeAndSettle(join(dir, 'memory.events'), memoryEvents(1, 1));
    watcher.check();
    expect(ooms).toBe(0);
  });
});
