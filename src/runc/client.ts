// Typed runc client: one method per runc command the shim uses. Every spawn goes through
// sys/spawn.ts so the reaper never steals the exit of a runc child.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../sys/spawn.js';
import {
  checkpointArgs,
  createArgs,
  deleteArgs,
  execArgs,
  featuresArgs,
  globalArgs,
  killArgs,
  pauseArgs,
  psArgs,
  restoreArgs,
  resumeArgs,
  startArgs,
  stateArgs,
  updateArgs,
  type CheckpointFlags,
  type CreateFlags,
  type RestoreFlags,
} from './argv.js';
import { RuncError, lastLoggedError, logOffset } from './errors.js';
import { parseFeatures, parsePids, parseState, type RuncFeatures, type RuncState } from './types.js';

/** runc's fds 0..2 for commands that leave a process behind: an fd to hand down, or /dev/null. */
export type RuncStdio = [number | 'ignore', number | 'ignore', number | 'ignore'];

export interface RuncOptions {
  /** runc-compatible binary (Options.binary_name), a path or a name looked up in PATH. */
  binary: string;
  /** `<Options.root or /run/containerd/runc>/<namespace>`; absent: runc's default. */
  root?: string;
  /** `<bundle>/log.json`, where runc's error messages are read from; absent: from its stderr only. */
  logPath?: string;
  systemdCgroup?: boolean;
  /** Environment for runc (default: ours); NOTIFY_SOCKET is always removed. */
  env?: NodeJS.ProcessEnv;
  /**
   * runc's working directory (default: ours). The container's bundle: a daemon serving several
   * containers has one of them as its own, and wrappers around runc read `config.json` there.
   */
  cwd?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends CreateFlags, CallOptions {
  /**
   * The container init inherits runc's stdio when there is no terminal. Never pipes of
   * ours: the container would hold them open. Default: all /dev/null.
   */
  stdio?: RuncStdio;
}

export interface ExecOptions extends CallOptions {
  pidFile: string;
  consoleSocket?: string;
  stdio?: RuncStdio;
}

export interface RestoreOptions extends RestoreFlags, CallOptions {
  stdio?: RuncStdio;
}

/** runc's stdio for create/exec/restore without caller fds: pipes would stay open in the container. */
const NULL_STDIO: RuncStdio = ['ignore', 'ignore', 'ignore'];

function callOf(opts: CallOptions): CallOptions {
  return opts.signal ? { signal: opts.signal } : {};
}

interface Invocation extends CallOptions {
  stdio?: RuncStdio;
  input?: string | Buffer;
}

export class Runc {
  readonly binary: string;
  private readonly logPath: string | undefined;
  private readonly globals: string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly cwd: string | undefined;

  constructor(opts: RuncOptions) {
    this.binary = opts.binary;
    this.cwd = opts.cwd;
    this.logPath = opts.logPath;
    this.globals = globalArgs(opts);
    const env = { ...(opts.env ?? process.env) };
    // runc would notify systemd itself; only the shim's own supervisor may use it.
    delete env.NOTIFY_SOCKET;
    this.env = env;
  }

  async create(id: string, opts: CreateOptions): Promise<void> {
    await this.invoke('create', createArgs(id, opts), { ...callOf(opts), stdio: opts.stdio ?? NULL_STDIO });
  }

  async start(id: string, opts: CallOptions = {}): Promise<void> {
    await this.invoke('start', startArgs(id), opts);
  }

  /** `runc exec --detach`: the process spec goes through a temporary JSON file, removed afterwards. */
  async exec(id: string, processSpec: object, opts: ExecOptions): Promise<void> {
    const dir = this.env.XDG_RUNTIME_DIR || tmpdir();
    const processFile = join(dir, `runc-process${randomBytes(8).toString('hex')}`);
    await writeFile(processFile, JSON.stringify(processSpec), { mode: 0o600, flag: 'wx' });
    try {
      const flags = opts.consoleSocket
        ? { processFile, pidFile: opts.pidFile, consoleSocket: opts.consoleSocket }
        : { processFile, pidFile: opts.pidFile };
      await this.invoke('exec', execArgs(id, flags), { ...callOf(opts), stdio: opts.stdio ?? NULL_STDIO });
    } finally {
      await rm(processFile, { force: true });
    }
  }

