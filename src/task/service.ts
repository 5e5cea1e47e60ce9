// The Task service (containerd.task.v2.Task, also served as v3): decodes nothing itself
// (the registration adapter does), finds the container, and asks it to act.
import {
  JsonTypeUrl,
  ProcessDetailsType,
  Status,
  TASK_SERVICE_V2,
  TASK_SERVICE_V3,
  packAny,
  taskMethods,
  toTimestamp,
  toTimestampOrZero,
  unpackJsonAny,
  type TaskMethodName,
  type TaskServiceHandlers,
} from '../api/index.js';
import type { CallContext, TtrpcServer } from 'ttrpc-ts';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, toTtrpcError } from '../shim/errdefs.js';
import { Container } from './container.js';
import type { ContainerDeps } from './deps.js';
import type { ProcessState } from './process.js';
import { decodeCheckpointOptions, decodeOptions, restorePathOf } from './options.js';
import { checkBundle, checkIdentifiers, checkPathFields, checkStdioPaths, readField } from './request-checks.js';
import { shimSharingEnv } from './sharing.js';

/** See shutdownWhenIdle. */
const sharedDaemonLingerMs = 10_000;

const statusOf: Record<ProcessState, Status> = {
  created: Status.CREATED,
  'restore-pending': Status.CREATED,
  running: Status.RUNNING,
  pausing: Status.PAUSING,
  paused: Status.PAUSED,
  stopped: Status.STOPPED,
  deleted: Status.STOPPED,
};

export interface TaskServiceOptions {
  namespace: string;
  /** What every container is given: runc, the reaper, the publisher, the clock, the logger. */
  deps: ContainerDeps;
  /** Called when containerd asks the shim to exit and no container is left. */
  shutdown(reason: string): void;
}

