// Decodes the task event payloads (containerd.events.Task*) carried in an event Envelope's Any.
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { protoDir } from './grpc.js';

const shimProtoDir = join(protoDir, '../../../proto');
import type { AnyMessage } from './grpc.js';

export interface TaskIO {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}
export interface Mount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export type TaskEvent =
  | { kind: 'TaskCreate'; containerId: string; bundle: string; rootfs: Mount[]; io: TaskIO | undefined; checkpoint: string; pid: number }
  | { kind: 'TaskStart'; containerId: string; pid: number }
  /** id is the exec id, or the container id for the init process. */
  | { kind: 'TaskExit'; containerId: string; id: string; pid: number; exitStatus: number; exitedAt: Date | undefined }
  | { kind: 'TaskDelete'; containerId: string; id: string; pid: number; exitStatus: number; exitedAt: Date | undefined }
  | { kind: 'TaskOOM'; containerId: string }
  | { kind: 'TaskExecAdded'; containerId: string; execId: string }
  | { kind: 'TaskExecStarted'; containerId: string; execId: string; pid: number }
  | { kind: 'TaskPaused'; containerId: string }
  | { kind: 'TaskResumed'; containerId: string }
  | { kind: 'TaskCheckpointed'; containerId: string; checkpoint: string };

let root: protobuf.Root | undefined;

function eventsRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  // The event payloads are the shim's own (proto/ at the repository root, the one source of these
  // messages); google/protobuf/* come bundled with protobufjs.
  r.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(shimProtoDir, target));
  r.loadSync('containerd/events/task.proto');
  root = r;
  return r;
}

type Plain = Record<string, unknown>;
const str = (o: Plain, k: string): string => (typeof o[k] === 'string' ? o[k] : '');
const num = (o: Plain, k: string): number => (typeof o[k] === 'number' ? o[k] : Number(o[k] ?? 0));
const obj = (o: Plain, k: string): Plain | undefined => (typeof o[k] === 'object' && o[k] !== null ? (o[k] as Plain) : undefined);

function date(o: Plain, k: string): Date | undefined {
  const ts = obj(o, k);
  if (!ts) return undefined;
  const ms = num(ts, 'seconds') * 1000 + Math.floor(num(ts, 'nanos') / 1e6);
  return ms === 0 ? undefined : new Date(ms);
}

function toTaskEvent(kind: string, o: Plain): TaskEvent | undefined {
  const containerId = str(o, 'containerId');
  switch (kind) {
    case 'TaskCreate': {
      const io = obj(o, 'io');
      const rootfs = Array.isArray(o.rootfs) ? (o.rootfs as Plain[]) : [];
      return {
        kind,
        containerId,
        bundle: str(o, 'bundle'),
        checkpoint: str(o, 'checkpoint'),
        pid: num(o, 'pid'),
        io: io && { stdin: str(io, 'stdin'), stdout: str(io, 'stdout'), stderr: str(io, 'stderr'), terminal: io.terminal === true },
        rootfs: rootfs.map((m) => ({
          type: str(m, 'type'),
          source: str(m, 'source'),
          target: str(m, 'target'),
          options: Array.isArray(m.options) ? m.options.map(String) : [],
        })),
      };
    }
    case 'TaskStart':
      return { kind, containerId, pid: num(o, 'pid') };
    case 'TaskExit':
    case 'TaskDelete':
      return { kind, containerId, id: str(o, 'id'), pid: num(o, 'pid'), exitStatus: num(o, 'exitStatus'), exitedAt: date(o, 'exitedAt') };
    case 'TaskOOM':
    case 'TaskPaused':
    case 'TaskResumed':
      return { kind, containerId };
    case 'TaskExecAdded':
      return { kind, containerId, execId: str(o, 'execId') };
    case 'TaskExecStarted':
      return { kind, containerId, execId: str(o, 'execId'), pid: num(o, 'pid') };
    case 'TaskCheckpointed':
      return { kind, containerId, checkpoint: str(o, 'checkpoint') };
    default:
      return undefined;
  }
}

/** The task event in `any`, or undefined when it is not a containerd.events.Task* message. */
export function decodeTaskEvent(any: AnyMessage): TaskEvent | undefined {
  // Type URLs are the bare message name (containerd.events.TaskExit), sometimes with a host prefix.
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
  if (!name.startsWith('containerd.events.Task')) return undefined;
  const type = eventsRoot().lookupType(name);
  const plain = type.toObject(type.decode(any.value), { longs: Number, enums: String, defaults: true, arrays: true }) as Plain;
  return toTaskEvent(name.slice('containerd.events.'.length), plain);
}
