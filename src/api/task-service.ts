// The shim's Task service: names and the request/response class of each of its 17 methods.
// containerd.task.v3.Task has the same messages and methods, so one table serves both names.
import { containerd, google } from './gen/proto.js';
import type { MessageDecoder, MessageEncoder } from './codec.js';

export const TASK_SERVICE_V2 = 'containerd.task.v2.Task';
export const TASK_SERVICE_V3 = 'containerd.task.v3.Task';

const t = containerd.task.v2;
const Empty = google.protobuf.Empty;

function method<Req, ResInit>(request: MessageDecoder<Req>, response: MessageEncoder<ResInit>) {
  return { request, response };
}

export const taskMethods = {
  State: method(t.StateRequest, t.StateResponse),
  Create: method(t.CreateTaskRequest, t.CreateTaskResponse),
  Start: method(t.StartRequest, t.StartResponse),
  Delete: method(t.DeleteRequest, t.DeleteResponse),
  Pids: method(t.PidsRequest, t.PidsResponse),
  Pause: method(t.PauseRequest, Empty),
  Resume: method(t.ResumeRequest, Empty),
  Checkpoint: method(t.CheckpointTaskRequest, Empty),
  Kill: method(t.KillRequest, Empty),
  Exec: method(t.ExecProcessRequest, Empty),
  ResizePty: method(t.ResizePtyRequest, Empty),
  CloseIO: method(t.CloseIORequest, Empty),
  Update: method(t.UpdateTaskRequest, Empty),
  Wait: method(t.WaitRequest, t.WaitResponse),
  Stats: method(t.StatsRequest, t.StatsResponse),
  Connect: method(t.ConnectRequest, t.ConnectResponse),
  Shutdown: method(t.ShutdownRequest, Empty),
} as const;

export type TaskMethodName = keyof typeof taskMethods;

/** The decoded request of a method, e.g. containerd.task.v2.CreateTaskRequest for 'Create'. */
export type TaskRequest<K extends TaskMethodName> = (typeof taskMethods)[K]['request'] extends MessageDecoder<infer Req> ? Req : never;

/** The init shape of a method's response, e.g. ICreateTaskResponse for 'Create' ({} for Empty). */
export type TaskResponse<K extends TaskMethodName> = (typeof taskMethods)[K]['response'] extends MessageEncoder<infer Res> ? Res : never;

/** A Task service implementation; Ctx is whatever the ttrpc server passes per request. */
export type TaskServiceHandlers<Ctx> = {
  [K in TaskMethodName]: (request: TaskRequest<K>, ctx: Ctx) => Promise<TaskResponse<K>>;
};