  async kill(id: string, signal: number, opts: CallOptions & { all?: boolean } = {}): Promise<void> {
    await this.invoke('kill', killArgs(id, signal, opts.all ?? false), opts);
  }

  async delete(id: string, opts: CallOptions & { force?: boolean } = {}): Promise<void> {
    await this.invoke('delete', deleteArgs(id, opts.force ?? false), opts);
  }

  async state(id: string, opts: CallOptions = {}): Promise<RuncState> {
    const res = await this.invoke('state', stateArgs(id), opts);
    return this.parseOutput('state', res, parseState);
  }

  /** Host pids of every process in the container. */
  async ps(id: string, opts: CallOptions = {}): Promise<number[]> {
    const res = await this.invoke('ps', psArgs(id), opts);
    return this.parseOutput('ps', res, parsePids);
  }

  async pause(id: string, opts: CallOptions = {}): Promise<void> {
    await this.invoke('pause', pauseArgs(id), opts);
  }

  async resume(id: string, opts: CallOptions = {}): Promise<void> {
    await this.invoke('resume', resumeArgs(id), opts);
  }

  /** `resources`: OCI LinuxResources, as an object or as the JSON text containerd sent. */
  async update(id: string, resources: object | string | Buffer, opts: CallOptions = {}): Promise<void> {
    const input = typeof resources === 'string' || Buffer.isBuffer(resources) ? resources : JSON.stringify(resources);
    await this.invoke('update', updateArgs(id), { ...callOf(opts), input });
  }

  async checkpoint(id: string, opts: CheckpointFlags & CallOptions): Promise<void> {
    await this.invoke('checkpoint', checkpointArgs(id, opts), opts);
  }

  async restore(id: string, opts: RestoreOptions): Promise<void> {
    await this.invoke('restore', restoreArgs(id, opts), { ...callOf(opts), stdio: opts.stdio ?? NULL_STDIO });
  }

  async features(opts: CallOptions = {}): Promise<{ raw: string; features: RuncFeatures }> {
    const res = await this.invoke('features', featuresArgs(), opts);
    const raw = res.stdout.toString('utf8').trim();
    return { raw, features: this.parseOutput('features', res, parseFeatures) };
  }

  /** Runs one runc command; a non-zero exit becomes a RuncError carrying runc's own message. */
  private async invoke(command: string, args: string[], call: Invocation): Promise<RunResult> {
    const offset = this.logPath === undefined ? 0 : await logOffset(this.logPath);
    // Pipes (to read runc's output) only for commands after which no process holds them.
    const stdio: Array<'ignore' | 'pipe' | number> = call.stdio ? [...call.stdio] : ['ignore', 'pipe', 'pipe'];
    let res: RunResult;
    try {
      res = await run(this.binary, [...this.globals, ...args], {
        env: this.env,
        ...(this.cwd !== undefined ? { cwd: this.cwd } : {}),
        stdio,
        ...(call.input !== undefined ? { input: call.input } : {}),
        ...(call.signal ? { signal: call.signal } : {}),
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new RuncError(command, null, `cannot run ${this.binary}: ${(err as Error).message}`, { cause: err });
    }
    if (res.code === 0) return res;
    const stderr = res.stderr.toString('utf8').trim();
    const logged = this.logPath === undefined ? '' : await lastLoggedError(this.logPath, offset);
    throw new RuncError(command, res.code, logged || stderr, { signal: res.signal, stderr });
  }

  private parseOutput<T>(command: string, res: RunResult, parse: (text: string) => T): T {
    try {
      return parse(res.stdout.toString('utf8'));
    } catch (err) {
      throw new RuncError(command, 0, `unreadable output: ${(err as Error).message}`, { cause: err });
    }
  }
}
