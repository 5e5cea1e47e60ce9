// OOM-kill notifications for a container's cgroup (docs/protocol.md §12.6).
//
// v1: an eventfd registered on <memcg>/memory.oom_control through cgroup.event_control; the
//     kernel bumps its counter when the cgroup runs out of memory (sometimes twice for one kill,
//     and before the kill is counted), and once more when the cgroup is removed, which is why
//     each wake-up checks the cgroup still exists. A wake-up only says "look": what is reported
//     is a rise of memory.oom_control's oom_kill, one event per rise, as on v2. The Go shim sends
//     one event per wake-up, so its users see two for one kill now and then. A wake-up with no
//     rise yet re-reads the counter a few times (the kernel counts the kill just after notifying);
//     check() at init's exit catches a kill no wake-up told of. Kernels before 4.13 have no
//     oom_kill line: there each wake-up is one event, as in the Go shim.
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

/** Delays after a wake-up with no counted kill at which oom_kill is read again (ms, cumulative ~1 s). */
const recountDelaysMs = [5, 20, 100, 400, 500];

class EventfdOomWatcher implements OomWatcher {
  get closed(): boolean {
    return this.ended;
  }
  private ended = false;
  private readonly efd: number;
  private poll: PollHandle | null = null;
  private readonly oomControl: string;
  /** oom_kill when the watch began, then at the last report; undefined on kernels without it. */
  private killsSeen: bigint | undefined;
  private recount: NodeJS.Timeout | undefined;

  constructor(
    private readonly dir: string,
    private readonly onOOM: () => void,
    private readonly logger: Logger,
  ) {
    this.oomControl = join(dir, 'memory.oom_control');
    this.killsSeen = readOomKillCounter(this.oomControl);
    this.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    try {
      const control = openSync(this.oomControl, 'r');
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
    if (this.killsSeen === undefined) {
      if (notified) callHandler(this.onOOM, this.logger, this.dir);
      return;
    }
    if (this.killsRose()) {
      this.stopRecount();
      callHandler(this.onOOM, this.logger, this.dir);
    } else if (notified) {
      this.startRecount();
    }
  }

  /** True, and remembered, if oom_kill is above what was last seen. */
  private killsRose(): boolean {
    const now = readOomKillCounter(this.oomControl);
    if (now === undefined || this.killsSeen === undefined || now <= this.killsSeen) return false;
    this.killsSeen = now;
    return true;
  }

  private startRecount(step = 0): void {
    this.stopRecount();
    const delay = recountDelaysMs[step];
    if (delay === undefined) return; // an OOM that killed nothing: not reported (as on v2)
    this.recount = setTimeout(() => {
      this.recount = undefined;
      if (this.ended) return;
      if (this.killsRose()) callHandler(this.onOOM, this.logger, this.dir);
      else this.startRecount(step + 1);
    }, delay);
    this.recount.unref();
  }

  private stopRecount(): void {
    if (this.recount) clearTimeout(this.recount);
    this.recount = undefined;
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopRecount();
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
