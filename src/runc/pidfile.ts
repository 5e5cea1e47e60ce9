// Reading the pid files runc writes (--pid-file).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoOf } from '../sys/errno.js';

class PidFileError extends Error {
  override readonly name = 'PidFileError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`pid file ${path}: ${message}`, options);
  }
}

export interface ReadPidFileOptions {
  /** Attempts while the file is missing or empty (default 20). */
  attempts?: number;
  /** Pause between attempts in ms (default 10). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * The pid in `path`. runc writes it before it returns, but through a rename, so a reader
 * racing a writer (or a slow filesystem) may briefly see no file or an empty one: retry then.
 */
export async function readPidFile(path: string, options: ReadPidFileOptions = {}): Promise<number> {
  const attempts = Math.max(1, options.attempts ?? 20);
  const intervalMs = options.intervalMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    let text: string | undefined;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') {
        throw new PidFileError(path, (err as Error).message, { cause: err });
      }
      if (attempt >= attempts) throw new PidFileError(path, 'does not exist', { cause: err });
    }
    if (text !== undefined && text !== '') {
      const pid = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(pid) || pid <= 0) throw new PidFileError(path, `invalid content ${JSON.stringify(text)}`);
      return pid;
    }
    if (text !== undefined && attempt >= attempts) throw new PidFileError(path, 'is empty');
    await sleep(intervalMs, undefined, options.signal ? { signal: options.signal } : undefined);
  }
}
