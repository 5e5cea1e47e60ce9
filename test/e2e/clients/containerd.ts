// A test client for containerd's own gRPC API (Tasks and Events), for what ctr cannot do: CloseIO,
// Update with OCI resources, typed event subscriptions. Works against containerd 1.6, 1.7 and 2.x.
//
//   const client = new ContainerdClient(containerd.address);
//   const events = await client.subscribe(ns, ['topic=="/tasks/exit"']);
//   ... ctr run ...
//   const exit = await events.next((e) => e.event?.kind === 'TaskExit');
//   events.close(); client.close();
import { randomBytes } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { GrpcCallError, GrpcStatus, connect, fromWireAny, loadService, serverStream, toDate, toWireAny, unary } from './grpc.js';
import type { AnyMessage, CallOptions, ServiceConstructor, TimestampMessage, WireAny } from './grpc.js';
import { decodeTaskEvent } from './task-events.js';
import type { TaskEvent } from './task-events.js';

export type { TaskEvent } from './task-events.js';
export { GrpcCallError, GrpcStatus } from './grpc.js';
export type { AnyMessage } from './grpc.js';

/** Type URLs containerd gives OCI runtime-spec JSON carried in an Any. */
const specTypeUrls = {
  linuxResources: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
  process: 'types.containerd.io/opencontainers/runtime-spec/1/Process',
} as const;

export type ProcessStatus = 'UNKNOWN' | 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED' | 'PAUSING';

export interface TaskProcess {
  containerId: string;
  /** Exec id, or empty/the container id for the init process depending on the containerd version. */
  id: string;
  pid: number;
  status: ProcessStatus;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt: Date | undefined;
  /** NONE, OOMKILLED, SIGNALED (containerd 2.x fills it). */
  exitReason: string;
}

export interface ProcessInfo {
  pid: number;
  /** containerd.runc.v1.ProcessDetails for exec processes, undefined for others. */
  info: AnyMessage | undefined;
}

export interface TaskMetric {
  id: string;
  timestamp: Date | undefined;
  /** io.containerd.cgroups.v1.Metrics or io.containerd.cgroups.v2.Metrics, still encoded. */
  data: AnyMessage | undefined;
}

export interface WaitResult {
  exitStatus: number;
  exitedAt: Date | undefined;
}

/** OCI LinuxResources as JSON (runtime-spec config-linux.md), e.g. { memory: { limit: 64 << 20 }, cpu: { shares: 512 } }. */
export type LinuxResourcesJson = Record<string, unknown>;

export interface ContainerdEvent {
  namespace: string;
  topic: string;
  timestamp: Date | undefined;
  /** The Any as received. */
  payload: AnyMessage;
  /** The decoded payload for containerd.events.Task* events. */
  event: TaskEvent | undefined;
}

interface RawProcess {
  containerId: string;
  id: string;
  pid: number;
  status: string;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt: TimestampMessage | null;
  exitReason: string;
}
interface RawEnvelope {
  timestamp: TimestampMessage | null;
  namespace: string;
  topic: string;
  event: WireAny | null;
}

const isStatus = (s: string): s is ProcessStatus => ['UNKNOWN', 'CREATED', 'RUNNING', 'STOPPED', 'PAUSED', 'PAUSING'].includes(s);

function toProcess(p: RawProcess): TaskProcess {
  return {
    containerId: p.containerId,
    id: p.id,
    pid: p.pid,
    status: isStatus(p.status) ? p.status : 'UNKNOWN',
    stdin: p.stdin,
    stdout: p.stdout,
    stderr: p.stderr,
    terminal: p.terminal,
    exitStatus: p.exitStatus,
    exitedAt: toDate(p.exitedAt),
    exitReason: p.exitReason,
  };
}

function jsonAny(typeUrl: string, value: unknown): AnyMessage {
  return { typeUrl, value: Buffer.from(JSON.stringify(value)) };
}

let tasksService: ServiceConstructor | undefined;
let eventsService: ServiceConstructor | undefined;

export class ContainerdClient {
  private readonly tasks: grpc.Client;
  private readonly events: grpc.Client;
  private readonly subscriptions = new Set<EventSubscription>();

  /** `address`: containerd's gRPC socket path (Containerd.address in the harness). */
  constructor(readonly address: string) {
    tasksService ??= loadService('containerd/services/tasks/v1/tasks.proto', 'containerd.services.tasks.v1.Tasks');
    eventsService ??= loadService('containerd/services/events/v1/events.proto', 'containerd.services.events.v1.Events');
    this.tasks = connect(tasksService, address);
    this.events = connect(eventsService, address);
  }

  private call<Res>(client: grpc.Client, method: string, ns: string, request: object, timeoutMs?: number): Promise<Res> {
    const opts: CallOptions = { metadata: { 'containerd-namespace': ns } };
    if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
    return unary<Res>(client, method, request, opts);
  }

  async get(ns: string, containerId: string, execId = ''): Promise<TaskProcess> {
    const r = await this.call<{ process: RawProcess | null }>(this.tasks, 'Get', ns, { containerId, execId });
    if (!r.process) throw new GrpcCallError('Get', GrpcStatus.NOT_FOUND, `no process in the answer for ${containerId}/${execId}`);
    return toProcess(r.process);
  }

