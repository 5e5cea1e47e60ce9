// Terminal I/O: the pty master runc sent over the console socket, copied to the client's
// stdout FIFO and fed from its stdin FIFO (docs/protocol.md §12.3, terminal mode).
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { Socket } from 'node:net';
import { setWinsize } from '../sys/native.js';
import type { Logger } from '../shim/logger.js';
import { closeQuietly, openInput, openOutput } from './fifo.js';
import { PtyReadable, PtyWritable } from './pty-stream.js';
import { outputPassedOn, outputStallMs, settledWithin, type StdioHandle, type StdioPaths } from './process-io.js';

/** Takes ownership of `masterFd`; the handle closes it. */
export function attachConsole(masterFd: number, paths: StdioPaths, logger: Logger): StdioHandle {
  const fromConsole = new PtyReadable(masterFd);
  const toConsole = new PtyWritable(masterFd);
  let stdinHoldOpen: number | undefined;
  let stdinSource: Socket | undefined;
  let keepAliveFd: number | undefined;
  let closed = false;

  let copied: Promise<void> = Promise.resolve();
  let sink: Writable | undefined;
  const progress = {
    ended: !paths.stdout,
    get bytesWritten(): number {
      return (sink as (Writable & { bytesWritten?: number }) | undefined)?.bytesWritten ?? 0;
    },
  };
  if (paths.stdout) {
    const target = openOutput(paths.stdout);
    keepAliveFd = target.keepAliveFd;
    const out: Writable = target.isFifo
      ? new Socket({ fd: target.writeFd, readable: false, writable: true })
      : createWriteStream('', { fd: target.writeFd });
    sink = out;
    copied = new Promise<void>((resolve) => {
      const done = () => resolve();
      out.once('close', done);
      out.once('finish', done);
      out.on('error', (err: Error) => {
        logger.warn({ err: err.message }, 'console copy: writing failed; discarding the rest');
        fromConsole.unpipe(out);
        fromConsole.resume();
        done();
      });
    });
    fromConsole.pipe(out);
    void copied.then(() => {
      progress.ended = true;
    });
  } else {
    fromConsole.resume();
  }
  fromConsole.on('error', (err: NodeJS.ErrnoException) => {
    logger.warn({ err: err.message }, 'console read failed');
    // An erroring source unpipes itself: finish the copy by hand.
    sink?.end();
  });
  toConsole.on('error', (err) => logger.debug({ err: err.message }, 'console write ended'));

  if (paths.stdin) {
    const input = openInput(paths.stdin);
    stdinHoldOpen = input.holdOpenFd;
    stdinSource = new Socket({ fd: input.readFd, readable: true, writable: false });
    stdinSource.on('error', () => {
      /* the client went away: nothing more to type */
    });
    // The console stays open when stdin ends: the process may still be writing.
    stdinSource.pipe(toConsole, { end: false });
  }

  return {
    runcStdio: ['ignore', 'ignore', 'ignore'],
    afterStart() {
      /* runc holds no fd of ours in terminal mode */
    },
    closeStdin() {
      closeQuietly(stdinHoldOpen);
      stdinHoldOpen = undefined;
    },
    resize(width, height) {
      setWinsize(masterFd, height, width);
    },
    outputCopied(timeoutMs) {
      return outputPassedOn([progress], () => (keepAliveFd === undefined ? [] : [keepAliveFd]), outputStallMs, timeoutMs);
    },
    async drain(timeoutMs) {
      // As for pipes (process-io.ts): a reader that is gone must not hold the drain to its timeout.
      closeQuietly(keepAliveFd);
      keepAliveFd = undefined;
      await settledWithin(copied, timeoutMs);
    },
    close() {
      if (closed) return;
      closed = true;
      closeQuietly(stdinHoldOpen);
      stdinSource?.destroy();
      toConsole.destroy();
      fromConsole.destroy();
      closeQuietly(keepAliveFd);
    },
  };
}
