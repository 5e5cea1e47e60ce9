// One container: its runc handle, rootfs mounts, init and exec processes, and the order of
// its events (create, start, exec-added, exec-started, exit of each exec, exit, delete).
// States and what each allows are in process.ts; collaborators come in as ContainerDeps; what a
// create is given and settles, in container-setup.ts.
import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Topic, buildTaskEvent, toTimestamp, type AnyMessage } from '../api/index.js';
import type { Cgroup, OomWatcher } from '../cgroups/index.js';
import { isNotFoundKillError, readPidFile } from '../runc/index.js';
import { saveDeleteResponse } from '../shim/delete-response.js';
import { alreadyExists, failedPrecondition, notFound } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import type { StdioPaths } from '../stdio/process-io.js';
import { errnoOf } from '../sys/errno.js';
import { mountAll, unmountAll } from '../sys/mount.js';
import type { Exit } from '../sys/reaper.js';
import { initExitFile } from './bundle-files.js';
import {
  sharesPidNamespace,
  type CheckpointParams,
  type ContainerSetup,
  type CreateParams,
  type RestoreSource,
  type RuncIO,
} from './container-setup.js';
import type { ContainerDeps, RuncClient } from './deps.js';
import { persistOptions, type TaskOptions } from './options.js';
import { ContainerProcess, ExecProcess, type ExitInfo } from './process.js';
import { Deferred, SerialQueue } from './serial.js';
import { prepareStdio } from './stdio-setup.js';

/** How long Delete waits for a dead process's output to reach the client (as the Go shim). */
const ioDrainMs = 10_000;
/**
 * At most this long an exit waits for the process's output to reach the client before it is reported
 * (and less when nothing moves: stdio's outputStallMs). ctr 1.6/1.7 closes its FIFOs as soon as it has
 * the exit (cio's Cancel in Task.Delete), dropping what it has not read yet: 10 MiB written just before
 * exit arrived up to 250 KiB short under load.
 */
const exitOutputWaitMs = 2_000;
/** How long Delete of a never-started container waits for the init runc killed to be reaped. */
const killedInitWaitMs = 2_000;

export class Container {
  readonly serial = new SerialQueue();
  private readonly execs = new Map<string, ExecProcess>();
  readonly logger: Logger;
  /** The init's cgroup, found at create (Stats, OOM); undefined if it could not be read. */
  private cgroup: Cgroup | undefined;
  private oomWatcher: OomWatcher | undefined;
  /**
   * Set by the reaper's report of init's exit, and settled once that exit is recorded and published:
   * no exec starts after it is set, though the exit is published later.
   */
  private initExitHandling: Promise<void> | undefined;
  /** `runc kill` calls on init still running: Delete waits for them (their answers come first). */
  private readonly initKills = new Set<Promise<unknown>>();

  readonly id: string;
  readonly bundle: string;
  readonly namespace: string;
  readonly init: ContainerProcess;
  private readonly runc: RuncClient;
  private readonly options: TaskOptions;
  /** Set when the init is restore-pending: the image Start restores from. */
  private readonly restoreFrom: RestoreSource | undefined;
  private readonly rootfsMounted: boolean;
  private readonly sharedPidNs: boolean;

  private constructor(
    setup: ContainerSetup,
    private readonly deps: ContainerDeps,
  ) {
    this.id = setup.id;
    this.bundle = setup.bundle;
    this.namespace = setup.namespace;
    this.init = setup.init;
    this.runc = setup.runc;
    this.options = setup.options;
    this.restoreFrom = setup.restoreFrom;
    this.rootfsMounted = setup.rootfsMounted;
    this.sharedPidNs = setup.sharedPidNs;
    this.logger = deps.logger.child({ container: setup.id });
  }

