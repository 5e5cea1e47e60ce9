// A daemon the harness runs (containerd, dockerd): its output kept (bounded), its exit, readiness and
// termination. Containerd and Dockerd each run theirs through one of these.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { terminateDaemon } from './exec.js';
import { isAlive } from './procs.js';
import { waitFor } from './wait.js';

export class DaemonProcess {
  /** Resolves when the daemon has exited (or could not be started). */
  readonly exited: Promise<void>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private log = '';
  private gone = false;

  /** Starts `file args` with stdout and stderr kept; the oldest half is dropped past `logLimit` characters. */
  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    logLimit: number,
  ) {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const append = (s: string): void => {
      this.log += s;
      if (this.log.length > logLimit) this.log = this.log.slice(-logLimit / 2);
    };
    child.stdout.setEncoding('utf8').on('data', append);
    child.stderr.setEncoding('utf8').on('data', append);
    // 'exit', not 'close': a leaked child (a shim) could keep the pipes open after the daemon is gone.
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (e) => {
        append(`\n[harness] cannot run ${file}: ${e.message}\n`);
        resolve();
      });
    });
    void this.exited.then(() => {
      this.gone = true;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  logs(): string {
    return this.log;
  }

  logsTail(lines: number): string {
    return this.log
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }

  isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once `ready()` holds; throws with the log's tail if the daemon exits first or `timeoutMs` passes. */
  async waitUntilReady(ready: () => boolean, what: string, timeoutMs: number, intervalMs: number): Promise<void> {
    const ok = await waitFor(() => this.gone || ready(), timeoutMs, intervalMs);
    if (this.gone || !ok) {
      throw new Error(
        `${what} ${this.gone ? 'exited during start-up' : `was not ready within ${timeoutMs} ms`}` +
          `\n--- ${this.name} log ---\n${this.logsTail(60)}`,
      );
    }
  }

  /** SIGTERM, SIGKILL after `graceMs` (recorded in `problems`); resolves once it is gone. */
  async terminate(graceMs: number, problems: string[]): Promise<void> {
    if (!this.child.pid || !this.isRunning()) return;
    await terminateDaemon(this.child, this.exited, this.name, graceMs, problems, (pid) => waitFor(() => !isAlive(pid), 2_000));
  }
}
