// `start`: find or create the daemon for this container's group and print its address.
// containerd reads our combined stdout+stderr until EOF, so only the address may be
// written there and the daemon must not inherit those pipes (docs/protocol.md §3.1).
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { ShimFlags } from './flags.js';
import { socketAddress, socketDir, socketPath } from './address.js';
import type { ShimManager } from './manager.js';
import { readStdin } from './stdin.js';

/** Environment variable that hands the daemon the exact socket path `start` bound. */
export const socketEnv = 'TSSHIM_SOCKET';

/**
 * V8 flags for the daemon only (docs/architecture.md §12.4), given through NODE_OPTIONS so that a
 * single executable (which takes no Node flags on its command line) gets them too; the daemon
 * removes NODE_OPTIONS from its environment before it spawns anything. The launcher passes none:
 * any of these changes V8's flag hash, so V8 rejects Node's built-in code cache (about 9 ms of
 * CPU per start). Measured on an idle daemon after its first request: --jitless (interpreter
 * only, like --lite-mode, which NODE_OPTIONS refuses) saves 4.4 MiB of private memory per shim
 * for about 18 ms more CPU at boot; --max-old-space-size is a safety cap; --max-semi-space-size=1
 * changed nothing at idle and was dropped.
 */
export const daemonNodeFlags: readonly string[] = ['--jitless', '--max-old-space-size=64'];

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function canConnect(path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (ok: boolean) => { clearTimeout(timer); socket.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function isAddrInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** Binds the group's socket, or returns undefined when a live shim already serves it. */
async function bindOrFindExisting(path: string): Promise<Server | undefined> {
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  try {
    return await listen(path);
  } catch (err) {
    if (!isAddrInUse(err)) throw err;
  }
  if (await canConnect(path)) return undefined;
  // Nobody answers: a socket left by a dead shim.
  unlinkSync(path);
  return listen(path);
}

function listeningFd(server: Server): number {
  // Node exposes no public accessor for a server's fd; the handle has it.
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot get the listening socket fd');
  return fd;
}


/** Raises the daemon's OOM score above containerd's, as the Go shim does, so the shim dies first. */
function adjustOomScore(daemonPid: number): void {
  try {
    const parent = Number.parseInt(readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8'), 10);
    const score = Math.min(1000, (Number.isNaN(parent) ? 0 : parent) + 1);
    writeFileSync(`/proc/${daemonPid}/oom_score_adj`, String(score));
  } catch {
    // Lowering needs CAP_SYS_RESOURCE; a shim without it keeps the default score.
  }
}

export async function start(flags: ShimFlags, manager: ShimManager): Promise<string> {
  const bundle = process.cwd();
  const group = manager.groupingKey(flags, bundle);
  const address = socketAddress(flags.address, flags.namespace, group);
  const path = socketPath(address);
  const server = await bindOrFindExisting(path);
  writeFileSync(join(bundle, 'address'), address);
  if (!server) return address;
  chmodSync(path, 0o600);

  const daemonArgs = ['-namespace', flags.namespace, '-id', flags.id, '-address', flags.address];
  if (flags.debug) daemonArgs.push('-debug');
  const env: NodeJS.ProcessEnv = { ...process.env, [socketEnv]: path, UV_THREADPOOL_SIZE: '2', NODE_OPTIONS: daemonNodeFlags.join(' ') };
  delete env.NODE_EXTRA_CA_CERTS;
  // The real path: the launcher runs dist/current/shim.mjs, a symlink a rebuild may switch; the
  // daemon must load the same build as this process (its lazy chunks live beside it).
  const entry = realpathSync(process.argv[1]!);
  const daemon = spawn(process.execPath, [...process.execArgv, entry, ...daemonArgs], {
    cwd: bundle,
    env,
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
  adjustOomScore(pid);
  try {
    await manager.afterDaemonStart?.(flags, pid, readStdin());
  } catch (err) {
    process.kill(pid, 'SIGKILL');
    unlinkSync(path);
    throw err;
  }
  // Not server.close(): libuv would unlink the socket the daemon now serves.
  return address;
}
