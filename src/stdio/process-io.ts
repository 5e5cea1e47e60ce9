// The stdio of one container process without a terminal: OS pipes for runc on one side, the
// client's FIFOs, a log file or a logging binary on the other, copied with back-pressure
// (docs/protocol.md §12.3).
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { bytesUnread, fchown, pipe2 } from '../sys/native.js';
import { invalidArgument } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import { startBinaryLogger } from './binary-logger.js';
import { closeQuietly, openInput, openOutput, type OutputTarget } from './fifo.js';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export type RuncStdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

/** The stdio of one process, whatever carries it (pipes, a pty, a logging binary). */
export interface StdioHandle {
  /** What runc gets as fds 0, 1, 2. */
  readonly runcStdio: RuncStdio;
  /** Closes our copies of the fds handed to runc; call once runc has them. */
  afterStart(): void;
  /** CloseIO{stdin}: the process reads EOF once the client's writer is gone too. */
  closeStdin(): void;
  /** ResizePty; only a terminal has a size. */
  resize?(width: number, height: number): void;
  /**
   * Resolves once all the process wrote to stdout and stderr was passed on (to the FIFOs or the
   * file), or after `timeoutMs` (a child left running may hold the output open). Awaited before a
   * process's exit is reported: a client may stop reading as soon as it has the exit.
   */
  outputCopied(timeoutMs: number): Promise<void>;
  /** Resolves when stdout and stderr were copied to the end, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
  /** Closes everything; safe to call more than once. */
  close(): void;
}

export interface IOOwner {
  uid: number;
  gid: number;
}

export interface ProcessIdentity {
  containerId: string;
  namespace: string;
}

type Scheme = 'fifo' | 'file' | 'binary';

/** Which kind of I/O the stdout string asks for: a path or fifo://, file://, binary://. */
export function parseStdioScheme(stdout: string): { scheme: Scheme; path: string } {
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/.exec(stdout);
  if (!match) return { scheme: 'fifo', path: stdout };
  const [, scheme, rest] = match;
  switch (scheme) {
    case 'fifo':
      return { scheme: 'fifo', path: rest! };
    case 'file': {
      const path = decodeURIComponent(rest!.replace(/\?.*$/, ''));
      if (!path.startsWith('/')) throw invalidArgument(`file:// log URI needs an absolute path: ${stdout}`);
      return { scheme: 'file', path };
    }
    case 'binary':
      return { scheme: 'binary', path: stdout };
    default:
      throw invalidArgument(`unknown STDIO scheme ${scheme}: ${stdout}`);
  }
}

/** How long an exit waits for output that does not move (its reader is gone) before it is reported anyway. */
export const outputStallMs = 300;

/** Resolves when `work` has settled or `timeoutMs` has passed, whichever comes first (the timer is cleared). */
export async function settledWithin(work: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]);
  clearTimeout(timer);
}

/** What an output copy has done so far: whether it ended, and how many bytes it passed on. */
export interface CopyProgress {
  ended: boolean;
  bytesWritten: number;
}

/**
 * Resolves once every copy has ended and the client has read all of it from its FIFOs (FIONREAD on
 * our keep-alive read ends), or once nothing moved for `stallMs` (the reader is gone, or a child the
 * process left holds the output open), or after `timeoutMs`. Polls: neither has an event.
 */
