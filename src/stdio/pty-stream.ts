// A pty master as streams, on one non-blocking fd.
//
// A tty.ReadStream treats the hang-up when the last slave closes (EIO) as an error and destroys
// itself, dropping whatever it had buffered while the consumer was slow: the tail of a large
// output would be lost. And a tty.WriteStream switches the fd to blocking mode, which the read
// side shares. So both sides are ours: reads happen only when the consumer wants data, EIO is
// end-of-file, and writes never block the event loop.
import { closeSync, readSync, writeSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { errnoOf } from '../sys/errno.js';
import { pollReadable, setNonBlocking, type PollHandle } from '../sys/native.js';

const chunkSize = 64 * 1024;

export class PtyReadable extends Readable {
  private poll: PollHandle | undefined;
  private ended = false;

  constructor(private readonly fd: number) {
    super({ highWaterMark: chunkSize });
    setNonBlocking(fd, true);
  }

  override _read(): void {
    if (this.poll || this.ended) return;
    for (;;) {
      const buffer = Buffer.allocUnsafe(chunkSize);
      let n: number;
      try {
        n = readSync(this.fd, buffer, 0, chunkSize, null);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === 'EAGAIN') {
          this.poll = pollReadable(this.fd, (pollErr) => {
            this.poll?.close();
            this.poll = undefined;
            if (pollErr) this.destroy(pollErr);
            else this._read();
          });
          return;
        }
        if (errno === 'EIO') {
          this.finish();
          return;
        }
        this.destroy(err as Error);
        return;
      }
      if (n === 0) {
        this.finish();
        return;
      }
      if (!this.push(buffer.subarray(0, n))) return;
    }
  }

  private finish(): void {
    this.ended = true;
    this.push(null);
  }

  /** Owns the fd: closes it when destroyed. */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.poll?.close();
    this.poll = undefined;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    callback(err);
  }
}

/** Retry delay for a write the pty cannot take yet (typed input: small and rare). */
const writeRetryMs = 5;

/** Writes to a pty master without blocking; does not own the fd. */
export class PtyWritable extends Writable {
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly fd: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let offset = 0;
    const attempt = (): void => {
      this.retry = undefined;
      while (offset < chunk.length) {
        try {
          offset += writeSync(this.fd, chunk, offset, chunk.length - offset);
        } catch (err) {
          if (errnoOf(err) === 'EAGAIN') {
            this.retry = setTimeout(attempt, writeRetryMs);
            return;
          }
          callback(err as Error);
          return;
        }
      }
      callback();
    };
    attempt();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.retry);
    callback(err);
  }
}
