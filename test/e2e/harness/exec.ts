// Child processes of the tests (ctr, umount, ...). The daemon has its own spawn module; tests use this.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  /** Written to stdin, which is then closed (default: empty stdin). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Quotes one word for sh (words of only safe characters stay as they are). */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command to completion; never rejects for a non-zero exit, only when it cannot be started. */
export function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      /* the command may exit without reading its stdin */
    });
    child.stdin.end(opts.input ?? '');
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(formatCommand(file, args), undefined, `cannot run ${formatCommand(file, args)}: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), timedOut });
    });
  });
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running command (e.g. `ctr events`) whose output accumulates while the test runs. */
export class LongRunningCommand {
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private out = '';
  private err = '';
  private exit: ProcessExit | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly command: string,
    file: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdin.on('error', () => {
      /* ignored: the command may not read stdin */
    });
    this.child.stdout.setEncoding('utf8').on('data', (s: string) => {
      this.out += s;
      this.notify();
    });
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.err += s;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      const done = (e: ProcessExit): void => {
        this.exit = e;
        this.notify();
        resolve(e);
      };
      this.child.once('error', (e) => {
        this.err += `cannot run: ${e.message}\n`;
        done({ code: null, signal: null });
      });
      this.child.once('close', (code, signal) => done({ code, signal }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get stdin(): Writable {
    return this.child.stdin;
  }
  stdout(): string {
    return this.out;
  }
  stderr(): string {
    return this.err;
  }
  get exitStatus(): ProcessExit | undefined {
    return this.exit;
  }

  /** Resolves with stdout once it matches, rejects on exit or timeout (the message carries the output). */
  waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      const check = (): void => {
        const m = this.out.match(pattern);
        if (m) finish(() => resolve(m));
        else if (this.exit) finish(() => reject(this.failure(`exited before printing ${pattern}`)));
      };
      timer = setTimeout(() => finish(() => reject(this.failure(`did not print ${pattern} within ${timeoutMs} ms`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.exit) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when it has exited. */
  async stop(graceMs = 2_000): Promise<ProcessExit> {
    if (this.exit) return this.exit;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private failure(what: string): Error {
    return new CommandError(this.command, undefined, `${this.command} ${what}\n--- stdout ---\n${this.out}\n--- stderr ---\n${this.err}`);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * SIGTERM to a daemon the harness started (containerd, dockerd); SIGKILL if it is still there after
 * `graceMs`, recorded in `problems`. Resolves once it is gone.
 */
export async function terminateDaemon(
  child: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean },
  exited: Promise<void>,
  name: string,
  graceMs: number,
  problems: string[],
  isGone: (pid: number) => Promise<boolean>,
): Promise<void> {
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    problems.push(`${name} ignored SIGTERM for ${graceMs / 1000} s; sent SIGKILL`);
    child.kill('SIGKILL');
    await exited;
  }
  await isGone(child.pid ?? 0);
}