  async list(ns: string, filter = ''): Promise<TaskProcess[]> {
    const r = await this.call<{ tasks: RawProcess[] }>(this.tasks, 'List', ns, { filter });
    return r.tasks.map(toProcess);
  }

  /**
   * Creates the task of a container made with `ctr containers create` (give it `--rootfs DIR`: no
   * mounts are sent), with runtime `options` and stdio paths (plain files are appended to).
   */
  async create(
    ns: string,
    containerId: string,
    opts: { options?: AnyMessage; stdin?: string; stdout?: string; stderr?: string; terminal?: boolean } = {},
  ): Promise<number> {
    const { options, ...stdio } = opts;
    const r = await this.call<{ pid: number }>(this.tasks, 'Create', ns, {
      containerId,
      ...stdio,
      ...(options ? { options: toWireAny(options) } : {}),
    });
    return r.pid;
  }

  async start(ns: string, containerId: string, execId = ''): Promise<number> {
    return (await this.call<{ pid: number }>(this.tasks, 'Start', ns, { containerId, execId })).pid;
  }

  /** Registers an exec process; `processSpec` is the OCI Process JSON (args, env, cwd, user, terminal). */
  async exec(
    ns: string,
    containerId: string,
    execId: string,
    processSpec: Record<string, unknown>,
    stdio: { stdin?: string; stdout?: string; stderr?: string; terminal?: boolean } = {},
  ): Promise<void> {
    await this.call(this.tasks, 'Exec', ns, {
      containerId,
      execId,
      stdin: stdio.stdin ?? '',
      stdout: stdio.stdout ?? '',
      stderr: stdio.stderr ?? '',
      terminal: stdio.terminal ?? false,
      spec: toWireAny(jsonAny(specTypeUrls.process, processSpec)),
    });
  }

