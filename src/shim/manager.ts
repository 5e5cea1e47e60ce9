// What a concrete shim (the runc task service in src/task) plugs into this framework.
// The framework knows containerd's shim protocol; it knows nothing of runc.
import type { TtrpcServer } from 'ttrpc-ts';
import type { ShimFlags } from './flags.js';
import type { Logger } from './logger.js';
import type { Publisher } from './publisher.js';
import type { StartInput } from './start-input.js';

export interface DeleteResult {
  pid: number;
  exitStatus: number;
  exitedAt: Date;
}

/** Where a new daemon came from, for what `start` must fix up. */
export interface DaemonPlacement {
  /** The containerd that ran `start` (the daemon's OOM score and cgroups follow it). */
  containerdPid: number;
  /** True when a spare daemon became this daemon: it did not inherit `start`'s cgroups. */
  adopted: boolean;
}

export interface DaemonContext {
  flags: ShimFlags;
  bundle: string;
  logger: Logger;
  publisher: Publisher;
  server: TtrpcServer;
  /** Ends the daemon: stop serving, flush events, remove the socket, exit. */
  shutdown(reason: string): void;
}

export interface ShimManager {
  /** Runtime name, e.g. io.containerd.tsshim.v2 (for -v and logs). */
  readonly name: string;
  readonly version: string;
  /** The source revision the build was made from (for -v and -info). */
  readonly revision: string;
  /** The executable's name (containerd-shim-<name>-<version>), shown as the daemon's argv[0]. */
  readonly binaryName: string;
  /** `start`: the key that decides which containers share one daemon (input: what stdin held). */
  groupingKey(flags: ShimFlags, bundle: string, input: StartInput): Promise<string>;
  /**
   * Full protobuf names of the runtime options this shim reads in `start`: the BootstrapParams
   * extension (containerd 2.3+) of one of these types becomes StartInput.options.
   */
  readonly startOptionTypes?: readonly string[];
  /** `start`, once a daemon will serve the new socket: apply start options (e.g. move it into a cgroup). */
  afterDaemonStart?(flags: ShimFlags, daemonPid: number, input: StartInput, placement: DaemonPlacement): Promise<void>;
  /** A spare daemon, before it waits for a `start`: load what serving will need, so adoption is quick. */
  prepare?(): Promise<void>;
  /** `-info`: the binary containerd.types.RuntimeInfo for the options Any on stdin (may be empty). */
  info?(stdin: Uint8Array): Promise<Uint8Array>;
  /** `delete`: clean up after a dead shim for `flags.id` in `flags.bundle`. Logs go to stderr. */
  cleanup(flags: ShimFlags, bundle: string, logger: Logger): Promise<DeleteResult>;
  /** The daemon: register services on ctx.server. */
  serve(ctx: DaemonContext): Promise<void>;
}