/** Rejects when the request is cancelled (the client gave up on a Wait). */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('request cancelled'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

export class TaskService {
  private readonly containers = new Map<string, Container>();
  /** A Shutdown that came while containers remained: honoured once the last one is deleted. */
  private shutdownRequested = false;
  private server: TtrpcServer | undefined;
  /** How long an idle shared daemon waits for a next container before it exits (0: it does not wait). */
  private lingerMs = 0;
  private lingering: { cancel(): void } | undefined;

  constructor(private readonly options: TaskServiceOptions) {}

  get containerCount(): number {
    return this.containers.size;
  }

  private container(id: string): Container {
    const container = this.containers.get(id);
    if (!container) throw notFound(`container ${JSON.stringify(id)} not found`);
    return container;
  }

  readonly handlers: TaskServiceHandlers<CallContext> = {
    Create: async (req) => {
      if (this.containers.has(req.id)) throw alreadyExists(`container ${JSON.stringify(req.id)} already exists`);
      checkBundle(req.bundle);
      const options = readField('options', () => decodeOptions(req.options));
      this.lingering?.cancel();
      if ((options.shimSharing || process.env[shimSharingEnv]) === 'namespace') this.lingerMs = sharedDaemonLingerMs;
      const stdio = { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal };
      checkStdioPaths(stdio);
      const container = await Container.create(
        {
          id: req.id,
          bundle: req.bundle,
          namespace: this.options.namespace,
          rootfs: req.rootfs,
          stdio,
          options,
          checkpoint: restorePathOf(req.options, req.checkpoint),
          parentCheckpoint: req.parentCheckpoint,
        },
        this.options.deps,
      );
      this.containers.set(req.id, container);
      return { pid: container.init.pid };
    },

    Start: async (req) => {
      const container = this.container(req.id);
      const pid = req.execId ? await container.startExec(req.execId) : await container.start();
      return { pid };
    },

    State: async (req) => {
      const container = this.container(req.id);
      const proc = container.process(req.execId);
      return {
        id: proc.id,
        bundle: container.bundle,
        pid: proc.pid,
        status: statusOf[container.stateOf(proc)],
        stdin: proc.stdio.stdin,
        stdout: proc.stdio.stdout,
        stderr: proc.stdio.stderr,
        terminal: proc.stdio.terminal,
        exitStatus: proc.exit?.status ?? 0,
        exitedAt: toTimestampOrZero(proc.exit?.exitedAt),
      };
    },

    Wait: async (req, ctx) => {
      const proc = this.container(req.id).process(req.execId);
      const exit = await Promise.race([proc.wait(), aborted(ctx.signal)]);
      return { exitStatus: exit.status, exitedAt: toTimestamp(exit.exitedAt) };
    },

    Kill: async (req) => {
      await this.container(req.id).kill(req.execId, req.signal, req.all);
      return {};
    },

    Delete: async (req) => {
      const container = this.container(req.id);
      if (req.execId) {
        const result = await container.deleteExec(req.execId);
        return { pid: result.pid, exitStatus: result.status, exitedAt: toTimestamp(result.exitedAt) };
      }
      const result = await container.delete();
      this.containers.delete(req.id);
      // containerd 2.x (bootstrap version 3) sends no Shutdown after a pod container's delete.
      if (this.containers.size === 0 && this.shutdownRequested)
        this.shutdownWhenIdle('the last container was deleted after a Shutdown request');
      return { pid: result.pid, exitStatus: result.status, exitedAt: toTimestamp(result.exitedAt) };
    },

    Pids: async (req) => {
      const container = this.container(req.id);
      const pids = await container.pids();
      const execByPid = new Map<number, string>();
      for (const exec of container.execProcesses) if (exec.pid) execByPid.set(exec.pid, exec.id);
      return {
        processes: pids.map((pid) => {
          const execId = execByPid.get(pid);
          return execId === undefined ? { pid } : { pid, info: packAny(ProcessDetailsType, { execId }) };
        }),
      };
    },

    Exec: async (req) => {
      const container = this.container(req.id);
      if (!req.spec) throw invalidArgument(`spec: exec ${req.execId} has no process spec`);
      const spec = readField('spec', () => unpackJsonAny(req.spec!, JsonTypeUrl.OciProcess));
      if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
        throw invalidArgument(`spec: exec ${req.execId}: the process spec is not a JSON object`);
      }
      const stdio = { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal };
      checkStdioPaths(stdio);
      container.addExec(req.execId, spec as Record<string, unknown>, stdio);
      return {};
    },

    ResizePty: async (req) => {
      const proc = this.container(req.id).process(req.execId);
      if (!proc.io) throw failedPrecondition(`process ${proc.id} has not been started`);
      proc.io.resize?.(req.width, req.height);
      return {};
    },

    CloseIO: async (req) => {
      const proc = this.container(req.id).process(req.execId);
      if (req.stdin) proc.closeStdin();
      return {};
    },

    Pause: async (req) => {
      await this.container(req.id).pause();
      return {};
    },

    Resume: async (req) => {
      await this.container(req.id).resume();
      return {};
    },

    Connect: async (req) => ({
      shimPid: process.pid,
      taskPid: this.containers.get(req.id)?.init.pid ?? 0,
      version: '',
    }),

    Shutdown: async () => {
      this.shutdownRequested = true;
      if (this.containers.size === 0) this.shutdownWhenIdle('Shutdown requested and no container left');
      return {};
    },

    Checkpoint: async (req) => {
      const container = this.container(req.id);
      const o = readField('options', () => decodeCheckpointOptions(req.options));
      await container.checkpoint({
        // The image path the client asked for wins: containerd 1.6/1.7 pass runtimes not named
        // io.containerd.runc.* a temporary directory in `path` (archived into a checkpoint image) and
        // the client's path only in the options; 2.x passes the same path in both.
        path: o.imagePath || req.path,
        exit: o.exit,
        openTcp: o.openTcp,
        externalUnixSockets: o.externalUnixSockets,
        terminal: o.terminal,
        fileLocks: o.fileLocks,
        emptyNamespaces: o.emptyNamespaces,
        cgroupsMode: o.cgroupsMode,
        workPath: o.workPath,
      });
      return {};
    },
    Update: async (req) => {
      const container = this.container(req.id);
      const any = req.resources;
      if (!any) throw invalidArgument(`resources: update of ${req.id} carries no resources`);
      const resources = readField('resources', () => unpackJsonAny(any, JsonTypeUrl.OciLinuxResources));
      await container.update(resources);
      return {};
    },
    Stats: async (req) => ({ stats: await this.container(req.id).stats() }),
  };

  /**
   * Exits once idle. A shared daemon (ShimSharing = "namespace") first lingers: containers of its
   * namespace come and go, and a `start` that found this daemon alive has already printed its
   * address; containerd's connection for that container must not find it gone. So the exit waits
   * until no connection arrived for lingerMs, and a Create cancels it.
   */
  private shutdownWhenIdle(reason: string): void {
    if (this.lingerMs === 0 || !this.server) {
      // Now, not after the answer: the daemon removes its socket at once (and answers what is in
      // flight, this request too, before it exits), so a client that got the answer finds it gone.
      this.options.shutdown(reason);
      return;
    }
    this.lingering?.cancel();
    const server = this.server;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cancel();
        if (this.containers.size === 0) this.options.shutdown(`${reason}, and no container came for ${this.lingerMs} ms`);
      }, this.lingerMs);
    };
    const cancel = (): void => {
      clearTimeout(timer);
      server.off('connection', arm);
      this.lingering = undefined;
    };
    server.on('connection', arm);
    arm();
    this.lingering = { cancel };
  }

  /** Serves the handlers as containerd.task.v2.Task and containerd.task.v3.Task. */
  register(server: TtrpcServer): void {
    this.server = server;
    const table: Record<string, (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>> = {};
    for (const name of Object.keys(taskMethods) as TaskMethodName[]) {
      const { request, response } = taskMethods[name];
      const handler = this.handlers[name] as (req: unknown, ctx: CallContext) => Promise<unknown>;
      table[name] = async (payload, ctx) => {
        try {
          let decoded: unknown;
          try {
            decoded = request.decode(payload);
          } catch (err) {
            throw invalidArgument(`cannot decode ${name} request: ${(err as Error).message}`);
          }
          this.options.deps.logger.debug({ method: name, request: decoded }, 'request');
          checkIdentifiers(name, decoded as { id?: unknown; execId?: unknown });
          checkPathFields(decoded as Record<string, unknown>);
          const result = await handler(decoded, ctx);
          return (response.encode as (m: unknown) => { finish(): Uint8Array }).call(response, result).finish();
        } catch (err) {
          const mapped = toTtrpcError(err);
          this.options.deps.logger.debug({ method: name, code: mapped.code, err: mapped.message }, 'request failed');
          throw mapped;
        }
      };
    }
    server.register(TASK_SERVICE_V2, table);
    server.register(TASK_SERVICE_V3, table);
  }
}
