// The container's cgroup: found from its init pid, read for Stats, watched for OOM kills.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packAny, type AnyMessage } from '../api/any.js';
import { CgroupsV1MetricsType, CgroupsV2MetricsType } from '../api/metrics.js';
import { CgroupNotFoundError } from './errors.js';
import { resolveHost, type CgroupHostOptions } from './host.js';
import { readV1Metrics, type V1Paths } from './v1.js';
import { readV2Metrics } from './v2.js';

/** A cgroup v1 (or hybrid-host) container cgroup: one directory per controller hierarchy. */
export class CgroupV1 {
  readonly version = 1 as const;
  constructor(
    readonly paths: V1Paths,
    private readonly hostOptions: CgroupHostOptions = {},
  ) {}

  /** The memory controller's directory (OOM notifications live there), if the process has one. */
  get memoryPath(): string | undefined {
    return this.paths.get('memory');
  }

  /** io.containerd.cgroups.v1.Metrics packed in an Any (type URL = bare full name). */
  async metrics(): Promise<AnyMessage> {
    return packAny(CgroupsV1MetricsType, await readV1Metrics(this.paths, resolveHost(this.hostOptions)));
  }
}

/** A cgroup v2 container cgroup: one directory in the unified hierarchy. */
export class CgroupV2 {
  readonly version = 2 as const;
  constructor(
    readonly path: string,
    private readonly hostOptions: CgroupHostOptions = {},
  ) {}

  /** io.containerd.cgroups.v2.Metrics packed in an Any (type URL = bare full name). */
  async metrics(): Promise<AnyMessage> {
    return packAny(CgroupsV2MetricsType, await readV2Metrics(this.path, resolveHost(this.hostOptions)));
  }
}

export type Cgroup = CgroupV1 | CgroupV2;

export interface ProcCgroups {
  /** v1 controller (or "name=" hierarchy without the prefix) -> path inside its hierarchy. */
  readonly v1: ReadonlyMap<string, string>;
  /** The "0::" line's path, if any. */
  readonly unified: string | null;
}

/** Parses /proc/<pid>/cgroup ("id:controller[,controller]:path" lines). */
export function parseProcCgroup(text: string): ProcCgroups {
  const v1 = new Map<string, string>();
  let unified: string | null = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (line.slice(0, first) === '0' && controllers === '') {
      unified = path;
      continue;
    }
    for (const c of controllers.split(',')) if (c !== '') v1.set(c.replace(/^name=/, ''), path);
  }
  return { v1, unified };
}

/** True when `root` is a pure cgroup v2 mount (no v1 hierarchies). */
export function isUnifiedHost(root: string): boolean {
  return existsSync(join(root, 'cgroup.controllers'));
}

/**
 * The cgroup of `pid` (the container's init): v2 on a unified host, else v1 with the
 * directory of each mounted hierarchy the process is in (hierarchy mounted at <root>/<name>;
 * combined mounts such as cpu,cpuacct are reached through the usual per-controller symlinks).
 */
export async function cgroupOfPid(pid: number, options: CgroupHostOptions = {}): Promise<Cgroup> {
  const host = resolveHost(options);
  let text: string;
  try {
    text = await readFile(join(host.procRoot, String(pid), 'cgroup'), 'utf8');
  } catch (err) {
    throw new CgroupNotFoundError(pid, (err as Error).message, { cause: err });
  }
  const proc = parseProcCgroup(text);
  if (isUnifiedHost(host.root)) {
    if (proc.unified === null) throw new CgroupNotFoundError(pid, 'no cgroup v2 entry in /proc/<pid>/cgroup');
    return new CgroupV2(join(host.root, proc.unified), host);
  }
  const paths = new Map<string, string>();
  for (const [controller, path] of proc.v1) {
    const dir = join(host.root, controller, path);
    if (existsSync(dir)) paths.set(controller, dir);
  }
  if (paths.size === 0) throw new CgroupNotFoundError(pid, 'none of its cgroup v1 directories exists');
  return new CgroupV1(paths, host);
}