  async deleteProcess(ns: string, containerId: string, execId: string): Promise<WaitResult> {
    const r = await this.call<{ exitStatus: number; exitedAt: TimestampMessage | null }>(this.tasks, 'DeleteProcess', ns, {
      containerId,
      execId,
    });
    return { exitStatus: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  async kill(ns: string, containerId: string, signal: number, opts: { execId?: string; all?: boolean } = {}): Promise<void> {
    await this.call(this.tasks, 'Kill', ns, { containerId, execId: opts.execId ?? '', signal, all: opts.all ?? false });
  }

  /** Closes the process's stdin (CloseIORequest.stdin = true), as Docker and CRI do; ctr never sends it. */
  async closeIO(ns: string, containerId: string, execId = ''): Promise<void> {
    await this.call(this.tasks, 'CloseIO', ns, { containerId, execId, stdin: true });
  }

  async resizePty(ns: string, containerId: string, width: number, height: number, execId = ''): Promise<void> {
    await this.call(this.tasks, 'ResizePty', ns, { containerId, execId, width, height });
  }

  async pause(ns: string, containerId: string): Promise<void> {
    await this.call(this.tasks, 'Pause', ns, { containerId });
  }

  async resume(ns: string, containerId: string): Promise<void> {
    await this.call(this.tasks, 'Resume', ns, { containerId });
  }

  /**
   * Checkpoints the task with checkpoint `options` as a client library sends them; returns the
   * media types of the descriptors containerd wrote to its content store (none when it let the
   * runtime write to an image path).
   */
  async checkpoint(ns: string, containerId: string, options?: AnyMessage): Promise<string[]> {
    const r = await this.call<{ descriptors: { mediaType: string }[] }>(
      this.tasks,
      'Checkpoint',
      ns,
      { containerId, ...(options ? { options: toWireAny(options) } : {}) },
      120_000,
    );
    return r.descriptors.map((d) => d.mediaType);
  }

  /** Task Update with OCI LinuxResources JSON (what `ctr` 1.6 cannot send). */
  async update(ns: string, containerId: string, resources: LinuxResourcesJson, annotations: Record<string, string> = {}): Promise<void> {
    await this.call(this.tasks, 'Update', ns, {
      containerId,
      resources: toWireAny(jsonAny(specTypeUrls.linuxResources, resources)),
      annotations,
    });
  }

  async listPids(ns: string, containerId: string): Promise<ProcessInfo[]> {
    const r = await this.call<{ processes: { pid: number; info: WireAny | null }[] }>(this.tasks, 'ListPids', ns, { containerId });
    return r.processes.map((p) => ({ pid: p.pid, info: fromWireAny(p.info) }));
  }

  /** Stats of the given containers (all of the namespace when empty). */
  async metrics(ns: string, containerIds: readonly string[] = []): Promise<TaskMetric[]> {
    const filters = containerIds.map((id) => `id==${JSON.stringify(id)}`);
    const r = await this.call<{ metrics: { timestamp: TimestampMessage | null; id: string; data: WireAny | null }[] }>(
      this.tasks,
      'Metrics',
      ns,
      { filters },
    );
    return r.metrics.map((m) => ({ id: m.id, timestamp: toDate(m.timestamp), data: fromWireAny(m.data) }));
  }

  /** Waits for the process to exit (default timeout 60 s). */
  async wait(ns: string, containerId: string, execId = '', timeoutMs = 60_000): Promise<WaitResult> {
    const r = await this.call<{ exitStatus: number; exitedAt: TimestampMessage | null }>(
      this.tasks,
      'Wait',
      ns,
      { containerId, execId },
      timeoutMs,
    );
    return { exitStatus: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  /**
   * Subscribes to the events of namespace `ns` matching any of `filters` (containerd filter syntax, e.g.
   * `topic=="/tasks/exit"`, `topic~="/tasks/"`; none: every event of `ns`). Resolves once the subscription
   * is live on the server, so events caused after this returns are never missed.
   */
  async subscribe(ns: string, filters: readonly string[] = [], timeoutMs = 20_000): Promise<EventSubscription> {
    const inNs = `namespace==${JSON.stringify(ns)}`;
    const markerTopic = `/tsshim-e2e/subscribed-${randomBytes(6).toString('hex')}`;
    const wanted = filters.length === 0 ? [inNs] : filters.map((f) => `${inNs},${f}`);
    const stream = serverStream(this.events, 'Subscribe', { filters: [...wanted, `${inNs},topic==${JSON.stringify(markerTopic)}`] });
    const sub = new EventSubscription(stream, markerTopic, () => this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    try {
      // containerd sends nothing before the first event: publish markers until one comes back.
      const deadline = Date.now() + timeoutMs;
      while (!(await sub.live(250))) {
        if (Date.now() > deadline)
          throw new Error(`event subscription in ${ns} not live within ${timeoutMs} ms${sub.failure ? `: ${sub.failure.message}` : ''}`);
        if (sub.failure) throw sub.failure;
        await this.call(this.events, 'Publish', ns, {
          topic: markerTopic,
          event: toWireAny({ typeUrl: 'google.protobuf.Empty', value: Buffer.alloc(0) }),
        });
      }
    } catch (e) {
      sub.close();
      throw e;
    }
    return sub;
  }

  /** Cancels every open subscription and closes the connections. */
  close(): void {
    for (const s of [...this.subscriptions]) s.close();
    this.tasks.close();
    this.events.close();
  }
}

/** A live event stream: async-iterable, or queried with next(predicate). close() cancels it. */
export class EventSubscription implements AsyncIterable<ContainerdEvent> {
  /** Everything received so far, in order (markers excluded). */
  readonly received: ContainerdEvent[] = [];
  failure: Error | undefined;
  private cursor = 0;
  private markerSeen = false;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly stream: grpc.ClientReadableStream<unknown>,
    markerTopic: string,
    private readonly onClose: () => void,
  ) {
    stream.on('data', (raw: RawEnvelope) => {
      if (raw.topic === markerTopic) this.markerSeen = true;
      else {
        const payload = fromWireAny(raw.event) ?? { typeUrl: '', value: Buffer.alloc(0) };
        this.received.push({
          namespace: raw.namespace,
          topic: raw.topic,
          timestamp: toDate(raw.timestamp),
          payload,
          event: decodeTaskEvent(payload),
        });
      }
      this.notify();
    });
    stream.on('error', (e: grpc.ServiceError) => {
      // Our own cancel() is not a failure.
      if (e.code !== GrpcStatus.CANCELLED) this.failure = new GrpcCallError('Subscribe', e.code, e.details);
      this.finish();
    });
    stream.on('end', () => this.finish());
  }

  /** @internal Resolves true once a marker came back, false after `ms`. */
  live(ms: number): Promise<boolean> {
    return this.until(() => this.markerSeen || this.ended, ms).then(() => this.markerSeen);
  }

  /**
   * The next event (after those already returned by next()) that matches `predicate`; events skipped
   * on the way stay in `received`. Rejects on timeout (default 30 s) or when the stream ended.
   */
  async next(predicate: (e: ContainerdEvent) => boolean = () => true, timeoutMs = 30_000): Promise<ContainerdEvent> {
    let found: ContainerdEvent | undefined;
    const scan = (): boolean => {
      while (this.cursor < this.received.length) {
        const e = this.received[this.cursor++];
        if (e && predicate(e)) {
          found = e;
          return true;
        }
      }
      return this.ended;
    };
    await this.until(scan, timeoutMs);
    if (found) return found;
    const seen = this.received.map((e) => e.topic).join(', ') || 'none';
    throw new Error(
      this.ended
        ? `event stream ended (${this.failure?.message ?? 'closed'}); events so far: ${seen}`
        : `no matching event within ${timeoutMs} ms; events so far: ${seen}`,
    );
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ContainerdEvent> {
    for (;;) {
      try {
        yield await this.next(() => true, 24 * 3600_000);
      } catch (e) {
        if (this.ended) return;
        throw e;
      }
    }
  }

  close(): void {
    if (!this.ended) this.stream.cancel();
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose();
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private until(condition: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const check = (): void => {
        if (condition()) done();
      };
      timer = setTimeout(done, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}
