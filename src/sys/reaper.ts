// The one reaper (docs/architecture.md §5, §12.2).
//
// The daemon is a child subreaper, so container processes are reparented to it when runc
// exits. On SIGCHLD the reaper lists this process's children and calls wait4(pid, WNOHANG)
// only for pids that libuv does not own: never wait4(-1), which would steal the exits of
// child_process children and leave their ChildProcess without 'exit'.
import { readdirSync, readFileSync } from 'node:fs';
import { errnoOf } from './errno.js';
import { native } from './native.js';
import { isLibuvOwned } from './spawn.js';

/** How a process ended. */
export interface Exit {
  pid: number;
  /** Exit code, or 128 + signal number when killed by a signal (containerd's convention). */
  status: number;
  /** The terminating signal, when there was one. */
  signal?: number;
  exitedAt: Date;
}

export interface DecodedWaitStatus {
  exited: boolean;
  code: number | null;
  signaled: boolean;
  signal: number | null;
  /** code, or 128 + signal */
  status: number;
}

/** Decodes a raw wait(2) status (WIFEXITED/WEXITSTATUS/WIFSIGNALED/WTERMSIG). */
export function decodeWaitStatus(raw: number): DecodedWaitStatus {
  const low = raw & 0x7f;
  if (low === 0) {
    const code = (raw >> 8) & 0xff;
    return { exited: true, code, signaled: false, signal: null, status: code };
  }
  if (low !== 0x7f) return { exited: false, code: null, signaled: true, signal: low, status: 128 + low };
  // Stopped or continued: not an exit (the reaper never asks for those).
  return { exited: false, code: null, signaled: false, signal: null, status: -1 };
}

/** Minimal logger (pino-compatible). */
export interface ReaperLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WaitOptions {
  /** process.hrtime.bigint() taken before the caller started the process: an unclaimed exit
   * recorded earlier belongs to a previous process with the same pid and is ignored. */
  since?: bigint;
  /** Stops waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface ReaperOptions {
  /** Unclaimed exits kept for late waiters; the oldest is dropped beyond this. */
  maxUnclaimed?: number;
  logger?: ReaperLogger;
  /** Listing of this process's children (tests may replace it). */
  listChildren?: () => number[];
  /** wait4(pid, WNOHANG) returning the raw status, null while running (tests may replace it). */
  wait4?: (pid: number) => { pid: number; status: number } | null;
}

interface KeptExit {
  exit: Exit;
  recordedAt: bigint;
}

interface Waiter {
  resolve(exit: Exit): void;
}

/** Pids of this process's children, from /proc/self/task/<tid>/children of every thread. */
export function listChildren(): number[] {
  const pids: number[] = [];
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return pids;
  }
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, 'latin1');
    } catch {
      continue; // the thread ended meanwhile
    }
    for (const word of text.split(' ')) {
      const pid = Number(word);
      if (word !== '' && Number.isInteger(pid) && pid > 0) pids.push(pid);
    }
  }
  return pids;
}

const silentLogger: ReaperLogger = { debug() {}, warn() {} };

export class Reaper {
  private readonly waiters = new Map<number, Set<Waiter>>();
  /** Insertion order is age order: the first entry is the oldest. */
  private readonly unclaimed = new Map<number, KeptExit>();
  private readonly unclaimedListeners = new Set<(exit: Exit) => void>();
  private readonly maxUnclaimed: number;
  private readonly listChildren: () => number[];
  private readonly wait4: (pid: number) => { pid: number; status: number } | null;
  private readonly logger: ReaperLogger;
  private running = false;
  private readonly onSigchld = (): void => this.sweep();

  constructor(options: ReaperOptions = {}) {
    this.maxUnclaimed = options.maxUnclaimed ?? 4096;
    this.logger = options.logger ?? silentLogger;
    this.listChildren = options.listChildren ?? listChildren;
    this.wait4 = options.wait4 ?? ((pid) => native().wait4(pid));
  }

  /** Becomes the child subreaper, listens for SIGCHLD and reaps what is already there. */
  start(): void {
    if (this.running) return;
    native().setChildSubreaper();
    process.on('SIGCHLD', this.onSigchld);
    this.running = true;
    this.sweep();
  }

