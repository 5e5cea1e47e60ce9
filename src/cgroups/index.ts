// cgroups/: container metrics (cgroup v1 and v2) and OOM watchers, used by the task service.
export { CgroupV1, CgroupV2, cgroupOfPid, isUnifiedHost, parseProcCgroup, type Cgroup } from './cgroup.js';
export { CgroupNotFoundError, OomWatchError } from './errors.js';
export { watchOOM, type OomWatcher } from './oom.js';
