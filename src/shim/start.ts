// `start`: find or create the daemon for this container's group and print its address.
// containerd reads our combined stdout+stderr until EOF, so only the address may be
// written there and the daemon must not inherit those pipes (docs/protocol.md §3.1).
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { errnoOf } from '../sys/errno.js';
import { canConnect } from './probe.js';
import { groupSocketPath, requestedSocketDir, unixAddress } from './address.js';
import type { ShimManager } from './manager.js';
import { daemonEnv, logLevelEnv, socketEnv } from './daemon-env.js';
import { spawnSpareIfNone } from './spare-spawn.js';
import { decodeStartInput, logLevelName, type LogLevelName, type StartInput } from './start-input.js';
import { readStdin } from './stdin.js';

/**
 * Listens at `path`. Node accepts connections as soon as it listens; until a ttrpc server is
 * attached (see {@link serveEarlyConnections}) they are kept, not dropped: a spare daemon that
 * adopts a container serves the socket in the process that bound it.
 */
function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    const early: Socket[] = [];
    earlyConnections.set(server, early);
    server.on('connection', keepEarly);
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

const earlyConnections = new WeakMap<Server, Socket[]>();
function keepEarly(this: Server, socket: Socket): void {
  earlyConnections.get(this)?.push(socket);
}

/** Hands the connections accepted before a 'connection' handler was attached to that handler. */
export function serveEarlyConnections(server: Server): void {
  server.off('connection', keepEarly);
  const early = earlyConnections.get(server) ?? [];
  earlyConnections.delete(server);
  for (const socket of early) server.emit('connection', socket);
}

/** Binds the group's socket, or returns undefined when a live shim already serves it. */
async function bindOrFindExisting(path: string): Promise<Server | undefined> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Concurrent starts of one group race here: each retry either binds, or finds a live daemon.
  for (let attempt = 0; ; attempt++) {
    try {
      return await listen(path);
    } catch (err) {
      if (errnoOf(err) !== 'EADDRINUSE' || attempt === 5) throw err;
    }
    if (await canConnect(path)) return undefined;
    // Nobody answers: a socket left by a dead shim (another start may have removed it already).
    try {
      unlinkSync(path);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }
}

function listeningFd(server: Server): number {
  // Node exposes no public accessor for a server's fd; the handle has it.
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot get the listening socket fd');
  return fd;
}

/** Raises the daemon's OOM score above containerd's, as the Go shim does, so the shim dies first. */
export function adjustOomScore(daemonPid: number, containerdPid: number): void {
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${containerdPid}/oom_score_adj`, 'utf8'), 10);
    const score = String(Math.min(1000, (Number.isNaN(parent) ? 0 : parent) + 1));
    const path = `/proc/${daemonPid}/oom_score_adj`;
    if (readFileSync(path, 'utf8').trim() !== score) writeFileSync(path, score);
  } catch {
    // Lowering needs CAP_SYS_RESOURCE; a shim without it keeps the default score.
  }
}

/** One `start` call, wherever it runs: in its own process, or handed to a spare daemon. */
export interface StartCall {
  flags: ShimFlags;
  /** The working directory containerd gave `start`: the bundle. */
  bundle: string;
  /** What containerd wrote to `start`'s stdin, decoded (start-input.ts): options, socket_dir, log_level... */
  input: StartInput;
}

/** A call's stdin, decoded; the runtime options among BootstrapParams' extensions are the manager's types. */
export function readStartInput(flags: ShimFlags, manager: ShimManager, stdin: Uint8Array): StartInput {
  return decodeStartInput(stdin, { id: flags.id, namespace: flags.namespace, optionTypes: manager.startOptionTypes ?? [] });
}

/** The new daemon's log level: containerd's own from BootstrapParams (2.3+), else from -debug. */
export function startLogLevel(call: StartCall): LogLevelName {
  if (call.input.form === 'bootstrap') return logLevelName(call.input.params.logLevel);
  return call.flags.debug ? 'debug' : 'info';
}

/** The group's socket: `server` is set when this call bound it, and a new daemon must serve it. */
export interface ClaimedSocket {
  address: string;
  path: string;
  server?: Server;
}

/** Finds or binds the socket of the call's group and records its address in the bundle. */
export async function claimSocket(call: StartCall, manager: ShimManager): Promise<ClaimedSocket> {
  const dir = requestedSocketDir(call.input.form === 'bootstrap' ? call.input.params.socketDir : undefined);
  const group = await manager.groupingKey(call.flags, call.bundle, call.input);
  const path = groupSocketPath(call.flags.address, call.flags.namespace, group, dir);
  const address = unixAddress(path);
  const server = await bindOrFindExisting(path);
  writeFileSync(join(call.bundle, 'address'), address);
  if (server) chmodSync(path, 0o600);
  return server ? { address, path, server } : { address, path };
}

/** What `start` found or made, and what containerd sent (whose form decides the output's, bootstrap.ts). */
export interface StartResult {
  address: string;
  input: StartInput;
}

/** `start` in its own process (no spare took the call): spawns a daemon on the group's new socket. */
export async function start(flags: ShimFlags, manager: ShimManager): Promise<StartResult> {
  // Decoded before anything is bound or spawned: bad stdin leaves nothing behind.
  const call: StartCall = { flags, bundle: process.cwd(), input: readStartInput(flags, manager, readStdin()) };
  const { address, path, server } = await claimSocket(call, manager);
  const result: StartResult = { address, input: call.input };
  if (!server) return result;

  const daemonArgs = ['-namespace', flags.namespace, '-id', flags.id, '-address', flags.address];
  if (flags.debug) daemonArgs.push('-debug');
  // The real path: the launcher runs dist/current/shim.mjs, a symlink a rebuild may switch; the
  // daemon must load the same build as this process (its lazy chunks live beside it).
  const entry = realpathSync(process.argv[1]!);
  const daemon = spawn(process.execPath, [...process.execArgv, entry, ...daemonArgs], {
    cwd: call.bundle,
    env: { ...daemonEnv(process.env), [socketEnv]: path, [logLevelEnv]: startLogLevel(call) },
    // ps and containerd's users see the shim's name, not "node".
    argv0: manager.binaryName,
    detached: true, // own session: containerd's signals to our process group do not reach it
    stdio: ['ignore', 'ignore', 'ignore', listeningFd(server)],
  });
  const pid = daemon.pid;
  if (pid === undefined) {
    await new Promise<void>((resolve) => daemon.once('error', () => resolve()));
    unlinkSync(path);
    throw new Error('failed to spawn the shim daemon');
  }
  daemon.unref();
  adjustOomScore(pid, process.ppid);
  try {
    await manager.afterDaemonStart?.(flags, pid, call.input, { containerdPid: process.ppid, adopted: false });
  } catch (err) {
    process.kill(pid, 'SIGKILL');
    unlinkSync(path);
    throw err;
  }
  // The next `start` of this containerd finds a daemon already booted (spare.ts).
  await spawnSpareIfNone(flags.address, manager.binaryName);
  // Not server.close(): libuv would unlink the socket the daemon now serves.
  return result;
}
