// The daemon's log: pino JSON lines into the bundle's `log` FIFO, which containerd copies into
// its own log (docs/architecture.md §10). The FIFO is opened non-blocking, and a line that would block
// (containerd is down and the 64 KiB pipe is full) or fail (no reader) is dropped: logging must
// never stall the shim. Loaded by the daemon only; `delete` logs to stderr through the smaller
// logger in logger.ts.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import pino from 'pino';
import type { Logger } from './logger.js';
import type { LogLevelName } from './start-input.js';

class DroppingFdDestination {
  constructor(public fd: number) {}
  write(line: string): void {
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, line);
    } catch {
      // EAGAIN or EPIPE: the line is dropped.
    }
  }
}

export interface DaemonLog {
  logger: Logger;
  close(): void;
}

/** pino into `path` (or stderr if it cannot be opened) at `level`, with `bindings` on every line. */
export function openDaemonLog(path: string, level: LogLevelName, bindings: Record<string, string>): DaemonLog {
  let fd = 2;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_APPEND);
  } catch {
    fd = 2;
  }
  const destination = new DroppingFdDestination(fd);
  const logger: Logger = pino(
    {
      level,
      base: { pid: process.pid, ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  return {
    logger,
    close: () => {
      if (destination.fd > 2) closeSync(destination.fd);
      destination.fd = -1;
    },
  };
}
