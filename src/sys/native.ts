// The native addon (native/tsshim.c), loaded lazily on first use so that code paths
// needing no native call (the `start` subcommand) pay nothing for it.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Decoded result of wait4(pid, WNOHANG). */
export interface Wait4Result {
  pid: number;
  /** Raw wait status as the kernel reported it. */
  status: number;
  exited: boolean;
  /** Exit code when `exited`, else null. */
  code: number | null;
  signaled: boolean;
  /** Terminating signal when `signaled`, else null. */
  signal: number | null;
  rusage: { userMicros: number; systemMicros: number; maxRssKiB: number };
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export interface Winsize {
  rows: number;
  cols: number;
}

export interface PollHandle {
  /** Cancels the watch (idempotent; harmless after the callback ran). */
  close(): void;
  /** Lets the process exit while the watch is pending. */
  unref(): void;
}

export interface NativeConstants {
  MS_RDONLY: number;
  MS_NOSUID: number;
  MS_NODEV: number;
  MS_NOEXEC: number;
  MS_SYNCHRONOUS: number;
  MS_REMOUNT: number;
  MS_MANDLOCK: number;
  MS_DIRSYNC: number;
  MS_NOATIME: number;
  MS_NODIRATIME: number;
  MS_BIND: number;
  MS_MOVE: number;
  MS_REC: number;
  MS_SILENT: number;
  MS_UNBINDABLE: number;
  MS_PRIVATE: number;
  MS_SLAVE: number;
  MS_SHARED: number;
  MS_RELATIME: number;
  MS_STRICTATIME: number;
  MS_LAZYTIME: number;
  MNT_FORCE: number;
  MNT_DETACH: number;
  EFD_CLOEXEC: number;
  EFD_NONBLOCK: number;
  EFD_SEMAPHORE: number;
  /** sysconf(_SC_PAGESIZE): mount(2) data is limited to one page. */
  PAGE_SIZE: number;
}

/**
 * The addon's functions. All of them are synchronous and throw a {@link SysError} on failure.
 * Every fd they create is close-on-exec.
 */
export interface NativeAddon {
  setChildSubreaper(): void;
  isChildSubreaper(): boolean;
  /** wait4(pid, WNOHANG) for one positive pid: null while it still runs. ECHILD if not our child. */
  wait4(pid: number): Wait4Result | null;
  /** [readFd, writeFd] */
  pipe2(): [number, number];
  mkfifo(path: string, mode: number): void;
  eventfd(initval: number, flags: number): number;
  /** -1 leaves the id unchanged. */
  fchown(fd: number, uid: number, gid: number): void;
  setNonBlocking(fd: number, nonBlocking: boolean): void;
  closeFd(fd: number): void;
  dup(fd: number): number;
  /** A non-blocking listening AF_UNIX stream socket bound at `path`. */
  unixListen(path: string, backlog: number): number;
  /** accept4, non-blocking; null when no connection is pending. */
  accept(listenFd: number): number | null;
  /** Receives exactly one fd over SCM_RIGHTS (the data part is discarded). EAGAIN if nothing is there yet. */
  recvFd(socketFd: number): number;
  /** One recvmsg of up to `maxBytes` with the fds that came along (close-on-exec); empty data at EOF, EAGAIN if none yet. */
  recvMessage(socketFd: number, maxBytes: number): { data: Buffer; fds: number[] };
  getPeerCred(socketFd: number): PeerCred;
  setWinsize(fd: number, rows: number, cols: number): void;
  getWinsize(fd: number): Winsize;
  /** Bytes waiting to be read in a pipe or FIFO (FIONREAD). */
  bytesUnread(fd: number): number;
  /** A new pty pair (for tests: the shim gets its masters from runc). */
  openpty(): { master: number; slave: number; path: string };
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  /** mount(2) run with `dir` as the working directory (relative paths in `data` resolve under it). */
  mountIn(dir: string, source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  /** One-shot: `callback(null)` once `fd` is readable, or `callback(err)` if polling failed. */
  pollReadable(fd: number, callback: (err: SysError | null) => void): PollHandle;
  constants: NativeConstants;
}

/** What the addon throws: Node's system-error shape. */
export interface SysError extends Error {
  /** errno name, e.g. 'EPERM' */
  code: string;
  /** negative errno, as in Node's own errors */
  errno: number;
  syscall: string;
  path?: string;
}

/** The addon could not be found or loaded. */
export class AddonLoadError extends Error {
  constructor(readonly attempts: ReadonlyArray<{ path: string; reason: string }>) {
    super(
      'tsshim native addon (tsshim.node) not loaded; run `npm run build` to build it (needs python3, make and g++). ' +
        (attempts.length === 0 ? 'No candidate path.' : `Tried: ${attempts.map((a) => `${a.path} (${a.reason})`).join('; ')}`),
    );
    this.name = 'AddonLoadError';
  }
}

/**
 * Where to look for the addon, in order. `TSSHIM_ADDON`, when set, is the only candidate
 * (an explicit choice that fails must not be masked by another copy).
 */
export function addonCandidates(moduleFile: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env.TSSHIM_ADDON;
  if (explicit) return [resolve(explicit)];
  const here = dirname(moduleFile);
  return [
    join(here, 'tsshim.node'), // dist/tsshim.node beside dist/shim.mjs
    resolve(here, '../tsshim.node'), // from an esbuild chunk in dist/chunks/
    resolve(here, '../native/build/Release/tsshim.node'), // dist/ -> repo
    resolve(here, '../../native/build/Release/tsshim.node'), // src/sys/ -> repo (sources under vitest)
  ];
}

/** Loads the first candidate that exists; throws AddonLoadError if none loads. */
export function loadAddonFrom(candidates: readonly string[], exists: (p: string) => boolean = existsSync): NativeAddon {
  const attempts: Array<{ path: string; reason: string }> = [];
  for (const path of candidates) {
    if (!exists(path)) {
      attempts.push({ path, reason: 'not found' });
      continue;
    }
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    try {
      process.dlopen(mod, path);
    } catch (err) {
      attempts.push({ path, reason: err instanceof Error ? err.message : String(err) });
      continue;
    }
    if (typeof mod.exports.wait4 !== 'function') {
      attempts.push({ path, reason: 'not the tsshim addon' });
      continue;
    }
    return mod.exports as unknown as NativeAddon;
  }
  throw new AddonLoadError(attempts);
}

let loaded: NativeAddon | undefined;

// Hook for the single executable (src/cmd/sea-main.ts): it carries the addon inside itself and
// writes it to a file only when the addon is first needed, so `-v` and `start` touch no disk.
let addonFileProvider: (() => string) | undefined;

/** Makes `provide()` (called once, on first use) the only place the addon is loaded from. */
export function setAddonFileProvider(provide: () => string): void {
  addonFileProvider = provide;
}

/** The addon, loaded on first call. */
export function native(): NativeAddon {
  loaded ??= loadAddonFrom(addonFileProvider ? [addonFileProvider()] : addonCandidates(fileURLToPath(import.meta.url)));
  return loaded;
}

// Direct entry points (each loads the addon on first use). See NativeAddon for the contracts.
export const isChildSubreaper = (): boolean => native().isChildSubreaper();
export const pipe2 = (): [number, number] => native().pipe2();
export const mkfifo = (path: string, mode: number): void => native().mkfifo(path, mode);
export const eventfd = (initval: number, flags: number): number => native().eventfd(initval, flags);
export const fchown = (fd: number, uid: number, gid: number): void => native().fchown(fd, uid, gid);
export const setNonBlocking = (fd: number, nonBlocking: boolean): void => native().setNonBlocking(fd, nonBlocking);
export const closeFd = (fd: number): void => native().closeFd(fd);
export const unixListen = (path: string, backlog: number): number => native().unixListen(path, backlog);
export const accept = (listenFd: number): number | null => native().accept(listenFd);
export const recvFd = (socketFd: number): number => native().recvFd(socketFd);
export const recvMessage = (socketFd: number, maxBytes: number): { data: Buffer; fds: number[] } =>
  native().recvMessage(socketFd, maxBytes);
export const getPeerCred = (socketFd: number): PeerCred => native().getPeerCred(socketFd);
export const setWinsize = (fd: number, rows: number, cols: number): void => native().setWinsize(fd, rows, cols);
export const bytesUnread = (fd: number): number => native().bytesUnread(fd);
export const pollReadable = (fd: number, callback: (err: SysError | null) => void): PollHandle => native().pollReadable(fd, callback);
/** eventfd flags (Linux ABI values; checked against the addon by the integration test). */
export const EFD_SEMAPHORE = 0o1;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
