// containerd-shim-tsshim-v2: the runc shim on the tsshim framework.
import { runShim } from '../shim/run.js';
import { RuncShimManager } from '../task/manager.js';

try {
  await runShim(process.argv.slice(2), new RuncShimManager());
} catch (err) {
  // containerd shows this text to the user ("start failed: <output>"), so no stack trace.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
