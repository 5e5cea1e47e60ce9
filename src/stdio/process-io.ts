// The stdio of one container process: OS pipes for runc on one side, the client's FIFOs
// (or a log file) on the other, copied both ways with back-pressure (PROTOCOL.md §6.3).
import { createWriteStream } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { native } from '../sys/native.js';
import { invalidArgument, unimplemented } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import { closeQuietly, openInput, openOutput, type OutputTarget } from './fifo.js';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export type RuncStdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

export interface ProcessIO {
  /** What runc gets as fds 0, 1, 2. */
  readonly runcStdio: RuncStdio;
  /** Closes our copies of the fds handed to runc; call once runc has them. */
  afterStart(): void;
  /** CloseIO{stdin}: the process reads EOF once the client's writer is gone too. */
  closeStdin(): void;
  /** Resolves when stdout and stderr were copied to the end, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
  /** Closes everything; safe to call more than once. */
  close(): void;
}

export interface IOOwner {
  uid: number;
  gid: number;
}

type Scheme = 'fifo' | 'file';

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
      throw unimplemented(`binary:// log URIs are not supported yet: ${stdout}`);
    default:
      throw invalidArgument(`unknown STDIO scheme ${scheme}: ${stdout}`);
  }
}

const forgive = (): void => { /* the error is reported through 'close' handling */ };

function pipeWriterFor(target: OutputTarget): Writable {
  if (target.isFifo) return new Socket({ fd: target.writeFd, readable: false, writable: true });
  return createWriteStream('', { fd: target.writeFd, autoClose: true });
}

/** Copies a container pipe to a target to the end; resolves when all bytes were written. */
function copyOut(name: string, source: Readable, target: OutputTarget, logger: Logger): { done: Promise<void>; sink: Writable } {
  const sink = pipeWriterFor(target);
  const done = new Promise<void>((resolve) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      closeQuietly(target.keepAliveFd);
      target.keepAliveFd = undefined;
      resolve();
    };
    sink.on('error', (err) => {
      logger.warn({ stream: name, err: err.message }, 'stdio copy: writing failed; discarding the rest');
      source.unpipe(sink);
      // Keep reading so the container never blocks on a full pipe.
      source.resume();
      source.once('end', finish);
      source.once('close', finish);
    });
    source.on('error', (err) => {
      logger.warn({ stream: name, err: err.message }, 'stdio copy: reading failed');
      sink.end();
    });
    sink.once('finish', finish);
    sink.once('close', finish);
    source.pipe(sink);
  });
  return { done, sink };
}

export async function createProcessIO(paths: StdioPaths, owner: IOOwner | undefined, logger: Logger): Promise<ProcessIO> {
  if (paths.terminal) throw unimplemented('terminal I/O is not supported yet');
  const { scheme, path: stdoutPath } = parseStdioScheme(paths.stdout);
  const stderrPath = scheme === 'file' ? stdoutPath : paths.stderr;
  const targets: OutputTarget[] = [];
  const closeTargets = () => {
    for (const t of targets) {
      closeQuietly(t.keepAliveFd);
      t.keepAliveFd = undefined;
    }
  };
  const handedToRunc: number[] = [];
  const runcStdio: RuncStdio = ['ignore', 'ignore', 'ignore'];
  const copies: Promise<void>[] = [];
  const streams: Array<Readable | Writable> = [];
  let stdinHoldOpen: number | undefined;
  let stdinSink: Socket | undefined;

  const containerPipe = (): [number, number] => {
    const [r, w] = native().pipe2();
    handedToRunc.push(r, w);
    return [r, w];
  };
  const chownContainerEnd = (fd: number) => {
    if (owner && (owner.uid !== 0 || owner.gid !== 0)) native().fchown(fd, owner.uid, owner.gid);
  };

  try {
    if (paths.stdin) {
      const [r, w] = containerPipe();
      chownContainerEnd(r);
      runcStdio[0] = r;
      const input = openInput(paths.stdin);
      stdinHoldOpen = input.holdOpenFd;
      const source = new Socket({ fd: input.readFd, readable: true, writable: false });
      stdinSink = new Socket({ fd: w, readable: false, writable: true });
      handedToRunc.splice(handedToRunc.indexOf(w), 1); // w is ours now, owned by the socket
      streams.push(source, stdinSink);
      source.on('error', forgive);
      stdinSink.on('error', (err) => {
        // The process closed its stdin: stop copying, do not fail.
        logger.debug({ err: err.message }, 'stdin copy ended');
        source.destroy();
      });
      source.pipe(stdinSink);
    }
    const outputs: Array<[1 | 2, string, string]> = [[1, 'stdout', stdoutPath], [2, 'stderr', stderrPath]];
    for (const [fdIndex, name, path] of outputs) {
      if (!path) continue;
      const [r, w] = containerPipe();
      chownContainerEnd(w);
      runcStdio[fdIndex] = w;
      const target = openOutput(path);
      targets.push(target);
      const source = new Socket({ fd: r, readable: true, writable: false });
      handedToRunc.splice(handedToRunc.indexOf(r), 1);
      const copy = copyOut(name, source, target, logger);
      streams.push(source, copy.sink);
      copies.push(copy.done);
    }
  } catch (err) {
    for (const fd of handedToRunc) closeQuietly(fd);
    closeTargets();
    closeQuietly(stdinHoldOpen);
    for (const s of streams) s.destroy();
    throw err;
  }

  const allCopied = Promise.all(copies).then(() => undefined);
  let closed = false;
  return {
    runcStdio,
    afterStart() {
      for (const fd of handedToRunc.splice(0)) closeQuietly(fd);
    },
    closeStdin() {
      closeQuietly(stdinHoldOpen);
      stdinHoldOpen = undefined;
      stdinSink?.end();
    },
    async drain(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([allCopied, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
      clearTimeout(timer);
    },
    close() {
      if (closed) return;
      closed = true;
      for (const fd of handedToRunc.splice(0)) closeQuietly(fd);
      closeQuietly(stdinHoldOpen);
      stdinHoldOpen = undefined;
      for (const s of streams) s.destroy();
      closeTargets();
    },
  };
}
