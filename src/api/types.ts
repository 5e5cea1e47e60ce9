// Short names for the generated types the task layer handles every day.
import { containerd } from './gen/proto.js';

/** Process status as containerd sees it (UNKNOWN, CREATED, RUNNING, STOPPED, PAUSED, PAUSING). */
export const Status = containerd.v1.types.Status;
export type Status = containerd.v1.types.Status;

export type Mount = containerd.types.IMount;
export type ProcessInfo = containerd.v1.types.IProcessInfo;
export type RuncOptions = containerd.runc.v1.IOptions;
export type CheckpointOptions = containerd.runc.v1.ICheckpointOptions;

export type CreateTaskRequest = containerd.task.v2.CreateTaskRequest;
export type CreateTaskResponse = containerd.task.v2.ICreateTaskResponse;
export type StartRequest = containerd.task.v2.StartRequest;
export type StartResponse = containerd.task.v2.IStartResponse;
export type DeleteRequest = containerd.task.v2.DeleteRequest;
export type DeleteResponse = containerd.task.v2.IDeleteResponse;
export type ExecProcessRequest = containerd.task.v2.ExecProcessRequest;
export type ResizePtyRequest = containerd.task.v2.ResizePtyRequest;
export type StateRequest = containerd.task.v2.StateRequest;
export type StateResponse = containerd.task.v2.IStateResponse;
export type KillRequest = containerd.task.v2.KillRequest;
export type CloseIORequest = containerd.task.v2.CloseIORequest;
export type PidsRequest = containerd.task.v2.PidsRequest;
export type PidsResponse = containerd.task.v2.IPidsResponse;
export type CheckpointTaskRequest = containerd.task.v2.CheckpointTaskRequest;
export type UpdateTaskRequest = containerd.task.v2.UpdateTaskRequest;
export type WaitRequest = containerd.task.v2.WaitRequest;
export type WaitResponse = containerd.task.v2.IWaitResponse;
export type StatsRequest = containerd.task.v2.StatsRequest;
export type StatsResponse = containerd.task.v2.IStatsResponse;
export type ConnectRequest = containerd.task.v2.ConnectRequest;
export type ConnectResponse = containerd.task.v2.IConnectResponse;
export type ShutdownRequest = containerd.task.v2.ShutdownRequest;
export type PauseRequest = containerd.task.v2.PauseRequest;
export type ResumeRequest = containerd.task.v2.ResumeRequest;
