// Typed failures of the cgroups layer; shim/errdefs.ts maps them to ttrpc codes.
import { Code } from 'ttrpc-ts';
import { ShimError } from '../shim/errdefs.js';
import { errnoOf } from '../sys/errno.js';

/** The process has no cgroup we can read (it is gone, or /proc/<pid>/cgroup is unusable): NotFound. */
export class CgroupNotFoundError extends ShimError {
  override readonly name = 'CgroupNotFoundError';
  constructor(
    readonly pid: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(Code.NotFound, `cgroup of pid ${pid} not found: ${reason}`, options);
  }
}

/** A cgroup file exists but could not be read or parsed (the Go shim fails Stats the same way). */
export class CgroupReadError extends Error {
  override readonly name = 'CgroupReadError';
  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`cgroup file ${path}: ${reason}`, options);
  }
}

/** An OOM watch could not be registered (no memory controller, cgroup gone, permissions). */
export class OomWatchError extends Error {
  override readonly name = 'OomWatchError';
  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot watch OOM events of ${path}: ${reason}`, options);
  }
}

/** ENOENT, or ENODEV which cgroupfs returns for files of a cgroup being removed. */
export function isGone(err: unknown): boolean {
  const code = errnoOf(err);
  return code === 'ENOENT' || code === 'ENODEV';
}
