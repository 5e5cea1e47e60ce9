// Opening the client's stdio FIFOs without ever blocking the event loop or libuv's threadpool.
import { closeSync, constants, openSync, statSync } from 'node:fs';

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_APPEND, O_CREAT } = constants;

export interface OutputTarget {
  /** Our write end (FIFO or file). */
  writeFd: number;
  /** For a FIFO: a read end we hold so that writes never fail with EPIPE when the client's reader goes away. */
  keepAliveFd: number | undefined;
  isFifo: boolean;
}

function isFifo(path: string): boolean {
  try {
    return statSync(path).isFIFO();
  } catch {
    return false;
  }
}

/**
 * Opens a stdout/stderr destination. A FIFO is opened read-only first (never blocks), which
 * makes the write-only open succeed at once, and that reader keeps the FIFO alive while a
 * client (ctr, containerd) is away. A regular file or a path that does not exist yet is appended to.
 */
export function openOutput(path: string): OutputTarget {
  if (isFifo(path)) {
    const keepAliveFd = openSync(path, O_RDONLY | O_NONBLOCK);
    try {
      return { writeFd: openSync(path, O_WRONLY | O_NONBLOCK), keepAliveFd, isFifo: true };
    } catch (err) {
      closeSync(keepAliveFd);
      throw err;
    }
  }
  return { writeFd: openSync(path, O_WRONLY | O_APPEND | O_CREAT, 0o644), keepAliveFd: undefined, isFifo: false };
}

export interface InputSource {
  readFd: number;
  /**
   * A write end we hold so the reader does not see EOF when the client closes its writer
   * for a moment (e.g. containerd restarting). CloseIO closes it.
   */
  holdOpenFd: number | undefined;
}

export function openInput(path: string): InputSource {
  const readFd = openSync(path, O_RDONLY | O_NONBLOCK);
  if (!isFifo(path)) return { readFd, holdOpenFd: undefined };
  try {
    return { readFd, holdOpenFd: openSync(path, O_WRONLY | O_NONBLOCK) };
  } catch (err) {
    closeSync(readFd);
    throw err;
  }
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined || fd < 0) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
