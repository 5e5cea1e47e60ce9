// Named handles for the messages that travel inside an Any, so they can be packed and
// recognised by type URL.
import { containerd, runtimeoptions } from './gen/proto.js';
import { namedMessage } from './codec.js';

const runc = containerd.runc.v1;
const ev = containerd.events;

/** CreateTaskRequest.options / `start` stdin from the runc family, ctr and the client library. */
export const RuncOptionsType = namedMessage('containerd.runc.v1.Options', runc.Options);
/** CheckpointTaskRequest.options. */
export const CheckpointOptionsType = namedMessage('containerd.runc.v1.CheckpointOptions', runc.CheckpointOptions);
/** CheckpointTaskRequest.options from a containerd 1.6/1.7 client for runtimes not named io.containerd.runc.*. */
export const LinuxRuncCheckpointOptionsType = namedMessage(
  'containerd.linux.runc.CheckpointOptions',
  containerd.linux.runc.CheckpointOptions,
);
/** ProcessInfo.info of an exec process in Pids. */
export const ProcessDetailsType = namedMessage('containerd.runc.v1.ProcessDetails', runc.ProcessDetails);
/** What the client library sends to runtimes not named io.containerd.runc.* (`ctr run --uidmap`). */
export const LinuxRuncCreateOptionsType = namedMessage('containerd.linux.runc.CreateOptions', containerd.linux.runc.CreateOptions);
/** What CRI sends for a runtime_type other than io.containerd.runc.v2. */
export const RuntimeOptionsType = namedMessage('runtimeoptions.v1.Options', runtimeoptions.v1.Options);
/** `-info` output (containerd 2.x). */
export const RuntimeInfoType = namedMessage('containerd.types.RuntimeInfo', containerd.types.RuntimeInfo);

export const TaskCreateType = namedMessage('containerd.events.TaskCreate', ev.TaskCreate);
export const TaskStartType = namedMessage('containerd.events.TaskStart', ev.TaskStart);
export const TaskExitType = namedMessage('containerd.events.TaskExit', ev.TaskExit);
export const TaskDeleteType = namedMessage('containerd.events.TaskDelete', ev.TaskDelete);
export const TaskOOMType = namedMessage('containerd.events.TaskOOM', ev.TaskOOM);
export const TaskExecAddedType = namedMessage('containerd.events.TaskExecAdded', ev.TaskExecAdded);
export const TaskExecStartedType = namedMessage('containerd.events.TaskExecStarted', ev.TaskExecStarted);
export const TaskPausedType = namedMessage('containerd.events.TaskPaused', ev.TaskPaused);
export const TaskResumedType = namedMessage('containerd.events.TaskResumed', ev.TaskResumed);
export const TaskCheckpointedType = namedMessage('containerd.events.TaskCheckpointed', ev.TaskCheckpointed);
