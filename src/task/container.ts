// One container: its runc handle, rootfs mounts, init and exec processes, and the order of
// its events (create, start, exec-added, exec-started, exit of each exec, exit, delete).
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Topic, buildTaskEvent, toTimestamp, type AnyMessage, type Mount } from '../api/index.js';
import { Runc, isNotFoundKillError, readPidFile } from '../runc/index.js';
import { saveDeleteResponse } from '../shim/delete-response.js';
import { alreadyExists, failedPrecondition, notFound } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import type { Publisher } from '../shim/publisher.js';
import type { StdioPaths } from '../stdio/process-io.js';
import { cgroupOfPid, watchOOM, type Cgroup, type OomWatcher } from '../cgroups/index.js';
import { mountAll, unmountAll } from '../sys/mount.js';
import { reaper, type Exit } from '../sys/reaper.js';
import { ContainerProcess, ExecProcess, type ExitInfo } from './process.js';
import { initExitFile, runcFor } from './bundle-files.js';
import { persistOptions, type CheckpointRequestOptions, type TaskOptions } from './options.js';
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

export interface CreateParams {
  id: string;
  bundle: string;
  namespace: string;
  rootfs: Mount[];
  stdio: StdioPaths;
  options: TaskOptions;
  /** Restore from this checkpoint image at Start instead of creating (docs/protocol.md §12.8). */
  checkpoint: string;
  parentCheckpoint: string;
}

/** A create that waits for Start to restore from a checkpoint. */
interface PendingRestore {
  checkpoint: string;
  parentCheckpoint: string;
}

/** A checkpoint as the container takes it: the request's options, with the image path resolved to `path`. */
export type CheckpointParams = Omit<CheckpointRequestOptions, 'imagePath'> & { path: string };

/** True when the spec gives the container no PID namespace of its own (it shares one). */
async function sharesPidNamespace(bundle: string): Promise<boolean> {
  try {
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
      linux?: { namespaces?: Array<{ type?: string; path?: string }> };
    };
    const pidNs = spec.linux?.namespaces?.find((ns) => ns.type === 'pid');
    return !pidNs || !!pidNs.path;
  } catch {
    return false;
  }
}


