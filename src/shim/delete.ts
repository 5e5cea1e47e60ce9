// `delete`: containerd runs it after every task deletion and after a shim died (docs/protocol.md §5),
// and waits for it, so it loads as little as it can: no protobuf codecs, no daemon code. When the
// daemon deleted the container itself it left the answer in the bundle (the launcher prints that
// file without starting Node; this covers the single executable and a launcher that could not).
// stdout carries only the binary DeleteResponse; diagnostics go to stderr (logged by containerd).
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeDeleteResponse, savedDeleteResponseFile } from './delete-response.js';
import type { ShimFlags } from './flags.js';
import { stderrLogger } from './logger.js';
import type { ShimManager } from './manager.js';

function savedResponse(bundle: string): Buffer | undefined {
  try {
    const saved = readFileSync(join(bundle, savedDeleteResponseFile));
    return saved.length > 0 ? saved : undefined;
  } catch {
    return undefined;
  }
}

export async function runDelete(flags: ShimFlags, manager: ShimManager): Promise<void> {
  const bundle = flags.bundle || process.cwd();
  const saved = savedResponse(bundle);
  if (saved) {
    writeSync(1, saved);
    return;
  }
  const logger = stderrLogger(flags.debug, { namespace: flags.namespace, id: flags.id });
  const result = await manager.cleanup(flags, bundle, logger);
  writeSync(1, encodeDeleteResponse(result));
}
