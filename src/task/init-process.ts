// The init process of a container: its state machine and its exit (PROTOCOL.md §3.5).
import type { ProcessIO, StdioPaths } from '../stdio/process-io.js';
import { failedPrecondition } from '../shim/errdefs.js';
import { Deferred } from './serial.js';

export type ProcessState = 'created' | 'running' | 'pausing' | 'paused' | 'stopped' | 'deleted';

export interface ExitInfo {
  status: number;
  exitedAt: Date;
}

/** Which requests each state allows; anything else is FailedPrecondition. */
const allowed: Record<string, readonly ProcessState[]> = {
  start: ['created'],
  delete: ['created', 'stopped'],
};

export class InitProcess {
  pid = 0;
  state: ProcessState = 'created';
  exit: ExitInfo | undefined;
  private readonly exited = new Deferred<ExitInfo>();

  constructor(
    readonly id: string,
    readonly stdio: StdioPaths,
    readonly io: ProcessIO,
  ) {}

  /** Throws FailedPrecondition unless `action` is allowed in the current state. */
  check(action: keyof typeof allowed): void {
    if (!allowed[action]!.includes(this.state)) {
      throw failedPrecondition(`cannot ${action} process ${this.id}: it is ${this.state}`);
    }
  }

  setExited(exit: ExitInfo): void {
    if (this.exit) return;
    this.exit = exit;
    if (this.state !== 'deleted') this.state = 'stopped';
    this.exited.resolve(exit);
  }

  /** Resolves with the exit, however long that takes. */
  wait(): Promise<ExitInfo> {
    return this.exited.promise;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }
}
