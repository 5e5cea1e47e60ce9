// A spare daemon: a shim daemon booted ahead of need, which answers the next `start` of its
// containerd in-process. The launcher (native/launcher.c) hands it the call: argv, environment,
// working directory and its stdio fds. If the call's group already has a daemon, the spare
// prints that address and stays a spare; otherwise it binds the group's socket, prints its
// address and becomes that group's daemon, and the daemon spawns the next spare (spare-spawn.ts).
// So no Node starts on a container's critical path once a spare is up.
//
// Wire (one call per connection): launcher -> spare: u32le length + SCM_RIGHTS [0, 1, 2], then
// `length` bytes of NUL-terminated strings: "tsshim-start-1", entry, cwd, argc, argv..., env...
// spare -> launcher: 'A' (it will answer) or 'D' (run it yourself); after 'A' the launcher
// confirms with 'G' (it has not given up waiting), and only then does the spare act and send one
// byte: start's exit status. So whichever way a call goes, it runs once. A
// spare that became a daemon then asks the launcher to start the next spare: 'S', u32le length,
// NUL-terminated strings: nice, file, argv0, argc, args..., env... (the launcher is containerd's
// child, so the new spare gets the parentage a daemon has; spare-spawn.ts).
import { mkdirSync, readFileSync, readlinkSync, realpathSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { socketPathFromAddress } from 'ttrpc-ts';
import { errnoOf } from '../sys/errno.js';
import { accept, closeFd, getPeerCred, pollReadable, recvMessage, unixListen } from '../sys/native.js';
import { spareDir, spareSocketPath } from './address.js';
import { canConnect } from './probe.js';
import { startOutput } from './bootstrap.js';
import { serveBoundSocket } from './daemon.js';
import { parseFlags, type ShimFlags } from './flags.js';
import type { ShimManager } from './manager.js';
import { spareCommand, spareNice, sparesEnabled } from './spare-spawn.js';
import { adjustOomScore, claimSocket, readStartInput, startLogLevel, type StartCall } from './start.js';

const requestMagic = 'tsshim-start-1';
/** A launcher sends its whole request at once; one that stalls is dropped. */
const requestTimeoutMs = 2000;
const maxRequestBytes = 1 << 20;
/** A spare whose containerd is gone (its socket removed) or whose build is gone exits; checked this often. */
const containerdCheckMs = 5000;
const namespaces = ['mnt', 'pid', 'net', 'ipc', 'uts', 'user', 'cgroup'] as const;

class Declined extends Error {
  constructor(
    reason: string,
    readonly stale = false,
  ) {
    super(reason);
  }
}

interface Request {
  conn: number;
  fds: number[];
  callerPid: number;
  entry: string;
  cwd: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
}

function readable(fd: number, timeoutMs?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            handle.close();
            reject(new Declined('the launcher sent no complete request'));
          }, timeoutMs);
    const handle = pollReadable(fd, (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Reads one request from `conn`: header with fds, then the body. */
async function readRequest(conn: number): Promise<{ fds: number[]; body: Buffer }> {
  const fds: number[] = [];
  const chunks: Buffer[] = [];
  let have = 0;
  let want = -1;
  const deadline = Date.now() + requestTimeoutMs;
  while (want < 0 || have < want + 4) {
    await readable(conn, Math.max(1, deadline - Date.now()));
    let message: ReturnType<typeof recvMessage>;
    try {
      message = recvMessage(conn, 64 * 1024);
    } catch (err) {
      if (errnoOf(err) === 'EAGAIN') continue;
      throw err;
    }
    fds.push(...message.fds);
    if (message.data.length === 0) throw new Declined('the launcher closed before its request was complete');
    chunks.push(message.data);
    have += message.data.length;
    if (want < 0 && have >= 4) {
      want = Buffer.concat(chunks).readUInt32LE(0);
      if (want > maxRequestBytes) throw new Declined(`a request of ${want} bytes`);
    }
  }
  return { fds, body: Buffer.concat(chunks).subarray(4, 4 + want) };
}

function parseRequest(conn: number, fds: number[], body: Buffer): Request {
  const strings = body.toString('utf8').split('\0');
  strings.pop(); // after the last NUL
  const [magic, entry, cwd, count, ...rest] = strings;
  const argc = Number(count);
  if (magic !== requestMagic || !entry || cwd === undefined || !Number.isInteger(argc) || argc < 1 || rest.length < argc) {
    throw new Declined('not a start request of this version');
  }
  if (fds.length !== 3) throw new Declined(`expected the launcher's 3 stdio fds, got ${fds.length}`);
  const env: NodeJS.ProcessEnv = {};
  for (const pair of rest.slice(argc)) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { conn, fds, callerPid: getPeerCred(conn).pid, entry, cwd, argv: rest.slice(1, argc), env };
}

function sameNamespaces(pid: number): boolean {
  try {
    return namespaces.every((ns) => readlinkSync(`/proc/${pid}/ns/${ns}`) === readlinkSync(`/proc/self/ns/${ns}`));
  } catch {
    return false;
  }
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** What makes this spare unfit for the call, or undefined. */
function checkCall(req: Request, flags: ShimFlags, address: string, ownEntry: string): Declined | undefined {
  if (req.entry !== ownEntry) return new Declined(`the launcher runs ${req.entry}, this spare ${ownEntry}`, true);
  if (flags.action !== 'start') return new Declined(`action "${flags.action}" is not start`);
  if (flags.address !== address) return new Declined(`containerd ${flags.address} is not this spare's ${address}`);
  const cred = getPeerCred(req.conn);
  if (cred.uid !== process.getuid?.() || cred.gid !== process.getgid?.()) return new Declined('another user');
  if (!sameNamespaces(req.callerPid)) return new Declined('the launcher runs in other namespaces');
  return undefined;
}

/** The launcher's 'G' after our 'A': it still waits for us (it did not fall back to Node). */
async function confirmed(conn: number): Promise<boolean> {
  try {
    for (;;) {
      await readable(conn, requestTimeoutMs);
      try {
        const { data, fds } = recvMessage(conn, 1);
        closeAll(fds);
        return data.length === 1 && data[0] === 0x47; // 'G'
      } catch (err) {
        if (errnoOf(err) !== 'EAGAIN') return false;
      }
    }
  } catch {
    return false;
  }
}

function reply(conn: number, byte: string | number): boolean {
  try {
    writeSync(conn, typeof byte === 'number' ? Buffer.of(byte) : Buffer.from(byte));
    return true;
  } catch {
    return false; // the launcher went away
  }
}

function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeFd(fd);
    } catch {
      /* already closed */
    }
  }
}

