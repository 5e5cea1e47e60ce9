// Short names for the generated types the task layer handles every day.
import { containerd } from './gen/proto.js';

/** Process status as containerd sees it (UNKNOWN, CREATED, RUNNING, STOPPED, PAUSED, PAUSING). */
export const Status = containerd.v1.types.Status;
export type Status = containerd.v1.types.Status;

export type Mount = containerd.types.IMount;
