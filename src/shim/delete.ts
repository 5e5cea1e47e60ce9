// `delete`: containerd runs it after every task deletion and after a shim died (docs/protocol.md §5),
// and waits for it, so it loads as little as it can: no protobuf codecs, no daemon code.
// stdout carries only the binary DeleteResponse; diagnostics go to stderr (logged by containerd).
import { writeSync } from 'node:fs';
import { encodeDeleteResponse } from './delete-response.js';
import type { ShimFlags } from './flags.js';
import { openShimLog } from './logger.js';
import type { ShimManager } from './manager.js';

export async function runDelete(flags: ShimFlags, manager: ShimManager): Promise<void> {
  const bundle = flags.bundle || process.cwd();
  const log = openShimLog(undefined, flags.debug, { namespace: flags.namespace, id: flags.id });
  try {
    const result = await manager.cleanup(flags, bundle, log.logger);
    writeSync(1, encodeDeleteResponse(result));
  } finally {
    log.close();
  }
}
