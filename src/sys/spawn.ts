// The only way the daemon starts a child process.
//
// libuv reaps the children it spawned by exact pid. The reaper (reaper.ts) must never
// wait4() one of those, or libuv loses the exit and the ChildProcess never emits 'exit'.
// So every spawn goes through here, and the pids libuv owns are recorded until libuv
// has reaped them.
import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const libuvOwned = new Set<number>();

/** True while `pid` is a child that libuv (child_process) will reap itself. */
export function isLibuvOwned(pid: number): boolean {
  return libuvOwned.has(pid);
}

/** child_process.spawn, with the child's pid recorded as libuv's until it exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = nodeSpawn(command, args, options);
  const pid = child.pid;
  if (pid !== undefined) {
    libuvOwned.add(pid);
    // 'exit' is emitted after libuv's waitpid() returned, so the pid is free again.
    child.once('exit', () => libuvOwned.delete(pid));
  }
  return child;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdio for fds 0..n; numbers are inherited fds. Default: ignore, pipe, pipe. */
  stdio?: Array<'ignore' | 'pipe' | 'inherit' | number>;
  /** Written to stdin (stdio[0] becomes a pipe). */
  input?: Buffer | string;
  signal?: AbortSignal;
  /** Cap on captured stdout/stderr bytes each (default 16 MiB). */
  maxBuffer?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** Runs a command to completion and captures its output. Never rejects on a non-zero exit. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const stdio = options.stdio ? [...options.stdio] : ['ignore', 'pipe', 'pipe'];
  if (options.input !== undefined) stdio[0] = 'pipe';
  const maxBuffer = options.maxBuffer ?? 16 << 20;
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawnTracked(command, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: stdio as SpawnOptions['stdio'],
        signal: options.signal,
      });
    } catch (err) {
      reject(err);
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout?.on('data', (b: Buffer) => {
      if (outLen < maxBuffer) {
        out.push(b);
        outLen += b.length;
      }
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen < maxBuffer) {
        err.push(b);
        errLen += b.length;
      }
    });
    child.once('error', reject);
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {
        /* the child may exit without reading; its status tells */
      });
      child.stdin.end(options.input);
    }
    child.once('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
    });
  });
}