  /** Stops listening for SIGCHLD. Pending waiters stay pending; kept exits stay kept. */
  stop(): void {
    if (!this.running) return;
    process.off('SIGCHLD', this.onSigchld);
    this.running = false;
  }

  get started(): boolean {
    return this.running;
  }

  /**
   * Resolves when `pid` exits. If its exit was already reaped and nobody claimed it, resolves
   * with that (and the exit is no longer kept). Several waiters on one pid all get the exit.
   */
  waitFor(pid: number, opts: WaitOptions = {}): Promise<Exit> {
    const kept = this.unclaimed.get(pid);
    if (kept && (opts.since === undefined || kept.recordedAt >= opts.since)) {
      this.unclaimed.delete(pid);
      return Promise.resolve(kept.exit);
    }
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Exit>((resolve, reject) => {
      let set = this.waiters.get(pid);
      if (!set) {
        set = new Set();
        this.waiters.set(pid, set);
      }
      const onAbort = (): void => {
        this.removeWaiter(pid, waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (exit) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(exit);
        },
      };
      set.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Called with every exit that had no waiter when it was reaped (it stays kept for a late waiter). */
  onUnclaimed(listener: (exit: Exit) => void): () => void {
    this.unclaimedListeners.add(listener);
    return () => this.unclaimedListeners.delete(listener);
  }

  /** Number of exits kept for late waiters. */
  get unclaimedCount(): number {
    return this.unclaimed.size;
  }

  /**
   * Reaps every exited child that libuv does not own. SIGCHLDs coalesce, so it lists again
   * until a pass reaps nothing. Runs on SIGCHLD; callable directly (tests, after start-up).
   */
  sweep(): void {
    for (;;) {
      let reaped = 0;
      for (const pid of this.listChildren()) {
        // Zombies of libuv's children show up here too: they are libuv's to reap.
        if (isLibuvOwned(pid)) continue;
        let result: { pid: number; status: number } | null;
        try {
          result = this.wait4(pid);
        } catch (err) {
          // ECHILD: not (or no longer) our child, e.g. it was reaped between listing and wait4.
          if (errnoOf(err) !== 'ECHILD') this.logger.warn({ pid, err }, 'reaper: wait4 failed');
          continue;
        }
        if (result === null) continue;
        reaped++;
        const decoded = decodeWaitStatus(result.status);
        const exit: Exit = { pid: result.pid, status: decoded.status, exitedAt: new Date() };
        if (decoded.signal !== null) exit.signal = decoded.signal;
        this.deliver(exit);
      }
      if (reaped === 0) return;
    }
  }

  private deliver(exit: Exit): void {
    const set = this.waiters.get(exit.pid);
    if (set && set.size > 0) {
      this.waiters.delete(exit.pid);
      for (const waiter of set) waiter.resolve(exit);
      return;
    }
    // Replacing a kept exit of the same pid (pid reuse): the newer one wins, as newest.
    this.unclaimed.delete(exit.pid);
    this.unclaimed.set(exit.pid, { exit, recordedAt: process.hrtime.bigint() });
    // Usually an orphan reparented to us; kept in case its owner asks late.
    this.logger.debug({ pid: exit.pid, status: exit.status }, 'reaper: reaped an exit nobody waits for (yet)');
    while (this.unclaimed.size > this.maxUnclaimed) {
      const oldest = this.unclaimed.keys().next().value as number;
      const dropped = this.unclaimed.get(oldest);
      this.unclaimed.delete(oldest);
      this.logger.debug({ pid: oldest, status: dropped?.exit.status }, 'reaper: dropped the oldest unclaimed exit');
    }
    for (const listener of this.unclaimedListeners) {
      try {
        listener(exit);
      } catch (err) {
        this.logger.warn({ pid: exit.pid, err }, 'reaper: unclaimed-exit listener threw');
      }
    }
  }

  private removeWaiter(pid: number, waiter: Waiter): void {
    const set = this.waiters.get(pid);
    if (!set) return;
    set.delete(waiter);
    if (set.size === 0) this.waiters.delete(pid);
  }
}
