// A container process (init or exec): its state machine, its stdio and its exit (docs/protocol.md §8.4).
//
// Every state change goes through transition(), which knows the legal moves; every request asks
// check() whether the current state allows it. Anything else is a bug (transition) or a
// FailedPrecondition naming the state (check).
import type { StdioHandle, StdioPaths } from '../stdio/process-io.js';
import { failedPrecondition } from '../shim/errdefs.js';
import { Deferred } from './serial.js';

export type ProcessState =
  | 'created'
  /** Created from a checkpoint: nothing runs until Start restores it (init only). */
  | 'restore-pending'
  | 'running'
  | 'pausing'
  | 'paused'
  | 'stopped'
  | 'deleted';

export interface ExitInfo {
  status: number;
  exitedAt: Date;
}

/** The moves a process can make. `created -> deleted` is a never-started exec's delete. */
const transitions: Record<ProcessState, readonly ProcessState[]> = {
  created: ['running', 'stopped', 'deleted'],
  'restore-pending': ['running', 'stopped', 'deleted'],
  running: ['pausing', 'stopped'],
  pausing: ['paused', 'running', 'stopped'],
  paused: ['running', 'stopped'],
  stopped: ['deleted'],
  deleted: [],
};

export type Request = 'start' | 'delete' | 'pause' | 'resume' | 'checkpoint' | 'update' | 'exec' | 'pids' | 'kill';

const live: readonly ProcessState[] = ['created', 'restore-pending', 'running', 'pausing', 'paused'];

/** Which requests each state allows; anything else is FailedPrecondition. */
const allowed: Record<'init' | 'exec', Partial<Record<Request, readonly ProcessState[]>>> = {
  init: {
    start: ['created', 'restore-pending'],
    delete: ['created', 'restore-pending', 'stopped'],
    pause: ['running'],
    resume: ['paused'],
    checkpoint: ['running', 'paused'],
    update: ['created', 'running', 'pausing', 'paused'],
    exec: live,
    pids: [...live, 'stopped'],
    kill: live,
  },
  exec: {
    start: ['created'],
    delete: ['created', 'stopped'],
    kill: ['running'],
  },
};

/** A transition the machine does not allow: a bug in the shim, not a bad request. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly processId: string,
    readonly from: ProcessState,
    readonly to: ProcessState,
  ) {
    super(`process ${processId}: illegal state change ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export class ContainerProcess {
  pid = 0;
  private current: ProcessState;
  exit: ExitInfo | undefined;
  private stdioHandle: StdioHandle | undefined;
  private stdinClosed = false;
  /** Set while runc starts it, so an exit racing the start is handled after the start event. */
  starting: Promise<void> | undefined;
  private readonly exited = new Deferred<ExitInfo>();

  constructor(
    /** Container id for init, exec id for an exec. */
    readonly id: string,
    readonly kind: 'init' | 'exec',
    readonly stdio: StdioPaths,
    initial: 'created' | 'restore-pending' = 'created',
  ) {
    this.current = initial;
  }

  get state(): ProcessState {
    return this.current;
  }

  /** Moves to `to`; throws IllegalTransitionError if the machine has no such move. */
  transition(to: ProcessState): void {
    if (!transitions[this.current].includes(to)) throw new IllegalTransitionError(this.id, this.current, to);
    this.current = to;
  }

  /** Throws FailedPrecondition unless `request` is allowed in the current state. */
  check(request: Request): void {
    if (!this.allows(request)) {
      throw failedPrecondition(`cannot ${request} ${this.kind} process ${this.id}: it is ${this.current}`);
    }
  }

  allows(request: Request): boolean {
    return allowed[this.kind][request]?.includes(this.current) ?? false;
  }

  get io(): StdioHandle | undefined {
    return this.stdioHandle;
  }

  /** Sets the stdio once the process exists; a CloseIO that came earlier applies now. */
  attachIO(io: StdioHandle): void {
    this.stdioHandle = io;
    if (this.stdinClosed) io.closeStdin();
  }

  /** CloseIO{stdin}; may arrive while the process is still being started (containerd 1.7 sends it in parallel). */
  closeStdin(): void {
    this.stdinClosed = true;
    this.stdioHandle?.closeStdin();
  }

  /** Records the exit (once) and releases the waiters; a deleted process stays deleted. */
  setExited(exit: ExitInfo): void {
    if (this.exit) return;
    this.exit = exit;
    if (this.current !== 'deleted' && this.current !== 'stopped') this.transition('stopped');
    this.exited.resolve(exit);
  }

  /** A process that failed to start: Wait returns `exit`, the state does not change. */
  releaseWaiters(exit: ExitInfo): void {
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

/** An exec process also carries the OCI process spec it was registered with. */
export class ExecProcess extends ContainerProcess {
  constructor(
    id: string,
    stdio: StdioPaths,
    readonly spec: Record<string, unknown>,
  ) {
    super(id, 'exec', stdio);
  }
}