export async function outputPassedOn(
  copies: readonly CopyProgress[],
  keepAliveFds: () => number[],
  stallMs: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let lastChange = Date.now();
  for (;;) {
    const written = copies.reduce((n, c) => n + c.bytesWritten, 0);
    let unread = 0;
    for (const fd of keepAliveFds()) {
      try {
        unread += bytesUnread(fd);
      } catch {
        // closed meanwhile: nothing to wait for there
      }
    }
    if (copies.every((c) => c.ended) && unread === 0) return;
    const now = Date.now();
    const state = `${written}/${unread}`;
    if (state !== last) {
      last = state;
      lastChange = now;
    } else if (now - lastChange >= stallMs) {
      return;
    }
    if (now >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves once everything was written to `target`, or the write side failed (then the rest is discarded). */
function copyOut(
  name: string,
  source: Readable,
  target: OutputTarget,
  logger: Logger,
): { done: Promise<void>; sink: Writable; progress: CopyProgress } {
  const sink: Writable = target.isFifo
    ? new Socket({ fd: target.writeFd, readable: false, writable: true })
    : createWriteStream('', { fd: target.writeFd, autoClose: true });
  const done = new Promise<void>((resolve) => {
    sink.once('finish', () => resolve());
    sink.once('close', () => resolve());
    sink.on('error', (err) => {
      logger.warn({ stream: name, err: err.message }, 'stdio copy: writing failed; discarding the rest');
      source.unpipe(sink);
      // Keep reading so the container never blocks on a full pipe.
      source.resume();
      resolve();
    });
    source.on('error', (err) => {
      logger.warn({ stream: name, err: err.message }, 'stdio copy: reading failed');
      sink.end();
    });
  });
  source.pipe(sink);
  const progress = {
    ended: false,
    get bytesWritten(): number {
      return (sink as Writable & { bytesWritten?: number }).bytesWritten ?? 0;
    },
  };
  void done.then(() => {
    progress.ended = true;
  });
  return { done, sink, progress };
}

class PipeIO implements StdioHandle {
  readonly runcStdio: RuncStdio = ['ignore', 'ignore', 'ignore'];
  /** Container-side pipe ends, ours until runc has inherited them. */
  private readonly handedToRunc: number[] = [];
  /** Everything that carries output, a logging binary included (it ends when it is stopped). */
  private readonly copies: Promise<void>[] = [];
  /** Our own copies from the process's pipes, which end at the process side's EOF. */
  private readonly pipeCopies: CopyProgress[] = [];
  private readonly streams: Array<Readable | Writable> = [];
  private readonly targets: OutputTarget[] = [];
  private readonly onAfterStart: Array<() => void> = [];
  private readonly onClose: Array<() => void> = [];
  private stdinHoldOpen: number | undefined;
  private stdinSink: Socket | undefined;
  private closed = false;

  constructor(
    private readonly owner: IOOwner | undefined,
    private readonly logger: Logger,
  ) {}

  private chown(fd: number): void {
    if (this.owner && (this.owner.uid !== 0 || this.owner.gid !== 0)) fchown(fd, this.owner.uid, this.owner.gid);
  }

  /** stdin FIFO -> pipe -> process. */
  addStdin(path: string): void {
    const [r, w] = pipe2();
    this.handedToRunc.push(r);
    this.stdinSink = new Socket({ fd: w, readable: false, writable: true });
    this.streams.push(this.stdinSink);
    this.chown(r);
    this.runcStdio[0] = r;
    const input = openInput(path);
    this.stdinHoldOpen = input.holdOpenFd;
    const source = new Socket({ fd: input.readFd, readable: true, writable: false });
    this.streams.push(source);
    source.on('error', () => {
      /* the client went away; the process sees EOF */
    });
    this.stdinSink.on('error', (err) => {
      // The process closed its stdin: stop copying, do not fail.
      this.logger.debug({ err: err.message }, 'stdin copy ended');
      source.destroy();
    });
    source.pipe(this.stdinSink);
  }

  /** process -> pipe -> FIFO or file. */
  addOutput(fdIndex: 1 | 2, path: string): void {
    const [r, w] = pipe2();
    this.handedToRunc.push(w);
    const source = new Socket({ fd: r, readable: true, writable: false });
    this.streams.push(source);
    this.chown(w);
    this.runcStdio[fdIndex] = w;
    const target = openOutput(path);
    this.targets.push(target);
    const copy = copyOut(fdIndex === 1 ? 'stdout' : 'stderr', source, target, this.logger);
    this.streams.push(copy.sink);
    this.pipeCopies.push(copy.progress);
    // The keep-alive read end stays until the drain: it tells outputCopied what the client has not read yet.
    this.copies.push(copy.done);
  }

  /** Container-side fds made elsewhere (a logging binary's pipes). */
  setOutputFd(fdIndex: 1 | 2, fd: number): void {
    this.chown(fd);
    this.runcStdio[fdIndex] = fd;
  }

  /** Something else that carries output (a logging binary): its completion and its hooks. */
  attach(part: { done: Promise<void>; afterStart(): void; close(): void }): void {
    this.copies.push(part.done);
    this.onAfterStart.push(() => part.afterStart());
    this.onClose.push(() => part.close());
  }

  private releaseKeepAlive(target: OutputTarget): void {
    closeQuietly(target.keepAliveFd);
    target.keepAliveFd = undefined;
  }

  afterStart(): void {
    for (const fd of this.handedToRunc.splice(0)) closeQuietly(fd);
    for (const hook of this.onAfterStart.splice(0)) hook();
  }

  closeStdin(): void {
    // Only our own writer goes: what the client already wrote is still copied, then the
    // process reads EOF once the client's writer is closed too.
    closeQuietly(this.stdinHoldOpen);
    this.stdinHoldOpen = undefined;
  }

  outputCopied(timeoutMs: number): Promise<void> {
    const keepAliveFds = (): number[] => this.targets.flatMap((t) => (t.keepAliveFd === undefined ? [] : [t.keepAliveFd]));
    return outputPassedOn(this.pipeCopies, keepAliveFds, outputStallMs, timeoutMs);
  }

  async drain(timeoutMs: number): Promise<void> {
    // The keep-alive read ends kept the FIFOs usable for a reader that may come back while the
    // process ran. Now they would only keep a copy whose reader is gone waiting for the whole
    // timeout: without them, writing to a FIFO nobody reads fails at once (EPIPE) and the copy
    // ends, while an attached reader goes on reading to the end.
    for (const target of this.targets) this.releaseKeepAlive(target);
    await settledWithin(Promise.all(this.copies), timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.afterStart();
    closeQuietly(this.stdinHoldOpen);
    this.stdinHoldOpen = undefined;
    for (const s of this.streams) s.destroy();
    for (const t of this.targets) this.releaseKeepAlive(t);
    for (const hook of this.onClose) hook();
  }
}

/**
 * Pipes for runc, copied to/from the client's FIFOs or a file, or handed to a logging binary.
 * (Terminal mode goes through attachConsole instead.)
 */
export async function createProcessIO(
  paths: StdioPaths,
  owner: IOOwner | undefined,
  identity: ProcessIdentity,
  logger: Logger,
): Promise<StdioHandle> {
  const { scheme, path: stdoutPath } = parseStdioScheme(paths.stdout);
  const io = new PipeIO(owner, logger);
  try {
    if (paths.stdin) io.addStdin(paths.stdin);
    if (scheme === 'binary') {
      const binary = await startBinaryLogger(stdoutPath, identity.containerId, identity.namespace);
      io.setOutputFd(1, binary.stdoutFd);
      io.setOutputFd(2, binary.stderrFd);
      io.attach({
        done: binary.exited,
        afterStart: () => binary.afterStart(),
        close: () => {
          binary.afterStart();
          void binary.stop();
        },
      });
    } else {
      // file:// sends both streams to the one file, creating its directory like the Go shim.
      if (scheme === 'file') await mkdir(dirname(stdoutPath), { recursive: true, mode: 0o755 });
      const stderrPath = scheme === 'file' ? stdoutPath : paths.stderr;
      if (stdoutPath) io.addOutput(1, stdoutPath);
      if (stderrPath) io.addOutput(2, stderrPath);
    }
  } catch (err) {
    io.close();
    throw err;
  }
  return io;
}
