// The Task service (containerd.task.v2.Task, also served as v3): decodes nothing itself
// (the registration adapter does), finds the container, and asks it to act.
import {
  Status, TASK_SERVICE_V2, TASK_SERVICE_V3, taskMethods, toTimestamp,
  toTimestampOrZero, type TaskMethodName, type TaskServiceHandlers,
} from '../api/index.js';
import type { CallContext, TtrpcServer } from '../ttrpc/index.js';
import { alreadyExists, invalidArgument, notFound, toTtrpcError, unimplemented } from '../shim/errdefs.js';
import type { Logger } from '../shim/logger.js';
import type { Publisher } from '../shim/publisher.js';
import { Container } from './container.js';
import type { ProcessState } from './init-process.js';
import { decodeOptions } from './options.js';

const statusOf: Record<ProcessState, Status> = {
  created: Status.CREATED,
  running: Status.RUNNING,
  pausing: Status.PAUSING,
  paused: Status.PAUSED,
  stopped: Status.STOPPED,
  deleted: Status.STOPPED,
};

export interface TaskServiceOptions {
  namespace: string;
  logger: Logger;
  publisher: Publisher;
  /** Called when containerd asks the shim to exit and no container is left. */
  shutdown(reason: string): void;
}

function notYet(method: string): never {
  throw unimplemented(`${method} is not implemented by tsshim yet`);
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(signal.reason instanceof Error ? signal.reason : new Error('request cancelled'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

export class TaskService {
  private readonly containers = new Map<string, Container>();

  constructor(private readonly options: TaskServiceOptions) {}

  get containerCount(): number {
    return this.containers.size;
  }

  private container(id: string): Container {
    const container = this.containers.get(id);
    if (!container) throw notFound(`container ${JSON.stringify(id)} not found`);
    return container;
  }

  /** Exec processes arrive with issue #3; until then any exec id is unknown. */
  private noExec(execId: string): void {
    if (execId) throw notFound(`exec ${JSON.stringify(execId)} not found`);
  }

  readonly handlers: TaskServiceHandlers<CallContext> = {
    Create: async (req) => {
      if (!req.id) throw invalidArgument('container id is empty');
      if (this.containers.has(req.id)) throw alreadyExists(`container ${JSON.stringify(req.id)} already exists`);
      if (req.checkpoint) notYet('restore from a checkpoint');
      const options = decodeOptions(req.options);
      const container = await Container.create({
        id: req.id,
        bundle: req.bundle,
        namespace: this.options.namespace,
        rootfs: req.rootfs,
        stdio: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
        options,
      }, this.options.publisher, this.options.logger);
      this.containers.set(req.id, container);
      return { pid: container.init.pid };
    },

    Start: async (req) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      return { pid: await container.start() };
    },

    State: async (req) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      const init = container.init;
      return {
        id: init.id,
        bundle: container.bundle,
        pid: init.pid,
        status: statusOf[init.state],
        stdin: init.stdio.stdin,
        stdout: init.stdio.stdout,
        stderr: init.stdio.stderr,
        terminal: init.stdio.terminal,
        exitStatus: init.exit?.status ?? 0,
        exitedAt: toTimestampOrZero(init.exit?.exitedAt),
      };
    },

    Wait: async (req, ctx) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      const exit = await Promise.race([container.init.wait(), aborted(ctx.signal)]);
      return { exitStatus: exit.status, exitedAt: toTimestamp(exit.exitedAt) };
    },

    Kill: async (req) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      await container.kill(req.signal, req.all);
      return {};
    },

    Delete: async (req) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      const result = await container.delete();
      this.containers.delete(req.id);
      return { pid: result.pid, exitStatus: result.status, exitedAt: toTimestamp(result.exitedAt) };
    },

    Pids: async (req) => {
      const container = this.container(req.id);
      const pids = await container.pids();
      return { processes: pids.map((pid) => ({ pid })) };
    },

    Connect: async (req) => ({
      shimPid: process.pid,
      taskPid: this.containers.get(req.id)?.init.pid ?? 0,
      version: '',
    }),

    Shutdown: async () => {
      if (this.containers.size === 0) {
        // Answer first; the daemon then closes the server (flushing this reply) and exits.
        setImmediate(() => this.options.shutdown('Shutdown requested and no container left'));
      }
      return {};
    },

    CloseIO: async (req) => {
      const container = this.container(req.id);
      this.noExec(req.execId);
      if (req.stdin) container.init.io.closeStdin();
      return {};
    },

    Exec: async () => notYet('Exec'),
    ResizePty: async () => notYet('ResizePty'),
    Pause: async () => notYet('Pause'),
    Resume: async () => notYet('Resume'),
    Checkpoint: async () => notYet('Checkpoint'),
    Update: async () => notYet('Update'),
    Stats: async () => notYet('Stats'),
  };

  /** Serves the handlers as containerd.task.v2.Task and containerd.task.v3.Task. */
  register(server: TtrpcServer): void {
    const table: Record<string, (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>> = {};
    for (const name of Object.keys(taskMethods) as TaskMethodName[]) {
      const { request, response } = taskMethods[name];
      const handler = this.handlers[name] as (req: unknown, ctx: CallContext) => Promise<unknown>;
      table[name] = async (payload, ctx) => {
        let decoded: unknown;
        try {
          decoded = request.decode(payload);
        } catch (err) {
          throw invalidArgument(`cannot decode ${name} request: ${(err as Error).message}`);
        }
        this.options.logger.debug({ method: name, request: decoded }, 'request');
        try {
          const result = await handler(decoded, ctx);
          return (response.encode as (m: unknown) => { finish(): Uint8Array }).call(response, result).finish();
        } catch (err) {
          const mapped = toTtrpcError(err);
          this.options.logger.debug({ method: name, code: mapped.code, err: mapped.message }, 'request failed');
          throw mapped;
        }
      };
    }
    server.register(TASK_SERVICE_V2, table);
    server.register(TASK_SERVICE_V3, table);
  }
}