function replaceEnv(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, env);
  delete process.env.NODE_OPTIONS;
}

export async function runSpare(spareFlags: ShimFlags, manager: ShimManager): Promise<void> {
  delete process.env.NODE_OPTIONS;
  const address = spareFlags.address;
  if (!address) throw new Error('a spare needs -address');
  const ownEntry = realpathSync(process.argv[1]!);
  const path = spareSocketPath(address);
  mkdirSync(spareDir, { recursive: true, mode: 0o700 });
  let listenFd: number;
  try {
    listenFd = unixListen(path, 64);
  } catch (err) {
    if (errnoOf(err) !== 'EADDRINUSE') throw err;
    // Another spare may serve it; if nobody does, the path is left over from a dead one.
    if (await canConnect(path)) process.exit(0);
    unlinkSync(path);
    listenFd = unixListen(path, 64);
  }
  const listenIno = statSync(path).ino;
  // Bound first, loaded second: a second spare finds this one before it pays for a boot, and a
  // launcher that connects meanwhile waits in the backlog for the answer.
  await manager.prepare?.();
  let listening = true;
  const containerdSocket = socketPathFromAddress(address);
  const watch = setInterval(() => {
    try {
      statSync(containerdSocket);
      // Our build removed (the npm package upgraded or uninstalled): no launcher will ever run it again.
      statSync(ownEntry);
    } catch {
      stopListening();
      process.exit(0);
    }
  }, containerdCheckMs);
  watch.unref();
  const onTerm = (): void => {
    stopListening();
    process.exit(0);
  };
  process.on('SIGTERM', onTerm);
  /** Ends the spare's part: no more calls, the socket removed (if still ours), the daemon's signals. */
  function stopListening(): void {
    if (!listening) return;
    listening = false;
    clearInterval(watch);
    process.off('SIGTERM', onTerm);
    closeFd(listenFd);
    try {
      if (statSync(path).ino === listenIno) unlinkSync(path);
    } catch {
      /* gone already */
    }
  }

  while (listening) {
    await readable(listenFd);
    const conn = accept(listenFd);
    if (conn === null) continue;
    if (await answer(conn, address, ownEntry, manager, stopListening)) return;
  }
}

