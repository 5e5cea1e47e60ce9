// runc failures as typed errors whose message is runc's own last error, as the Go shim
// reports them ("OCI runtime create failed: <runc's message>").
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errnoOf } from '../sys/errno.js';

export class RuncError extends Error {
  override readonly name = 'RuncError';
  constructor(
    /** The runc subcommand: create, start, kill, ... */
    readonly command: string,
    /** runc's exit code; null when it was killed by a signal or never started. */
    readonly exitCode: number | null,
    /** runc's own error text (last "error" line of log.json, else stderr); '' when it said nothing. */
    readonly runcMessage: string,
    detail: { signal?: string | null; stderr?: string; cause?: unknown } = {},
  ) {
    super(
      `OCI runtime ${command} failed: ${runcMessage || describeExit(exitCode, detail.signal ?? null)}`,
      detail.cause === undefined ? undefined : { cause: detail.cause },
    );
    this.signal = detail.signal ?? null;
    this.stderr = detail.stderr ?? '';
  }
  readonly signal: string | null;
  readonly stderr: string;
}

function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `signal: ${signal}`;
  return code === null ? 'did not run' : `exit status ${code}`;
}

/** The trimmed msg of the last `"level":"error"` JSON line in `text`; '' if there is none. */
export function lastErrorMessage(text: string): string {
  let last = '';
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(trimmed);
    } catch {
      continue; // a line cut by a concurrent writer or by our read window
    }
    if (typeof entry !== 'object' || entry === null) continue;
    const { level, msg } = entry as { level?: unknown; msg?: unknown };
    if (level === 'error' && typeof msg === 'string' && msg.trim() !== '') last = msg.trim();
  }
  return last;
}

/** Size of the log file now (0 if it does not exist yet): where this invocation's lines start. */
export async function logOffset(logPath: string): Promise<number> {
  try {
    return (await stat(logPath)).size;
  } catch {
    return 0;
  }
}

/** Bytes read at most from the log after a failure (runc's error is near the end). */
const MAX_LOG_READ = 1 << 20;

/** runc's last error message among the log lines appended since `offset`. */
export async function lastLoggedError(logPath: string, offset: number): Promise<string> {
  let file: FileHandle;
  try {
    file = await open(logPath, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await file.stat();
    // A log that shrank was replaced or truncated: everything in it is new.
    let start = size < offset ? 0 : offset;
    if (size - start > MAX_LOG_READ) start = size - MAX_LOG_READ;
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await file.read(buf, 0, buf.length, start);
    return lastErrorMessage(buf.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return '';
  } finally {
    await file.close();
  }
}

export type KillNotFoundReason = 'process already finished' | 'no such container';

/**
 * Why a kill failed because its target is gone, or undefined for any other failure. The task
 * layer answers NotFound for these (clients treat that as "already dead"), like the Go shim.
 */
export function killNotFoundReason(err: unknown): KillNotFoundReason | undefined {
  if (!(err instanceof Error)) return undefined;
  if (errnoOf(err) === 'ESRCH') return 'process already finished';
  const text = err instanceof RuncError ? `${err.message}\n${err.stderr}` : err.message;
  if (
    text.includes('process already finished') ||
    text.includes('container not running') ||
    text.toLowerCase().includes('no such process')
  ) {
    return 'process already finished';
  }
  if (text.includes('does not exist')) return 'no such container';
  return undefined;
}

export function isNotFoundKillError(err: unknown): boolean {
  return killNotFoundReason(err) !== undefined;
}
