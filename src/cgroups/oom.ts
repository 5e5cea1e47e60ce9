// OOM-kill notifications for a container's cgroup (docs/protocol.md §12.6).
//
// v1: an eventfd registered on <memcg>/memory.oom_control through cgroup.event_control; the
//     kernel bumps its counter on every OOM in the cgroup, and once more when the cgroup is
//     removed, which is why each wake-up checks the cgroup still exists.
//     The eventfd only tells of OOMs after it was registered, so check() also compares the
//     cgroup's oom_kill counter (memory.oom_control) with its value when the watch began: a kill
//     that rose it with no notification (or before one) is reported once.
// v2: inotify on memory.events and cgroup.events; on any change memory.events is re-read and an
//     increase of oom_kill since the watch began (not oom: in a pod the oom counter is charged to
//     the pod's cgroup, containerd#6323) is an OOM kill; the watch ends once the cgroup is empty or gone.
import { closeSync, existsSync, openSync, readFileSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shim/logger.js';
import { EFD_CLOEXEC, EFD_NONBLOCK, closeFd, eventfd, pollReadable, type PollHandle } from '../sys/native.js';
import type { Cgroup } from './cgroup.js';
import { errnoOf } from '../sys/errno.js';
import { OomWatchError, isGone } from './errors.js';
import { parseFlatKeyed } from './files.js';

export interface OomWatcher {
  /**
   * Looks at the cgroup now and calls onOOM for an OOM kill not reported yet. Call it when the
   * container's init exits, before publishing its exit, so /tasks/oom is published first even if
   * the kernel's notification has not reached the event loop yet.
   */
  check(): void;
  /** Stops watching and closes every fd and watch; idempotent. */
  close(): void;
  readonly closed: boolean;
}

/**
 * Calls `onOOM` (synchronously, on the event loop) for each OOM kill in the cgroup until
 * `close()` or until the cgroup goes away. The watch does not keep the process alive.
 * Throws OomWatchError if it cannot be set up (the Go shim logs that and runs on).
 */
export function watchOOM(cgroup: Cgroup, onOOM: () => void, logger: Logger): OomWatcher {
  if (cgroup.version === 1) {
    const dir = cgroup.memoryPath;
    if (dir === undefined) throw new OomWatchError('(no memory cgroup)', 'the process is in no memory cgroup v1 hierarchy');
    return new EventfdOomWatcher(dir, onOOM, logger);
  }
  return new InotifyOomWatcher(cgroup.path, onOOM, logger);
}

function callHandler(onOOM: () => void, logger: Logger, dir: string): void {
  try {
    onOOM();
  } catch (err) {
    logger.error({ err, cgroup: dir }, 'OOM handler failed');
  }
}

class EventfdOomWatcher implements OomWatcher {
  get closed(): boolean {
    return this.ended;
  }
  private ended = false;
  private readonly efd: number;
  private poll: PollHandle | null = null;
  /** oom_kill when the watch began; undefined on kernels without that counter (before 4.13). */
  private readonly baseline: bigint | undefined;
  private reported = 0;

  constructor(
    private readonly dir: string,
    private readonly onOOM: () => void,
    private readonly logger: Logger,
  ) {
    this.baseline = readOomKillCounter(join(dir, 'memory.oom_control'));
    this.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    try {
      const control = openSync(join(dir, 'memory.oom_control'), 'r');
      try {
        writeFileSync(join(dir, 'cgroup.event_control'), `${this.efd} ${control}`);
      } finally {
        closeSync(control); // the kernel holds its own reference once registered
      }
      this.arm();
    } catch (err) {
      closeFd(this.efd);
      this.ended = true;
      throw new OomWatchError(dir, (err as Error).message, { cause: err });
    }
  }

  check(): void {
    if (this.ended) return;
    const notified = this.readCounter() > 0n;
    if (!existsSync(this.dir)) {
      this.logger.debug({ cgroup: this.dir }, 'memory cgroup removed; OOM watch ends');
      this.close();
      return;
    }
    if (notified || (this.reported === 0 && this.oomKillsSinceStart() > 0n)) {
      this.reported++;
      callHandler(this.onOOM, this.logger, this.dir);
    }
  }

  /** How much memory.oom_control's oom_kill rose since the watch began (0 if unreadable). */
  private oomKillsSinceStart(): bigint {
    const now = readOomKillCounter(join(this.dir, 'memory.oom_control'));
    return now === undefined || this.baseline === undefined ? 0n : now - this.baseline;
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.poll?.close();
    this.poll = null;
    closeFd(this.efd);
  }

  private arm(): void {
    const poll = pollReadable(this.efd, (err) => {
      this.poll = null;
      if (this.ended) return;
      if (err) {
        this.logger.warn({ err, cgroup: this.dir }, 'OOM eventfd poll failed; OOM watch ends');
        this.close();
        return;
      }
      this.check();
      if (this.ended) return;
      try {
        this.arm();
      } catch (armErr) {
        this.logger.warn({ err: armErr, cgroup: this.dir }, 'cannot re-arm the OOM eventfd poll; OOM watch ends');
        this.close();
      }
    });
    poll.unref();
    this.poll = poll;
  }

  /** The eventfd counter (events since the last read), 0 when nothing is pending. */
  private readCounter(): bigint {
    const buf = Buffer.alloc(8);
    try {
      if (readSync(this.efd, buf, 0, 8, null) !== 8) return 0n;
    } catch (err) {
      if (errnoOf(err) === 'EAGAIN') return 0n;
      this.logger.warn({ err, cgroup: this.dir }, 'OOM eventfd read failed; OOM watch ends');
      this.close();
      return 0n;
    }
    return buf.readBigUInt64LE(0);
  }
}

class InotifyOomWatcher implements OomWatcher {
  get closed(): boolean {
    return this.ended;
  }
  private ended = false;
  private readonly watchers: FSWatcher[] = [];
  private readonly memoryEvents: string;
  private lastOomKill = 0n;

  constructor(
    private readonly dir: string,
    private readonly onOOM: () => void,
    private readonly logger: Logger,
  ) {
    this.memoryEvents = join(dir, 'memory.events');
    if (!existsSync(this.memoryEvents)) {
      this.ended = true;
      throw new OomWatchError(dir, 'no memory.events (memory controller not enabled for this cgroup)');
    }
    this.lastOomKill = readOomKillCounter(this.memoryEvents) ?? 0n;
    try {
      for (const file of [this.memoryEvents, join(dir, 'cgroup.events')]) {
        const watcher = watch(file, { persistent: false });
        this.watchers.push(watcher);
        watcher.on('change', () => this.check());
        watcher.on('error', (err) => {
          this.logger.debug({ err, cgroup: this.dir }, 'cgroup events watch ended');
          this.close();
        });
      }
    } catch (err) {
      this.close();
      throw new OomWatchError(dir, (err as Error).message, { cause: err });
    }
  }

  check(): void {
    if (this.ended) return;
    let events: Map<string, bigint>;
    try {
      events = parseFlatKeyed(readFileSync(this.memoryEvents, 'utf8'), this.memoryEvents);
    } catch (err) {
      if (!isGone(err)) this.logger.warn({ err, cgroup: this.dir }, 'cannot read memory.events; OOM watch ends');
      this.close();
      return;
    }
    const oomKill = events.get('oom_kill') ?? 0n;
    const fire = oomKill > this.lastOomKill;
    if (oomKill > this.lastOomKill) this.lastOomKill = oomKill;
    if (fire) callHandler(this.onOOM, this.logger, this.dir);
    if (!this.ended && this.isEmpty()) {
      this.logger.debug({ cgroup: this.dir }, 'cgroup empty; OOM watch ends');
      this.close();
    }
  }

  close(): void {
    this.ended = true;
    for (const watcher of this.watchers.splice(0)) watcher.close();
  }

  /** cgroup.events "populated 0", or unreadable (gone): nothing left to watch. */
  private isEmpty(): boolean {
    try {
      const events = parseFlatKeyed(readFileSync(join(this.dir, 'cgroup.events'), 'utf8'), 'cgroup.events');
      return events.get('populated') !== 1n;
    } catch {
      return true;
    }
  }
}

/** The oom_kill line of memory.oom_control (v1) or memory.events (v2); undefined if unreadable. */
function readOomKillCounter(path: string): bigint | undefined {
  try {
    return parseFlatKeyed(readFileSync(path, 'utf8'), path).get('oom_kill');
  } catch {
    return undefined;
  }
}