  static async create(params: CreateParams, deps: ContainerDeps): Promise<Container> {
    const { id, bundle, options } = params;
    await persistOptions(bundle, options);
    const runc = deps.runcFor(bundle, params.namespace, options);
    const rootfsDir = join(bundle, 'rootfs');
    const rootfsMounted = params.rootfs.length > 0;
    if (rootfsMounted) {
      await mountAll(
        params.rootfs.map((m) => ({
          type: m.type ?? '',
          source: m.source ?? '',
          target: m.target ?? '',
          options: m.options ?? [],
        })),
        rootfsDir,
      );
    }
    const restoreFrom = params.checkpoint ? { checkpoint: params.checkpoint, parentCheckpoint: params.parentCheckpoint } : undefined;
    const init = new ContainerProcess(id, 'init', params.stdio, restoreFrom ? 'restore-pending' : 'created');
    const container = new Container(
      {
        id,
        bundle,
        namespace: params.namespace,
        init,
        runc,
        options,
        restoreFrom,
        rootfsMounted,
        sharedPidNs: await sharesPidNamespace(bundle),
      },
      deps,
    );
    if (restoreFrom) {
      container.publishCreate(params);
      container.logger.info({ checkpoint: params.checkpoint }, 'container created; it is restored at start');
      return container;
    }
    let since: bigint;
    let runcRan = false;
    try {
      since = await container.launch(init, join(bundle, 'init.pid'), (io) => {
        runcRan = true;
        return runc.create(id, {
          bundle,
          pidFile: join(bundle, 'init.pid'),
          noPivot: options.noPivotRoot,
          noNewKeyring: options.noNewKeyring,
          ...io,
        });
      });
    } catch (err) {
      // runc may have left a created container (a failure after it, or one of its own): remove it.
      if (runcRan) await runc.delete(id, { force: true }).catch(() => undefined);
      if (rootfsMounted) await unmountAll(rootfsDir).catch(() => undefined);
      throw err;
    }
    container.publishCreate(params);
    await container.track(since);
    container.logger.info({ pid: init.pid }, 'container created');
    return container;
  }

  /**
   * The one way a process is started (runc create, restore or exec): its stdio set up, `run` called
   * with what runc must get, the stdio attached and the pid read from `pidFile`. On failure the
   * stdio is released and the error rethrown; the caller undoes its own part. Returns the reaper
   * mark taken just before runc ran: an exit after it belongs to this process.
   */
  private async launch(proc: ContainerProcess, pidFile: string, run: (io: RuncIO) => Promise<unknown>): Promise<bigint> {
    const stdio = await prepareStdio(
      proc.stdio,
      { uid: this.options.ioUid, gid: this.options.ioGid },
      { containerId: this.id, namespace: this.namespace },
      this.logger,
    );
    const since = this.deps.clock.monotonic();
    try {
      await run({ stdio: stdio.runcStdio, ...(stdio.consoleSocket ? { consoleSocket: stdio.consoleSocket } : {}) });
      proc.attachIO(await stdio.complete());
      proc.pid = await readPidFile(pidFile);
    } catch (err) {
      await stdio.abort();
      proc.io?.close();
      throw err;
    }
    return since;
  }

  private publishCreate(params: CreateParams): void {
    this.deps.publisher.publish(
      buildTaskEvent(Topic.TaskCreate, {
        containerId: this.id,
        bundle: this.bundle,
        rootfs: params.rootfs,
        io: { stdin: params.stdio.stdin, stdout: params.stdio.stdout, stderr: params.stdio.stderr, terminal: params.stdio.terminal },
        checkpoint: params.checkpoint,
        pid: this.init.pid,
      }),
    );
  }

