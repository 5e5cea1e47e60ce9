// What a Container needs from the rest of the daemon, as one object: the daemon passes the real
// ones (productionDeps), unit tests pass fakes (test/unit/task-container.test.ts).
import { cgroupOfPid, watchOOM, type Cgroup, type OomWatcher } from '../cgroups/index.js';
import type { Runc } from '../runc/index.js';
import type { Logger } from '../shim/logger.js';
import type { Publisher } from '../shim/publisher.js';
import type { Exit } from '../sys/reaper.js';
import { runcFor, type TaskOptions } from './bundle-files.js';

/** The runc calls a container makes. */
export type RuncClient = Pick<
  Runc,
  'create' | 'start' | 'restore' | 'exec' | 'kill' | 'delete' | 'pause' | 'resume' | 'ps' | 'update' | 'checkpoint'
>;

/** The one reaper of the daemon, as a container sees it. */
export interface ExitSource {
  /** Resolves with `pid`'s exit; an exit reaped before the call counts if it came after `since`. */
  waitFor(pid: number, opts: { since: bigint }): Promise<Exit>;
}

export interface Clock {
  now(): Date;
  /** The reaper's clock (process.hrtime.bigint in the daemon): `since` marks for ExitSource.waitFor. */
  monotonic(): bigint;
}

export interface CgroupAccess {
  ofPid(pid: number): Promise<Cgroup>;
  watchOOM(cgroup: Cgroup, onOOM: () => void, logger: Logger): OomWatcher;
}

export interface ContainerDeps {
  /** The runc client for a container's bundle (bundle-files.ts runcFor in the daemon). */
  runcFor(bundle: string, namespace: string, options: TaskOptions): RuncClient;
  reaper: ExitSource;
  publisher: Publisher;
  clock: Clock;
  cgroups: CgroupAccess;
  /** The daemon's logger; each container logs through a child with its id. */
  logger: Logger;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonic: () => process.hrtime.bigint(),
};

/** The daemon's real collaborators. */
export function productionDeps(reaper: ExitSource, publisher: Publisher, logger: Logger): ContainerDeps {
  return {
    runcFor,
    reaper,
    publisher,
    clock: systemClock,
    cgroups: { ofPid: (pid) => cgroupOfPid(pid), watchOOM },
    logger,
  };
}
