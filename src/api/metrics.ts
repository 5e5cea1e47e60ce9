// Named handles for the cgroup metrics a shim answers Stats with (StatsResponse.stats).
// CRI and containerd's collectors accept only these two type URLs on Linux.
import { io } from './gen/proto.js';
import { namedMessage } from './codec.js';

const cgroups = io.containerd.cgroups;

/** Stats of a container on a cgroup v1 (or hybrid) host. */
export const CgroupsV1MetricsType = namedMessage('io.containerd.cgroups.v1.Metrics', cgroups.v1.Metrics);
/** Stats of a container on a cgroup v2 (unified) host. */
export const CgroupsV2MetricsType = namedMessage('io.containerd.cgroups.v2.Metrics', cgroups.v2.Metrics);
