// `delete`: containerd runs it after every task deletion and after a shim died (PROTOCOL.md §1.6).
// stdout carries only the binary DeleteResponse; diagnostics go to stderr (logged by containerd).
import { writeSync } from 'node:fs';
import { containerd } from '../api/gen/proto.js';
import { toTimestamp } from '../api/timestamp.js';
import type { ShimFlags } from './flags.js';
import { openShimLog } from './logger.js';
import type { ShimManager } from './manager.js';

export async function runDelete(flags: ShimFlags, manager: ShimManager): Promise<void> {
  const bundle = flags.bundle || process.cwd();
  const log = openShimLog(undefined, flags.debug, { namespace: flags.namespace, id: flags.id });
  try {
    const result = await manager.cleanup(flags, bundle, log.logger);
    const bytes = containerd.task.v2.DeleteResponse.encode({
      pid: result.pid,
      exitStatus: result.exitStatus,
      exitedAt: toTimestamp(result.exitedAt),
    }).finish();
    writeSync(1, bytes);
  } finally {
    log.close();
  }
}
