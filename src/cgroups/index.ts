// cgroups/: container metrics (cgroup v1 and v2) and OOM watchers, used by the task service.
export { CgroupV1, CgroupV2, cgroupOfPid, isUnifiedHost, parseProcCgroup, type Cgroup, type ProcCgroups } from './cgroup.js';
export { CgroupNotFoundError, CgroupReadError, OomWatchError } from './errors.js';
export type { CgroupHostOptions } from './host.js';
export { watchOOM, type OomWatcher } from './oom.js';
