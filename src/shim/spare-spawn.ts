// Keeps a spare daemon booted per containerd, so that the next `start` is answered by a process
// that is already running instead of a new Node (spare.ts; docs/architecture.md §13). A spare is
// started by a process containerd ran (`start`, or the launcher after a spare took its call), so
// it has the parentage of a daemon `start` spawns: never a child of a daemon, which as a
// subreaper would count it among its container's processes.
import { realpathSync } from 'node:fs';
import { setPriority } from 'node:os';
import { spawn } from 'node:child_process';
import { spareSocketPath } from './address.js';
import { daemonEnv } from './daemon-env.js';
import { canConnect } from './probe.js';

/** `TSSHIM_SPARES=0` in containerd's environment: no spares, every `start` starts Node. */
export const sparesEnv = 'TSSHIM_SPARES';
/** The action word of a spare daemon's command line; containerd never sends it. */
const spareAction = 'spare';
/**
 * A spare boots at this nice value, so that it takes CPU only from idle time while a container
 * starts; it returns to containerd's priority when adopted (spare.ts).
 */
export const spareNice = 10;
/** Room in the spare's argv for the daemon's process title once adopted (spare.ts setTitle). */
const titleRoom = 160;

export function sparesEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[sparesEnv] !== '0';
}

export interface SpareCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** How to start a spare for the containerd at `containerdAddress`, from this process's Node and build. */
export function spareCommand(containerdAddress: string, env: NodeJS.ProcessEnv): SpareCommand {
  const entry = realpathSync(process.argv[1]!);
  return {
    file: process.execPath,
    args: [...process.execArgv, entry, '-address', containerdAddress, spareAction, ' '.repeat(titleRoom)],
    env: daemonEnv(env),
  };
}

/** Starts a spare (detached, niced) unless spares are off or one already listens. */
export async function spawnSpareIfNone(containerdAddress: string, binaryName: string): Promise<void> {
  if (!sparesEnabled() || !containerdAddress) return;
  if (await canConnect(spareSocketPath(containerdAddress))) return;
  const command = spareCommand(containerdAddress, process.env);
  const child = spawn(command.file, command.args, { cwd: '/', env: command.env, argv0: binaryName, detached: true, stdio: 'ignore' });
  child.once('error', () => {
    /* no spare: the next start runs Node, as without spares */
  });
  child.unref();
  if (child.pid === undefined) return;
  try {
    setPriority(child.pid, spareNice);
  } catch {
    // It boots at our priority; nothing else changes.
  }
}
