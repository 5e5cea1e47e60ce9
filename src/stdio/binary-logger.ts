// `binary:///path?k=v` log URIs: a logging binary gets the container's stdout and stderr as
// fds 3 and 4 and says it is ready on fd 5 (docs/protocol.md §12.3; containerd's runtime/v2/logging
// package implements the other side).
import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { pipe2 } from '../sys/native.js';
import { spawnTracked } from '../sys/spawn.js';
import { invalidArgument } from '../shim/errdefs.js';
import { closeQuietly } from './fifo.js';

/** How long the logger may take to stop after SIGTERM before it is killed (the Go shim's 12 s). */
const stopGraceMs = 12_000;

export interface BinaryLoggerTarget {
  path: string;
  args: string[];
}

/** Parses `binary:///abs/path?k1=v1&k2` into the binary's path and argv (key, first value, ...). */
function parseBinaryUri(uri: string): BinaryLoggerTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalidArgument(`invalid binary:// log URI: ${uri}`);
  }
  const path = decodeURIComponent(url.pathname);
  if (!path.startsWith('/') || url.host) throw invalidArgument(`binary:// log URI needs an absolute path: ${uri}`);
  const args: string[] = [];
  for (const key of new Set(url.searchParams.keys())) {
    args.push(key);
    const value = url.searchParams.get(key);
    if (value) args.push(value);
  }
  return { path, args };
}

export interface BinaryLogger {
  /** Write ends for runc: the container's stdout and stderr. */
  stdoutFd: number;
  stderrFd: number;
  /** Closes our copies of the write ends once runc has them. */
  afterStart(): void;
  /** Resolves when the logger exited (it reads until EOF on both pipes). */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

function waitReady(readyFd: number): Promise<void> {
  return new Promise((resolve) => {
    const ready = new Socket({ fd: readyFd, readable: true, writable: false });
    const done = () => {
      ready.destroy();
      resolve();
    };
    ready.once('data', done);
    ready.once('end', done);
    ready.once('error', done);
    ready.once('close', done);
  });
}

export async function startBinaryLogger(uri: string, containerId: string, namespace: string): Promise<BinaryLogger> {
  const target = parseBinaryUri(uri);
  const [outR, outW] = pipe2();
  const [errR, errW] = pipe2();
  const [readyR, readyW] = pipe2();
  let child: ChildProcess;
  try {
    child = spawnTracked(target.path, target.args, {
      env: { CONTAINER_ID: containerId, CONTAINER_NAMESPACE: namespace },
      stdio: ['ignore', 'ignore', 'ignore', outR, errR, readyW],
      detached: false,
    });
  } finally {
    // The logger owns the read ends and the ready pipe's write end now.
    for (const fd of [outR, errR, readyW]) closeQuietly(fd);
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const spawnError = await Promise.race([
    new Promise<Error>((resolve) => child.once('error', resolve)),
    waitReady(readyR).then(() => undefined),
  ]);
  if (spawnError) {
    for (const fd of [outW, errW]) closeQuietly(fd);
    throw invalidArgument(`cannot start logging binary ${target.path}: ${spawnError.message}`);
  }
  let handedOver = false;
  return {
    stdoutFd: outW,
    stderrFd: errW,
    afterStart() {
      if (handedOver) return;
      handedOver = true;
      closeQuietly(outW);
      closeQuietly(errW);
    },
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, stopGraceMs);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      await exited;
    },
  };
}
