// A private containerd for one e2e suite: temp root/state/address, its own namespace, debug logs captured.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killLeftoverProcesses, removeScopeCgroups, unmountAllUnder } from './cleanup.js';
import type { CgroupScope } from './cleanup.js';
import { defaultRuntimeHandlers, renderContainerdConfig } from './config.js';
import type { CriRuntimeHandler } from './config.js';
import { DaemonProcess } from './daemon-process.js';
import { CommandError, formatCommand, LongRunningCommand, runCommand } from './exec.js';
import type { CommandResult, RunOptions } from './exec.js';
import { loadFixtures } from './fixtures.js';
import type { Fixtures } from './fixtures.js';
import { assertPrivateRunContainerd } from './isolation.js';
import { criuDir, distDir } from './paths.js';
import { findShimProcesses } from './procs.js';
import type { ProcessInfo } from './procs.js';
import { findContainerd } from './versions.js';
import type { ContainerdBinaries, ContainerdVersion } from './versions.js';

export interface StartContainerdOptions {
  version: ContainerdVersion;
  /** Default namespace for ctr(); default e2e-<version>-<random>. */
  namespace?: string;
  /** Load the CRI plugin (default false). Its sandbox image is the fixture's pause image. */
  criEnabled?: boolean;
  /**
   * CRI runtime handlers, merged over the defaults (runc -> io.containerd.runc.v2, tsshim ->
   * io.containerd.tsshim.v2); a string is the runtime_type.
   */
  runtimeHandlers?: Readonly<Record<string, string | CriRuntimeHandler>>;
  /** Raw TOML appended to the config (version 2 syntax for 1.x, version 3 for 2.x). */
  extraToml?: string;
  /** Extra environment for containerd, inherited by the shims it starts. */
  env?: Record<string, string>;
  /**
   * Directories put first on containerd's PATH, ahead of dist/ (e.g. dist/sea, so that
   * io.containerd.tsshim.v2 resolves to the single executable).
   */
  pathPrefix?: readonly string[];
  /** Leave dist/ off containerd's PATH (a test of an installed shim: only pathPrefix provides it). */
  noDist?: boolean;
  startTimeoutMs?: number;
  /**
   * Run containerd (and so its shims and runtimes) in a mount namespace of its own in which an empty
   * tmpfs covers /sys/fs/cgroup/unified: crun refuses this host's hybrid layout (a cgroup v2 hierarchy
   * with a controller in it, beside the v1 ones) with "cgroups in hybrid mode not supported".
   */
  hideUnifiedCgroup?: boolean;
}

export interface CtrOptions extends RunOptions {
  /** Namespace for this call instead of the suite's. */
  namespace?: string;
}

export interface StopReport {
  /** Pids SIGKILLed because they were still there after containerd stopped (leaked shims, orphans). */
  killed: number[];
  unmounted: string[];
  /** Things that could not be cleaned; empty when all went well. */
  problems: string[];
}

const LOG_LIMIT = 8 * 1024 * 1024;

export class Containerd {
  readonly version: ContainerdVersion;
  readonly fullVersion: string;
  readonly binaries: ContainerdBinaries;
  readonly namespace: string;
  readonly tempDir: string;
  readonly root: string;
  readonly state: string;
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly configPath: string;
  /** The PATH containerd (and so every shim) runs with: pathPrefix, dist/, then this version's binaries. */
  readonly path: string;
  private readonly env: NodeJS.ProcessEnv;
  private daemon: DaemonProcess | undefined;
  /** The log of the daemons this one replaced (a test may restart containerd). */
  private earlierLog = '';
  private readonly usedNamespaces = new Set<string>();
  /** The namespace this harness made up for the suite (no other containerd uses it), if it did. */
  private readonly ownNamespace: string | undefined;
  /** Ids of this containerd's containers and tasks by namespace, gathered at teardown (cleanup.ts CgroupScope). */
  private readonly ownContainers = new Map<string, Set<string>>();
  private readonly longRunning = new Set<LongRunningCommand>();
  private readonly imports = new Map<string, Promise<Fixtures>>();
  private stopping: Promise<StopReport> | undefined;