/** Handles one launcher connection; true when this spare became a daemon. */
async function answer(conn: number, address: string, ownEntry: string, manager: ShimManager, stopListening: () => void): Promise<boolean> {
  let fds: number[] = [];
  try {
    const raw = await readRequest(conn);
    fds = raw.fds;
    const req = parseRequest(conn, raw.fds, raw.body);
    const flags = parseFlags(req.argv);
    const unfit = checkCall(req, flags, address, ownEntry);
    if (unfit) throw unfit;
    const containerdPid = parentOf(req.callerPid);
    if (!reply(conn, 'A') || !(await confirmed(conn))) return false;
    return await adopt(req, flags, containerdPid, manager, stopListening);
  } catch (err) {
    if (err instanceof Declined) {
      reply(conn, 'D');
      if (err.stale) {
        stopListening();
        process.exit(0);
      }
      return false;
    }
    // After 'A': the call failed; tell containerd why, as `start` would.
    writeError(fds[2], err);
    reply(conn, 1);
    return false;
  } finally {
    closeAll(fds);
    closeFd(conn);
  }
}

function writeError(fd: number | undefined, err: unknown): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, `${err instanceof Error ? err.message : String(err)}\n`);
  } catch {
    /* containerd went away */
  }
}

/** Runs `start` for the call; becomes the group's daemon when it bound a new socket. */
async function adopt(
  req: Request,
  flags: ShimFlags,
  containerdPid: number,
  manager: ShimManager,
  stopListening: () => void,
): Promise<boolean> {
  const [stdinFd, stdoutFd] = req.fds as [number, number, number];
  replaceEnv(req.env);
  process.chdir(req.cwd);
  const call: StartCall = { flags, bundle: req.cwd, input: readStartInput(flags, manager, readStdin(stdinFd)) };
  const claimed = await claimSocket(call, manager);
  const output = startOutput(claimed.address, call.input, flags.publishBinary);
  if (!claimed.server) {
    writeSync(stdoutFd, output);
    closeAll(req.fds.splice(0));
    reply(req.conn, 0);
    return false;
  }
  try {
    // Back to containerd's priority (a spare boots niced), its OOM score and its cgroups.
    const nice = getPriority(req.callerPid);
    if (getPriority() !== nice) setPriority(nice);
    adjustOomScore(process.pid, containerdPid);
    await manager.afterDaemonStart?.(flags, process.pid, call.input, { containerdPid, adopted: true });
  } catch (err) {
    claimed.server.close(); // unlinks the socket no daemon will serve
    throw err;
  }
  stopListening();
  setTitle(flags, manager.binaryName);
  writeSync(stdoutFd, output);
  closeAll(req.fds.splice(0));
  reply(req.conn, 0);
  if (sparesEnabled()) requestNextSpare(req.conn, flags.address, manager.binaryName);
  await serveBoundSocket(flags, manager, claimed.server, claimed.path, startLogLevel(call));
  return true;
}

/** Asks the launcher to start the spare that takes this one's place. */
function requestNextSpare(conn: number, address: string, binaryName: string): void {
  const command = spareCommand(address, process.env);
  const env = Object.entries(command.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const strings = [String(spareNice), command.file, binaryName, String(command.args.length), ...command.args, ...env];
  const body = Buffer.from(strings.map((x) => `${x}\0`).join(''), 'utf8');
  const header = Buffer.alloc(5);
  header.write('S', 0);
  header.writeUInt32LE(body.length, 1);
  try {
    writeSync(conn, Buffer.concat([header, body]));
  } catch {
    // The launcher is gone: the next start runs Node, which starts a spare.
  }
}

function readStdin(fd: number): Uint8Array {
  try {
    return readFileSync(fd);
  } catch {
    return new Uint8Array();
  }
}

/** ps shows what `start` would have spawned (the spare's argv left room for it). */
function setTitle(flags: ShimFlags, binaryName: string): void {
  const args = [binaryName, '-namespace', flags.namespace, '-id', flags.id, '-address', flags.address];
  if (flags.debug) args.push('-debug');
  process.title = args.join(' ');
}
