// One container: its runc handle, rootfs mounts, init process and the order of its events.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Topic, buildTaskEvent, toTimestamp, type Mount } from '../api/index.js';
import { Runc, isNotFoundKillError, readPidFile } from '../runc/index.js';
import { failedPrecondition, notFound } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import type { Publisher } from '../shim/publisher.js';
import { createProcessIO, type StdioPaths } from '../stdio/process-io.js';
import { mountAll, unmountAll } from '../sys/mount.js';
import { reaper, type Exit } from '../sys/reaper.js';
import { InitProcess, type ExitInfo } from './init-process.js';
import { persistOptions, type TaskOptions } from './options.js';
import { Deferred, SerialQueue } from './serial.js';

/** How long Delete waits for a dead process's output to reach the client (as the Go shim). */
const ioDrainMs = 10_000;
/** Where the real exit status of init is kept for `delete` after a shim crash. */
export const initExitFile = 'init.exit';

export interface CreateParams {
  id: string;
  bundle: string;
  namespace: string;
  rootfs: Mount[];
  stdio: StdioPaths;
  options: TaskOptions;
}

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

export function runcFor(bundle: string, namespace: string, options: TaskOptions): Runc {
  return new Runc({
    binary: options.binaryName,
    root: join(options.root, namespace),
    logPath: join(bundle, 'log.json'),
    systemdCgroup: options.systemdCgroup,
  });
}

export class Container {
  readonly serial = new SerialQueue();
  /** Set while runc start runs, so an exit that races it is published after /tasks/start. */
  private starting: Deferred<void> | undefined;

  private constructor(
    readonly id: string,
    readonly bundle: string,
    readonly runc: Runc,
    readonly init: InitProcess,
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
    const io = await createProcessIO(params.stdio, { uid: options.ioUid, gid: options.ioGid }, logger).catch(async (err: unknown) => {
      if (rootfsMounted) await unmountAll(rootfsDir).catch(() => undefined);
      throw err;
    });
    const pidFile = join(bundle, 'init.pid');
    const since = process.hrtime.bigint();
    try {
      await runc.create(id, {
        bundle,
        pidFile,
        noPivot: options.noPivotRoot,
        noNewKeyring: options.noNewKeyring,
        stdio: io.runcStdio,
      });
    } catch (err) {
      io.close();
      await runc.delete(id, { force: true }).catch(() => undefined);
      if (rootfsMounted) await unmountAll(rootfsDir).catch(() => undefined);
      throw err;
    } finally {
      io.afterStart();
    }
    const init = new InitProcess(id, params.stdio, io);
    init.pid = await readPidFile(pidFile);
    const container = new Container(id, bundle, runc, init, rootfsMounted, await sharesPidNamespace(bundle), publisher, logger);
    publisher.publish(buildTaskEvent(Topic.TaskCreate, {
      containerId: id,
      bundle,
      rootfs: params.rootfs,
      io: { stdin: params.stdio.stdin, stdout: params.stdio.stdout, stderr: params.stdio.stderr, terminal: params.stdio.terminal },
      checkpoint: '',
      pid: init.pid,
    }));
    void reaper().waitFor(init.pid, { since }).then((exit) => container.onInitExit(exit));
    logger.info({ pid: init.pid }, 'container created');
    return container;
  }

  async start(): Promise<number> {
    return this.serial.run(async () => {
      this.init.check('start');
      const starting = new Deferred<void>();
      this.starting = starting;
      try {
        await this.runc.start(this.id);
        if (this.init.state === 'created') this.init.state = 'running';
        this.publisher.publish(buildTaskEvent(Topic.TaskStart, { containerId: this.id, pid: this.init.pid }));
        return this.init.pid;
      } finally {
        this.starting = undefined;
        starting.resolve();
      }
    });
  }

  private async onInitExit(exit: Exit): Promise<void> {
    await this.starting?.promise;
    if (this.sharedPidNs) {
      // Without its own PID namespace the container's other processes would outlive init.
      await this.runc.kill(this.id, 9, { all: true }).catch(() => undefined);
    }
    const info: ExitInfo = { status: exit.status, exitedAt: exit.exitedAt };
    await writeFile(join(this.bundle, initExitFile), JSON.stringify(info)).catch(() => undefined);
    this.logger.info({ pid: exit.pid, status: exit.status }, 'container init exited');
    // The event is queued before waiters are released: containerd never sees a Wait answer
    // without the exit event on its way (DESIGN.md "Events").
    this.publisher.publish(buildTaskEvent(Topic.TaskExit, {
      containerId: this.id, id: this.id, pid: this.init.pid, exitStatus: info.status, exitedAt: toTimestamp(info.exitedAt),
    }));
    this.init.setExited(info);
  }

  async kill(signal: number, all: boolean): Promise<void> {
    if (this.init.hasExited || this.init.state === 'deleted') {
      throw notFound(`process ${this.id} not found: process already finished`);
    }
    try {
      await this.runc.kill(this.id, signal, { all });
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
      if (this.init.state === 'created' && !this.init.hasExited) {
        // Never started: runc kills the waiting init; its exit comes through the reaper.
        await this.runc.delete(this.id, { force: true });
        await Promise.race([this.init.wait(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      } else {
        await this.runc.delete(this.id, { force: false }).catch((err: unknown) => {
          if (!/does not exist|not found/i.test((err as Error).message)) throw err;
        });
      }
      await this.init.io.drain(ioDrainMs);
      this.init.io.close();
      if (this.rootfsMounted) await unmountAll(join(this.bundle, 'rootfs'));
      this.init.state = 'deleted';
      const exit = this.init.exit ?? { status: 137, exitedAt: new Date() };
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
}