  /** Once init's pid is known: find its cgroup, watch it for OOM kills and wait for init's exit. */
  private async track(since: bigint): Promise<void> {
    this.cgroup = await this.deps.cgroups.ofPid(this.init.pid).catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message }, 'cannot read the container cgroup: no stats or OOM events');
      return undefined;
    });
    this.watchOOM();
    void this.deps.reaper.waitFor(this.init.pid, { since }).then((exit) => {
      this.initExitHandling = this.onInitExit(exit);
      return this.initExitHandling;
    });
  }

  /**
   * Registered once init exists (after runc create), before it can run: an init killed for OOM
   * as soon as it starts is still reported (the Go shim registers after start and can miss it).
   * A failure only costs the OOM events.
   */
  private watchOOM(): void {
    if (!this.cgroup || this.oomWatcher) return;
    try {
      this.oomWatcher = this.deps.cgroups.watchOOM(
        this.cgroup,
        () => {
          this.deps.publisher.publish(buildTaskEvent(Topic.TaskOOM, { containerId: this.id }));
        },
        this.logger,
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot watch for OOM kills');
    }
  }

  /** The process named by a request: init for an empty exec id. */
  process(execId: string): ContainerProcess {
    if (!execId) return this.init;
    const exec = this.execs.get(execId);
    if (!exec) throw notFound(`exec ${JSON.stringify(execId)} not found in container ${this.id}`);
    return exec;
  }

  get execProcesses(): IterableIterator<ExecProcess> {
    return this.execs.values();
  }

  // ---- init ----

  async start(): Promise<number> {
    return this.serial.run(async () => {
      this.init.check('start');
      const started = new Deferred<void>();
      this.init.starting = started.promise;
      try {
        if (this.restoreFrom) await this.restore(this.restoreFrom);
        else await this.runc.start(this.id);
        // The exit handler waits for `starting`: nothing else moved the state meanwhile.
        this.init.transition('running');
        this.deps.publisher.publish(buildTaskEvent(Topic.TaskStart, { containerId: this.id, pid: this.init.pid }));
        return this.init.pid;
      } finally {
        this.init.starting = undefined;
        started.resolve();
      }
    });
  }

  /** Start of a container created from a checkpoint: `runc restore` with the stdio set up now. */
  private async restore(from: RestoreSource): Promise<void> {
    const pidFile = join(this.bundle, 'init.pid');
    const since = await this.launch(this.init, pidFile, (io) =>
      this.runc.restore(this.id, {
        imagePath: from.checkpoint,
        workPath: this.options.criuWorkPath || join(this.bundle, 'work'),
        ...(from.parentCheckpoint ? { parentPath: from.parentCheckpoint } : {}),
        bundle: this.bundle,
        pidFile,
        noPivot: this.options.noPivotRoot,
        ...io,
      }),
    );
    await this.track(since);
  }

  private async onInitExit(exit: Exit): Promise<void> {
    await this.init.starting;
    // An OOM kill is reported before the exit it caused (containerd PR #12714).
    this.oomWatcher?.check();
    this.oomWatcher?.close();
    if (this.sharedPidNs) {
      // Without its own PID namespace the container's other processes would outlive init.
      await this.runc.kill(this.id, 9, { all: true }).catch(() => undefined);
    }
    // Exits of the container's execs come first (the kernel kills them with the PID namespace).
    await Promise.all(
      [...this.execs.values()].map(async (exec) => {
        await exec.starting;
        if (exec.state === 'running') await exec.wait();
      }),
    );
    await this.init.io?.outputCopied(exitOutputWaitMs);
    const info: ExitInfo = { status: exit.status, exitedAt: exit.exitedAt };
    await writeFile(join(this.bundle, initExitFile), JSON.stringify(info)).catch(() => undefined);
    this.logger.info({ pid: exit.pid, status: exit.status }, 'container init exited');
    // The event is queued before waiters are released: containerd never sees a Wait answer
    // without the exit event on its way (docs/architecture.md §7.3).
    this.publishExit(this.init, info);
    this.init.setExited(info);
  }

  private publishExit(proc: ContainerProcess, info: ExitInfo): void {
    this.deps.publisher.publish(
      buildTaskEvent(Topic.TaskExit, {
        containerId: this.id,
        id: proc.id,
        pid: proc.pid,
        exitStatus: info.status,
        exitedAt: toTimestamp(info.exitedAt),
      }),
    );
  }

  /** runc checkpoint of the init process; the image goes to `params.path`. */
  async checkpoint(params: CheckpointParams): Promise<void> {
    return this.serial.run(async () => {
      this.init.check('checkpoint');
      const workPath = params.workPath || join(this.bundle, 'work', 'criu-work');
      try {
        await this.runc.checkpoint(this.id, {
          imagePath: params.path,
          workPath,
          leaveRunning: !params.exit,
          tcpEstablished: params.openTcp,
          extUnixSk: params.externalUnixSockets,
          shellJob: params.terminal,
          fileLocks: params.fileLocks,
          emptyNamespaces: params.emptyNamespaces,
          ...(params.cgroupsMode ? { manageCgroupsMode: params.cgroupsMode } : {}),
        });
      } catch (err) {
        // CRIU's own log is the only useful diagnosis: keep it in the bundle and name it.
        const dumpLog = join(this.bundle, 'criu-dump.log');
        await copyFile(join(workPath, 'dump.log'), dumpLog).catch(() => undefined);
        throw new Error(`${(err as Error).message}: criu dump log: ${dumpLog}`, { cause: err });
      } finally {
        if (!params.workPath) await rm(workPath, { recursive: true, force: true });
      }
    });
  }

  async kill(execId: string, signal: number, all: boolean): Promise<void> {
    const proc = this.process(execId);
    if (proc.state === 'stopped' || proc.state === 'deleted') {
      throw notFound(`process ${proc.id} not found: process already finished`);
    }
    proc.check('kill');
    if (proc.kind === 'exec') {
      try {
        process.kill(proc.pid, signal);
      } catch (err) {
        if (errnoOf(err) === 'ESRCH') throw notFound(`process ${proc.id} not found: process already finished`);
        throw err;
      }
      return;
    }
    // Tracked: init can die (and its exit go out) while runc kill still runs; the Kill must be
    // answered before the container's Delete is, or containerd may close the connection first.
    const killing = this.runc.kill(this.id, signal, { all });
    const tracked = killing.catch(() => undefined).finally(() => this.initKills.delete(tracked));
    this.initKills.add(tracked);
    try {
      await killing;
    } catch (err) {
      if (isNotFoundKillError(err)) throw notFound(`process ${this.id} not found: ${(err as Error).message}`);
      throw err;
    }
  }

  /** Deletes the container; the caller forgets it afterwards. */
  async delete(): Promise<ExitInfo & { pid: number }> {
    return this.serial.run(async () => {
      if (this.init.state === 'deleted') throw notFound(`container ${this.id} is already deleted`);
      this.init.check('delete');
      while (this.initKills.size > 0) await Promise.all(this.initKills);
      await this.removeFromRunc();
      for (const exec of this.execs.values()) exec.io?.close();
      await this.init.io?.drain(ioDrainMs);
      this.init.io?.close();
      if (this.rootfsMounted) await unmountAll(join(this.bundle, 'rootfs'));
      this.init.transition('deleted');
      const exit = this.init.exit ?? { status: 137, exitedAt: this.deps.clock.now() };
      // Nothing is left for `delete` to clean up: leave it its answer (a failed write only costs it a Node start).
      await saveDeleteResponse(this.bundle, { pid: this.init.pid, exitStatus: exit.status, exitedAt: exit.exitedAt }).catch(
        (err: unknown) => {
          this.logger.warn({ err: (err as Error).message }, 'cannot save the delete response');
        },
      );
      this.deps.publisher.publish(
        buildTaskEvent(Topic.TaskDelete, {
          containerId: this.id,
          pid: this.init.pid,
          exitStatus: exit.status,
          exitedAt: toTimestamp(exit.exitedAt),
          id: this.id,
        }),
      );
      this.logger.info('container deleted');
      return { pid: this.init.pid, ...exit };
    });
  }

  /** The runc side of Delete, by init's state (created, restore-pending or stopped). */
  private async removeFromRunc(): Promise<void> {
    switch (this.init.state) {
      case 'restore-pending':
        // Never restored: runc has no container; nothing ran.
        this.init.setExited({ status: 0, exitedAt: this.deps.clock.now() });
        return;
      case 'created': {
        // Never started: runc kills the waiting init; its exit comes through the reaper.
        await this.runc.delete(this.id, { force: true });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.init.wait(),
          new Promise((resolve) => {
            timer = setTimeout(resolve, killedInitWaitMs);
          }),
        ]);
        clearTimeout(timer);
        return;
      }
      default:
        await this.runc.delete(this.id, { force: false }).catch((err: unknown) => {
          if (!/does not exist|not found/i.test((err as Error).message)) throw err;
        });
    }
  }

  async pids(): Promise<number[]> {
    this.init.check('pids');
    return this.runc.ps(this.id);
  }

  async pause(): Promise<void> {
    return this.serial.run(async () => {
      this.init.check('pause');
      this.init.transition('pausing');
      try {
        await this.runc.pause(this.id);
      } catch (err) {
        // Rolled back unless init died meanwhile (then it is stopped and stays so).
        if (this.init.state === 'pausing') this.init.transition('running');
        throw err;
      }
      if (this.init.state === 'pausing') this.init.transition('paused');
      this.deps.publisher.publish(buildTaskEvent(Topic.TaskPaused, { containerId: this.id }));
    });
  }

  async resume(): Promise<void> {
    return this.serial.run(async () => {
      this.init.check('resume');
      await this.runc.resume(this.id);
      if (this.init.state === 'paused') this.init.transition('running');
      this.deps.publisher.publish(buildTaskEvent(Topic.TaskResumed, { containerId: this.id }));
    });
  }

  /** The cgroup metrics Any (io.containerd.cgroups.v1/v2.Metrics). */
  async stats(): Promise<AnyMessage> {
    if (!this.cgroup) throw notFound(`no cgroup known for container ${this.id}`);
    return this.cgroup.metrics();
  }

  async update(resources: unknown): Promise<void> {
    this.init.check('update');
    await this.runc.update(this.id, JSON.stringify(resources));
  }

  /** What State reports for a process: an exec is as paused as its container. */
  stateOf(proc: ContainerProcess): ContainerProcess['state'] {
    if (proc.kind === 'exec' && proc.state === 'running' && (this.init.state === 'paused' || this.init.state === 'pausing')) {
      return this.init.state;
    }
    return proc.state;
  }

  // ---- exec ----

  addExec(execId: string, spec: Record<string, unknown>, stdio: StdioPaths): void {
    if (this.execs.has(execId)) throw alreadyExists(`exec ${JSON.stringify(execId)} already exists in container ${this.id}`);
    if (!this.init.allows('exec')) {
      throw failedPrecondition(`container ${this.id} is not running: cannot exec in a stopped container (it is ${this.init.state})`);
    }
    this.execs.set(execId, new ExecProcess(execId, stdio, { ...spec, terminal: stdio.terminal }));
    this.deps.publisher.publish(buildTaskEvent(Topic.TaskExecAdded, { containerId: this.id, execId }));
  }

  async startExec(execId: string): Promise<number> {
    const exec = this.process(execId) as ExecProcess;
    exec.check('start');
    if (this.initExitHandling || !this.init.allows('exec')) {
      throw failedPrecondition(
        `container ${this.id} is not running: cannot start exec ${execId} (its init ${this.initExitHandling ? 'exited' : `is ${this.init.state}`})`,
      );
    }
    try {
      return await this.launchExec(exec);
    } catch (err) {
      // Init died while this exec was starting (runc: "cannot exec in a stopped container"). Its exit
      // is recorded once this start has settled: answer after that, so a State that follows this
      // answer says stopped (containerd's TestIssue10589 asks right away).
      await this.initExitHandling;
      throw err;
    }
  }

  private async launchExec(exec: ExecProcess): Promise<number> {
    const execId = exec.id;
    // Set before anything is awaited: init's exit handler, if init dies now, waits for this start.
    const started = new Deferred<void>();
    exec.starting = started.promise;
    try {
      const pidFile = join(this.bundle, `${execId}.pid`);
      let since: bigint;
      try {
        since = await this.launch(exec, pidFile, (io) => this.runc.exec(this.id, exec.spec, { pidFile, ...io }));
      } catch (err) {
        // Like the Go shim: the exec stays `created` (it never ran) and its waiters are released.
        exec.releaseWaiters({ status: 255, exitedAt: this.deps.clock.now() });
        throw err;
      }
      exec.transition('running');
      this.deps.publisher.publish(buildTaskEvent(Topic.TaskExecStarted, { containerId: this.id, execId, pid: exec.pid }));
      void this.deps.reaper.waitFor(exec.pid, { since }).then((exit) => this.onExecExit(exec, exit));
      return exec.pid;
    } finally {
      exec.starting = undefined;
      started.resolve();
    }
  }

  private async onExecExit(exec: ExecProcess, exit: Exit): Promise<void> {
    await exec.starting;
    await exec.io?.outputCopied(exitOutputWaitMs);
    const info: ExitInfo = { status: exit.status, exitedAt: exit.exitedAt };
    this.logger.debug({ exec: exec.id, pid: exit.pid, status: exit.status }, 'exec exited');
    this.publishExit(exec, info);
    exec.setExited(info);
  }

  async deleteExec(execId: string): Promise<ExitInfo & { pid: number }> {
    const exec = this.process(execId);
    exec.check('delete');
    if (exec.starting) throw failedPrecondition(`cannot delete exec process ${execId}: it is being started`);
    // Gone before anything is awaited: a Start of the same exec arriving meanwhile finds nothing to start.
    exec.transition('deleted');
    this.execs.delete(execId);
    await exec.io?.drain(ioDrainMs);
    exec.io?.close();
    await rm(join(this.bundle, `${execId}.pid`), { force: true });
    const exit = exec.exit ?? { status: 0, exitedAt: new Date(0) };
    return { pid: exec.pid, ...exit };
  }
}