  constructor(binaries: ContainerdBinaries, tempDir: string, opts: StartContainerdOptions) {
    this.binaries = binaries;
    this.version = binaries.version;
    this.fullVersion = binaries.fullVersion;
    this.namespace = opts.namespace ?? `e2e-${binaries.version.replace('.', '')}-${randomBytes(3).toString('hex')}`;
    this.ownNamespace = opts.namespace === undefined ? this.namespace : undefined;
    this.usedNamespaces.add(this.namespace);
    this.tempDir = tempDir;
    this.root = join(tempDir, 'root');
    this.state = join(tempDir, 'state');
    // Unix socket paths must stay under ~100 bytes: /tmp/tsshim-e2e-XXXXXX/c.sock.ttrpc is 35.
    this.address = join(tempDir, 'c.sock');
    this.ttrpcAddress = join(tempDir, 'c.sock.ttrpc');
    this.configPath = join(tempDir, 'config.toml');
    // criu: the trixie build that works on this kernel (scripts/criu.sh), ahead of any system one.
    this.path = [
      ...(opts.pathPrefix ?? []),
      ...(opts.noDist ? [] : [distDir]),
      binaries.binDir,
      criuDir,
      '/usr/local/sbin',
      '/usr/local/bin',
      '/usr/sbin',
      '/usr/bin',
      '/sbin',
      '/bin',
    ].join(':');
    this.env = { ...process.env, PATH: this.path, ...opts.env };
  }

  get pid(): number {
    const pid = this.daemon?.pid;
    if (pid === undefined) throw new Error('containerd is not running');
    return pid;
  }

  /** containerd's own stderr so far (debug level, so the shims' logs are included). */
  logs(): string {
    return this.earlierLog + (this.daemon?.logs() ?? '');
  }

  logsTail(lines = 80): string {
    return this.logs()
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }

  isRunning(): boolean {
    return this.daemon?.isRunning() ?? false;
  }

  /** @internal Starts the daemon and resolves once it has booted. */
  async launch(opts: StartContainerdOptions): Promise<void> {
    await mkdir(join(this.tempDir, 'opt'), { recursive: true });
    await writeFile(
      this.configPath,
      renderContainerdConfig({
        version: this.version,
        root: this.root,
        state: this.state,
        address: this.address,
        ttrpcAddress: this.ttrpcAddress,
        optDir: join(this.tempDir, 'opt'),
        criEnabled: opts.criEnabled ?? false,
        pauseImage: loadFixtures().pauseImage,
        runtimeHandlers: {
          ...defaultRuntimeHandlers,
          ...Object.fromEntries(
            Object.entries(opts.runtimeHandlers ?? {}).map(([name, h]) => [name, typeof h === 'string' ? { runtimeType: h } : h]),
          ),
        },
        ...(opts.extraToml === undefined ? {} : { extraToml: opts.extraToml }),
      }),
    );
    const argv = ['--config', this.configPath];
    const [file, args] =
      opts.hideUnifiedCgroup && existsSync('/sys/fs/cgroup/unified')
        ? [
            'unshare',
            [
              '--mount',
              '--propagation',
              'private',
              '--',
              'sh',
              '-c',
              'mount -t tmpfs tsshim-no-unified /sys/fs/cgroup/unified && exec "$0" "$@"',
              this.binaries.containerd,
              ...argv,
            ],
          ]
        : [this.binaries.containerd, argv];
    this.earlierLog = this.logs().slice(-LOG_LIMIT / 2);
    const daemon = new DaemonProcess('containerd', file, args, this.env, LOG_LIMIT);
    this.daemon = daemon;
    await daemon.waitUntilReady(
      () => /successfully booted/.test(daemon.logs()) && existsSync(this.address),
      `containerd ${this.fullVersion}`,
      opts.startTimeoutMs ?? 30_000,
      20,
    );
  }

  private ctrArgv(args: readonly string[], namespace: string): string[] {
    return ['--address', this.address, '--namespace', namespace, ...args];
  }

