// The runc shim as a ShimManager: grouping in `start`, cleanup in `delete`, the Task service in the daemon.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TaskOptions } from './options.js';
import { sharedGroup, shimSharingEnv } from './sharing.js';
import { join } from 'node:path';
import { buildInfo } from '../shim/build-info.js';
import type { ShimFlags } from '../shim/flags.js';
import type { Logger } from '../shim/logger.js';
import type { DaemonContext, DaemonPlacement, DeleteResult, ShimManager } from '../shim/manager.js';
import type { StartInput } from '../shim/start-input.js';
// Everything heavy is imported where it is used: `start` runs on every container start
// and needs none of it (docs/architecture.md §3.4).

/**
 * The runtime options types decodeOptions reads (options.ts), by name: `start` must not load the
 * codecs to learn them. test/unit/task-options.test.ts checks them against api/messages.ts.
 */
export const startOptionTypes = ['containerd.runc.v1.Options', 'runtimeoptions.v1.Options', 'containerd.linux.runc.CreateOptions'] as const;

/** Annotations that put containers into one shim, first present wins (docs/protocol.md §11.1). */
const groupAnnotations = ['io.containerd.runc.v2.group', 'io.kubernetes.cri.sandbox-id'];

const runtimeName = 'io.containerd.tsshim.v2';

export class RuncShimManager implements ShimManager {
  readonly name = runtimeName;
  readonly version = buildInfo.version;
  readonly revision = buildInfo.revision;
  readonly binaryName = 'containerd-shim-tsshim-v2';
  readonly startOptionTypes = startOptionTypes;

  async groupingKey(flags: ShimFlags, bundle: string, input: StartInput): Promise<string> {
    if ((await this.sharing(input)) === 'namespace') return sharedGroup;
    try {
      const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
      for (const key of groupAnnotations) {
        const group = spec.annotations?.[key];
        if (group) return group;
      }
    } catch {
      // No readable spec: the container is its own group.
    }
    return flags.id;
  }

  /** ShimSharing from the runtime options `start` received, else from containerd's environment. */
  private async sharing(input: StartInput): Promise<string> {
    if (input.options) {
      const sharing = (await this.startOptions(input)).shimSharing;
      if (sharing) return sharing;
    }
    return process.env[shimSharingEnv] ?? '';
  }

  /** The options `start` received, decoded once per call (codecs loaded only when there are some). */
  private decodedStart?: { input: StartInput; options: TaskOptions };
  private async startOptions(input: StartInput): Promise<TaskOptions> {
    if (this.decodedStart?.input !== input) {
      const { decodeStartOptions } = await import('./options.js');
      this.decodedStart = { input, options: decodeStartOptions(input) };
    }
    return this.decodedStart.options;
  }

  async afterDaemonStart(_flags: ShimFlags, daemonPid: number, input: StartInput, placement: DaemonPlacement): Promise<void> {
    const shimCgroup = input.options ? (await this.startOptions(input)).shimCgroup : '';
    if (!shimCgroup && !placement.adopted) return;
    const { joinCgroup, joinCgroupsOf } = await import('../cgroups/join.js');
    if (shimCgroup) joinCgroup(shimCgroup, daemonPid);
    else joinCgroupsOf(placement.containerdPid, daemonPid);
  }

  async prepare(): Promise<void> {
    await Promise.all([
      import('../sys/reaper.js'),
      import('./service.js'),
      import('./container.js'),
      import('./deps.js'),
      import('../cgroups/join.js'),
    ]);
  }

  async info(stdin: Uint8Array): Promise<Uint8Array> {
    const { runtimeInfo } = await import('./info.js');
    return runtimeInfo(stdin, { name: this.name, version: this.version, revision: this.revision });
  }

  async cleanup(flags: ShimFlags, bundle: string, logger: Logger): Promise<DeleteResult> {
    // Not container.js or options.js: they load the protobuf codecs, which cleanup does not need.
    const [{ readPidFile }, { unmountAll }, { initExitFile, loadOptions, runcFor }] = await Promise.all([
      import('../runc/index.js'),
      import('../sys/mount.js'),
      import('./bundle-files.js'),
    ]);
    const options = await loadOptions(bundle);
    const runc = runcFor(bundle, flags.namespace, options);
    await runc.delete(flags.id, { force: true }).catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'runc delete failed');
    });
    await unmountAll(join(bundle, 'rootfs')).catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'unmounting the rootfs failed');
    });
    const pid = await readPidFile(join(bundle, 'init.pid'), { attempts: 1 }).catch(() => 0);
    // The daemon records init's real exit; without it the process was killed with the shim (SIGKILL).
    try {
      const saved = JSON.parse(await readFile(join(bundle, initExitFile), 'utf8')) as { status: number; exitedAt: string };
      return { pid, exitStatus: saved.status, exitedAt: new Date(saved.exitedAt) };
    } catch {
      return { pid, exitStatus: 128 + 9, exitedAt: new Date() };
    }
  }

  async serve(ctx: DaemonContext): Promise<void> {
    const [{ Reaper }, { TaskService }, { productionDeps }] = await Promise.all([
      import('../sys/reaper.js'),
      import('./service.js'),
      import('./deps.js'),
    ]);
    // The daemon's one reaper, with the daemon's logger (orphans' exits and wait4 failures).
    const reaper = new Reaper({ logger: ctx.logger });
    reaper.start();
    const service = new TaskService({
      namespace: ctx.flags.namespace,
      deps: productionDeps(reaper, ctx.publisher, ctx.logger),
      shutdown: ctx.shutdown,
    });
    service.register(ctx.server);
  }
}