function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class Container {
  readonly serial = new SerialQueue();
  private readonly execs = new Map<string, ExecProcess>();
  /** The init's cgroup, found at create (Stats, OOM); undefined if it could not be read. */
  private cgroup: Cgroup | undefined;
  private oomWatcher: OomWatcher | undefined;
  private pendingRestore: PendingRestore | undefined;
  /** `runc kill` calls on init still running: Delete waits for them (their answers come first). */
  private readonly initKills = new Set<Promise<unknown>>();

  private constructor(
    readonly id: string,
    readonly bundle: string,
    readonly namespace: string,
    readonly runc: Runc,
    readonly init: ContainerProcess,
    private readonly options: TaskOptions,
    private readonly rootfsMounted: boolean,
    private readonly sharedPidNs: boolean,
    private readonly publisher: Publisher,
    readonly logger: Logger,
  ) {}

  static async create(params: CreateParams, publisher: Publisher, parentLogger: Logger): Promise<Container> {
    const { id, bundle, options } = params;
    const logger = parentLogger.child({ container: id });
    await persistOptions(bundle, options);
    const runc = runcFor(bundle, params.namespace, options);
    const rootfsDir = join(bundle, 'rootfs');
    let rootfsMounted = false;
    if (params.rootfs.length > 0) {
      await mountAll(params.rootfs.map((m) => ({
        type: m.type ?? '', source: m.source ?? '', target: m.target ?? '', options: m.options ?? [],
      })), rootfsDir);
      rootfsMounted = true;
    }
    const unmount = async () => {
      if (rootfsMounted) await unmountAll(rootfsDir).catch(() => undefined);
    };
    const init = new ContainerProcess(id, 'init', params.stdio);
    if (params.checkpoint) {
      const container = new Container(
        id, bundle, params.namespace, runc, init, options, rootfsMounted, await sharesPidNamespace(bundle), publisher, logger,
      );
      container.pendingRestore = { checkpoint: params.checkpoint, parentCheckpoint: params.parentCheckpoint };
      container.publishCreate(params);
      logger.info({ checkpoint: params.checkpoint }, 'container created; it is restored at start');
      return container;
    }
    const owner = { uid: options.ioUid, gid: options.ioGid };
    const stdio = await prepareStdio(params.stdio, owner, { containerId: id, namespace: params.namespace }, logger)
      .catch(async (err: unknown) => { await unmount(); throw err; });
    const pidFile = join(bundle, 'init.pid');
    const since = process.hrtime.bigint();
    try {
      await runc.create(id, {
        bundle,
        pidFile,
        noPivot: options.noPivotRoot,
        noNewKeyring: options.noNewKeyring,
        stdio: stdio.runcStdio,
        ...(stdio.consoleSocket ? { consoleSocket: stdio.consoleSocket } : {}),
      });
      init.attachIO(await stdio.complete());
      init.pid = await readPidFile(pidFile);
    } catch (err) {
      await stdio.abort();
      init.io?.close();
      await runc.delete(id, { force: true }).catch(() => undefined);
      await unmount();
      throw err;
    }
    const container = new Container(
      id, bundle, params.namespace, runc, init, options, rootfsMounted, await sharesPidNamespace(bundle), publisher, logger,
    );
    container.publishCreate(params);
    await container.track(since);
    logger.info({ pid: init.pid }, 'container created');
    return container;
  }

  private publishCreate(params: CreateParams): void {
    this.publisher.publish(buildTaskEvent(Topic.TaskCreate, {
      containerId: this.id,
      bundle: this.bundle,
      rootfs: params.rootfs,
      io: { stdin: params.stdio.stdin, stdout: params.stdio.stdout, stderr: params.stdio.stderr, terminal: params.stdio.terminal },
      checkpoint: params.checkpoint,
      pid: this.init.pid,
    }));
  }

  /** Once init's pid is known: find its cgroup and wait for its exit. */
  private async track(since: bigint): Promise<void> {
    this.cgroup = await cgroupOfPid(this.init.pid).catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message }, 'cannot read the container cgroup: no stats or OOM events');
      return undefined;
    });
    this.watchOOM();
    void reaper().waitFor(this.init.pid, { since }).then((exit) => this.onInitExit(exit));
  }

  /** Start of a container created from a checkpoint: `runc restore` with the stdio set up now. */
  private async restore(pending: PendingRestore): Promise<void> {
    const stdio = await prepareStdio(this.init.stdio, { uid: this.options.ioUid, gid: this.options.ioGid },
      { containerId: this.id, namespace: this.namespace }, this.logger);
    const pidFile = join(this.bundle, 'init.pid');
    const since = process.hrtime.bigint();
    try {
      await this.runc.restore(this.id, {
        imagePath: pending.checkpoint,
        workPath: this.options.criuWorkPath || join(this.bundle, 'work'),
        ...(pending.parentCheckpoint ? { parentPath: pending.parentCheckpoint } : {}),
        bundle: this.bundle,
        pidFile,
        noPivot: this.options.noPivotRoot,
        stdio: stdio.runcStdio,
        ...(stdio.consoleSocket ? { consoleSocket: stdio.consoleSocket } : {}),
      });
      this.init.attachIO(await stdio.complete());
      this.init.pid = await readPidFile(pidFile);
    } catch (err) {
      await stdio.abort();
      this.init.io?.close();
      throw err;
    }
    this.pendingRestore = undefined;
    await this.track(since);
  }

  /** runc checkpoint of the init process; the image goes to `params.path`. */
  async checkpoint(params: CheckpointParams): Promise<void> {
    return this.serial.run(async () => {
      if (this.init.state !== 'running' && this.init.state !== 'paused') {
        throw failedPrecondition(`cannot checkpoint container ${this.id}: it is ${this.init.state}`);
      }
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
        if (this.pendingRestore) await this.restore(this.pendingRestore);
        else await this.runc.start(this.id);
        if (this.init.state === 'created') this.init.state = 'running';
        this.publisher.publish(buildTaskEvent(Topic.TaskStart, { containerId: this.id, pid: this.init.pid }));
        return this.init.pid;
      } finally {
        this.init.starting = undefined;
        started.resolve();
      }
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
      this.oomWatcher = watchOOM(this.cgroup, () => {
        this.publisher.publish(buildTaskEvent(Topic.TaskOOM, { containerId: this.id }));
      }, this.logger);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cannot watch for OOM kills');
    }
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
    await Promise.all([...this.execs.values()].map(async (exec) => {
      await exec.starting;
      if (exec.state === 'running') await exec.wait();
    }));
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
    this.publisher.publish(buildTaskEvent(Topic.TaskExit, {
      containerId: this.id, id: proc.id, pid: proc.pid, exitStatus: info.status, exitedAt: toTimestamp(info.exitedAt),
    }));
  }

  async kill(execId: string, signal: number, all: boolean): Promise<void> {
    const proc = this.process(execId);
    if (proc.hasExited || proc.state === 'deleted') {
      throw notFound(`process ${proc.id} not found: process already finished`);
    }
    if (proc.kind === 'exec') {
      if (proc.state === 'created') throw failedPrecondition(`exec ${proc.id} has not been started`);
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
      if (this.pendingRestore) {
        // Never restored: runc has no container; nothing ran.
        this.init.setExited({ status: 0, exitedAt: new Date() });
      } else if (this.init.state === 'created' && !this.init.hasExited) {
        // Never started: runc kills the waiting init; its exit comes through the reaper.
        await this.runc.delete(this.id, { force: true });
        await Promise.race([this.init.wait(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      } else {
        await this.runc.delete(this.id, { force: false }).catch((err: unknown) => {
          if (!/does not exist|not found/i.test((err as Error).message)) throw err;
        });
      }
      for (const exec of this.execs.values()) exec.io?.close();
      await this.init.io?.drain(ioDrainMs);
      this.init.io?.close();
      if (this.rootfsMounted) await unmountAll(join(this.bundle, 'rootfs'));
      this.init.state = 'deleted';
      const exit = this.init.exit ?? { status: 137, exitedAt: new Date() };
      // Nothing is left for `delete` to clean up: leave it its answer (a failed write only costs it a Node start).
      await saveDeleteResponse(this.bundle, { pid: this.init.pid, exitStatus: exit.status, exitedAt: exit.exitedAt }).catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'cannot save the delete response');
      });
      this.publisher.publish(buildTaskEvent(Topic.TaskDelete, {
        containerId: this.id, pid: this.init.pid, exitStatus: exit.status, exitedAt: toTimestamp(exit.exitedAt), id: this.id,
      }));
      this.logger.info('container deleted');
      return { pid: this.init.pid, ...exit };
    });
  }

  async pids(): Promise<number[]> {
    if (this.init.state === 'deleted') throw failedPrecondition(`container ${this.id} is deleted`);
    return this.runc.ps(this.id);
  }

  async pause(): Promise<void> {
    return this.serial.run(async () => {
      this.init.check('pause');
      this.init.state = 'pausing';
      try {
        await this.runc.pause(this.id);
      } catch (err) {
        if (this.init.state === 'pausing') this.init.state = 'running';
        throw err;
      }
      if (this.init.state === 'pausing') this.init.state = 'paused';
      this.publisher.publish(buildTaskEvent(Topic.TaskPaused, { containerId: this.id }));
    });
  }

  async resume(): Promise<void> {
    return this.serial.run(async () => {
      this.init.check('resume');
      await this.runc.resume(this.id);
      if (this.init.state === 'paused') this.init.state = 'running';
      this.publisher.publish(buildTaskEvent(Topic.TaskResumed, { containerId: this.id }));
    });
  }

  /** The cgroup metrics Any (io.containerd.cgroups.v1/v2.Metrics). */
  async stats(): Promise<AnyMessage> {
    if (!this.cgroup) throw notFound(`no cgroup known for container ${this.id}`);
    return this.cgroup.metrics();
  }

  async update(resources: unknown): Promise<void> {
    if (this.init.hasExited || this.init.state === 'deleted') {
      throw failedPrecondition(`container ${this.id} is not running: cannot update its resources`);
    }
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
    if (this.init.hasExited || this.init.state === 'stopped' || this.init.state === 'deleted') {
      throw failedPrecondition(`container ${this.id} is not running: cannot exec in a stopped container`);
    }
    this.execs.set(execId, new ExecProcess(execId, stdio, { ...spec, terminal: stdio.terminal }));
    this.publisher.publish(buildTaskEvent(Topic.TaskExecAdded, { containerId: this.id, execId }));
  }

  async startExec(execId: string): Promise<number> {
    const exec = this.process(execId) as ExecProcess;
    exec.check('start');
    if (this.init.hasExited || this.init.state === 'stopped') {
      throw failedPrecondition(`container ${this.id} is not running: cannot start exec ${execId}`);
    }
    const started = new Deferred<void>();
    exec.starting = started.promise;
    exec.state = 'running'; // counted by the init exit handler from now on
    try {
      const stdio = await prepareStdio(exec.stdio, { uid: this.options.ioUid, gid: this.options.ioGid },
        { containerId: this.id, namespace: this.namespace }, this.logger);
      const pidFile = join(this.bundle, `${execId}.pid`);
      const since = process.hrtime.bigint();
      try {
        await this.runc.exec(this.id, exec.spec, {
          pidFile,
          stdio: stdio.runcStdio,
          ...(stdio.consoleSocket ? { consoleSocket: stdio.consoleSocket } : {}),
        });
        exec.attachIO(await stdio.complete());
        exec.pid = await readPidFile(pidFile);
      } catch (err) {
        await stdio.abort();
        exec.io?.close();
        // Like the Go shim: the exec stays `created` (it never ran) and its waiters are released.
        exec.state = 'created';
        exec.releaseWaiters({ status: 255, exitedAt: new Date() });
        throw err;
      }
      this.publisher.publish(buildTaskEvent(Topic.TaskExecStarted, { containerId: this.id, execId, pid: exec.pid }));
      void reaper().waitFor(exec.pid, { since }).then((exit) => this.onExecExit(exec, exit));
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
    await exec.io?.drain(ioDrainMs);
    exec.io?.close();
    exec.state = 'deleted';
    this.execs.delete(execId);
    await rm(join(this.bundle, `${execId}.pid`), { force: true });
    const exit = exec.exit ?? { status: 0, exitedAt: new Date(0) };
    return { pid: exec.pid, ...exit };
  }
}