  /** Runs this version's ctr against this containerd (default timeout 60 s). */
  ctr(args: readonly string[], opts: CtrOptions = {}): Promise<CommandResult> {
    const namespace = opts.namespace ?? this.namespace;
    this.usedNamespaces.add(namespace);
    return runCommand(this.binaries.ctr, this.ctrArgv(args, namespace), { timeoutMs: 60_000, env: this.env, ...opts });
  }

  /** Like ctr() but throws (with ctr's output and containerd's log tail) unless it exits 0; returns stdout. */
  async ctrOk(args: readonly string[], opts: CtrOptions = {}): Promise<string> {
    const r = await this.ctr(args, opts);
    if (r.code !== 0) {
      const cmd = formatCommand('ctr', args);
      throw new CommandError(
        cmd,
        r,
        `${cmd} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`})` +
          `\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- containerd log ---\n${this.logsTail(40)}`,
      );
    }
    return r.stdout;
  }

  /** Starts a long-running ctr (e.g. `events`); stop() ends it if the test did not. */
  spawnCtr(args: readonly string[], opts: { namespace?: string } = {}): LongRunningCommand {
    const namespace = opts.namespace ?? this.namespace;
    this.usedNamespaces.add(namespace);
    const cmd = new LongRunningCommand(formatCommand('ctr', args), this.binaries.ctr, this.ctrArgv(args, namespace), this.env);
    this.longRunning.add(cmd);
    void cmd.exited.then(() => this.longRunning.delete(cmd));
    return cmd;
  }

  /**
   * `ctr events`, returned once its subscription is live, so no event of the test is missed. ctr prints
   * nothing when it has subscribed: this labels the namespace (containerd publishes /namespaces/update)
   * until ctr prints that event. The probe lines stay in stdout; they name no task or container.
   */
  async subscribeEvents(timeoutMs = 20_000): Promise<LongRunningCommand> {
    const events = this.spawnCtr(['events']);
    const probe = `tsshim-e2e-subscribed-${randomBytes(3).toString('hex')}`;
    try {
      for (let n = 0, deadline = Date.now() + timeoutMs; ; n++) {
        await this.ctrOk(['namespaces', 'label', this.namespace, `${probe}=${n}`]);
        // An update published before the subscription began is never printed: label again.
        const seen = await events.waitForOutput(new RegExp(probe), 500).then(
          () => true,
          () => false,
        );
        if (seen) return events;
        if (events.exitStatus !== undefined || Date.now() > deadline) {
          throw new CommandError(
            'ctr events',
            undefined,
            `ctr events did not print /namespaces/update within ${timeoutMs} ms` +
              `\n--- stdout ---\n${events.stdout()}\n--- stderr ---\n${events.stderr()}\n--- containerd log ---\n${this.logsTail(40)}`,
          );
        }
      }
    } catch (err) {
      await events.stop();
      throw err;
    }
  }

  /** Imports the fixture images into the namespace (once per namespace); returns the fixture description. */
  importImage(namespace: string = this.namespace): Promise<Fixtures> {
    let pending = this.imports.get(namespace);
    if (!pending) {
      pending = (async () => {
        const fixtures = loadFixtures();
        await this.ctrOk(['images', 'import', fixtures.imageArchive], { namespace, timeoutMs: 120_000 });
        const names = (await this.ctrOk(['images', 'ls', '-q'], { namespace })).split('\n');
        for (const want of [fixtures.image, fixtures.pauseImage]) {
          if (!names.includes(want))
            throw new Error(`after importing ${fixtures.imageArchive}, ${want} is missing; images: ${names.join(' ')}`);
        }
        return fixtures;
      })();
      pending.catch(() => this.imports.delete(namespace)); // a later call may retry
      this.imports.set(namespace, pending);
    }
    return pending;
  }

  /** Shim processes serving this containerd; `binaryName` narrows to one shim binary. */
  shims(binaryName?: string): ProcessInfo[] {
    return findShimProcesses(this.address, binaryName);
  }

  /**
   * Removes every task and container, stops containerd, kills what is left of its shims and their
   * containers, unmounts everything under its temp dir and removes it. Safe to call more than once and
   * after a failed start. Never throws: what it could not clean is in the report's `problems`.
   */
  stop(): Promise<StopReport> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<StopReport> {
    const report: StopReport = { killed: [], unmounted: [], problems: [] };
    await Promise.all([...this.longRunning].map((c) => c.stop(1_000)));
    if (this.isRunning()) await this.removeAllContainers(report.problems);
    await this.terminate(report.problems);
    const scopes = this.cgroupScopes();
    report.killed = await killLeftoverProcesses(this.address, scopes, report.problems);
    report.unmounted = await unmountAllUnder(this.tempDir, report.problems);
    removeScopeCgroups(scopes, report.problems);
    try {
      await rm(this.tempDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      report.problems.push(`rm -rf ${this.tempDir}: ${(e as Error).message}`);
    }
    return report;
  }

  private noteOwn(namespace: string, ids: readonly string[]): void {
    const set = this.ownContainers.get(namespace) ?? new Set<string>();
    this.ownContainers.set(namespace, set);
    for (const id of ids) set.add(id);
  }

  /**
   * Where the leftovers of this containerd can be in the cgroup tree: all of the namespace it made up,
   * and in any other namespace only its own containers: those listed before removal, and those whose
   * task bundle is still in its state directory (a shim that died, a containerd a test killed).
   */
  private cgroupScopes(): CgroupScope[] {
    const bundles = join(this.state, 'io.containerd.runtime.v2.task');
    for (const namespace of this.usedNamespaces) {
      try {
        this.noteOwn(namespace, readdirSync(join(bundles, namespace)));
      } catch {
        // no task bundle in it
      }
    }
    return [...this.usedNamespaces].map((namespace) =>
      namespace === this.ownNamespace ? { namespace } : { namespace, ids: this.ownContainers.get(namespace) ?? new Set<string>() },
    );
  }

  /** Goes through the shims (task delete --force), as a user would; leftovers are killed afterwards. */
  private async removeAllContainers(problems: string[]): Promise<void> {
    const quick = { timeoutMs: 20_000 };
    const nsList = await this.ctr(['namespaces', 'ls', '-q'], quick);
    const namespaces = new Set([...this.usedNamespaces, ...nsList.stdout.split('\n').filter((n) => n !== '')]);
    for (const namespace of namespaces) {
      this.usedNamespaces.add(namespace);
      const lines = async (args: string[]): Promise<string[]> =>
        (await this.ctr(args, { namespace, ...quick })).stdout
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '');
      const tasks = await lines(['tasks', 'ls', '-q']);
      this.noteOwn(namespace, tasks);
      await Promise.all(
        tasks.map(async (id) => {
          const r = await this.ctr(['tasks', 'delete', '--force', id], { namespace, ...quick });
          if (r.code !== 0) problems.push(`ctr -n ${namespace} tasks delete --force ${id}: ${r.stderr.trim() || `exit ${r.code}`}`);
        }),
      );
      const containers = await lines(['containers', 'ls', '-q']);
      this.noteOwn(namespace, containers);
      await Promise.all(
        containers.map(async (id) => {
          const r = await this.ctr(['containers', 'delete', id], { namespace, ...quick });
          if (r.code !== 0) problems.push(`ctr -n ${namespace} containers delete ${id}: ${r.stderr.trim() || `exit ${r.code}`}`);
        }),
      );
    }
  }

  private async terminate(problems: string[]): Promise<void> {
    await this.daemon?.terminate(10_000, problems);
  }
}

/** Starts a private containerd of the given version. Throws MissingContainerdError if it is not installed. */
export async function startContainerd(opts: StartContainerdOptions): Promise<Containerd> {
  const binaries = findContainerd(opts.version);
  assertPrivateRunContainerd();
  const tempDir = await mkdtemp('/tmp/tsshim-e2e-');
  const containerd = new Containerd(binaries, tempDir, opts);
  try {
    await containerd.launch(opts);
  } catch (e) {
    await containerd.stop();
    throw e;
  }
  return containerd;
}
