// A container process (init or exec): its state machine, its stdio and its exit (docs/protocol.md §8.4).
import type { StdioHandle, StdioPaths } from '../stdio/process-io.js';
import { failedPrecondition } from '../shim/errdefs.js';
import { Deferred } from './serial.js';

export type ProcessState = 'created' | 'running' | 'pausing' | 'paused' | 'stopped' | 'deleted';

export interface ExitInfo {
  status: number;
  exitedAt: Date;
}

type Action = 'start' | 'delete' | 'pause' | 'resume';

/** Which requests each state allows; anything else is FailedPrecondition. */
const allowed: Record<'init' | 'exec', Partial<Record<Action, readonly ProcessState[]>>> = {
  init: { start: ['created'], delete: ['created', 'stopped'], pause: ['running'], resume: ['paused'] },
  exec: { start: ['created'], delete: ['created', 'stopped'] },
};

export class ContainerProcess {
  pid = 0;
  state: ProcessState = 'created';
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
  ) {}

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

  /** Throws FailedPrecondition unless `action` is allowed in the current state. */
  check(action: Action): void {
    if (!allowed[this.kind][action]?.includes(this.state)) {
      throw failedPrecondition(`cannot ${action} ${this.kind} process ${this.id}: it is ${this.state}`);
    }
  }

  setExited(exit: ExitInfo): void {
    if (this.exit) return;
    this.exit = exit;
    if (this.state !== 'deleted') this.state = 'stopped';
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
  constructor(id: string, stdio: StdioPaths, readonly spec: Record<string, unknown>) {
    super(id, 'exec', stdio);
  }
}
