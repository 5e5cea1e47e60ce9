// Logging: pino JSON lines into the bundle's `log` FIFO, which containerd copies into its own log.
// The FIFO is opened non-blocking and a write that would block (containerd is down and the
// 64 KiB pipe is full) or fail (no reader) drops the line: logging must never stall the shim.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };

class DroppingFdDestination {
  dropped = 0;
  constructor(private fd: number) {}
  write(line: string): void {
    if (this.fd < 0) return;
    try {
      writeSync(this.fd, line);
    } catch {
      this.dropped++;
    }
  }
  close(): void {
    if (this.fd > 2) closeSync(this.fd);
    this.fd = -1;
  }
}

export interface ShimLogger {
  logger: Logger;
  close(): void;
}

/**
 * A logger writing to `path` (a FIFO or file) or, if it cannot be opened, to stderr.
 * `bindings` go on every line (namespace and task id).
 */
export function openShimLog(path: string | undefined, debug: boolean, bindings: Record<string, string>): ShimLogger {
  let fd = 2;
  if (path) {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_APPEND);
    } catch {
      fd = 2;
    }
  }
  const destination = new DroppingFdDestination(fd);
  const logger = pino(
    {
      level: debug ? 'debug' : 'info',
      base: { pid: process.pid, ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
    },
    destination,
  );
  return { logger, close: () => destination.close() };
}
