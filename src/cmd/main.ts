// containerd-shim-tsshim-v2: the runc shim on the tsshim framework.
import { runShim } from '../shim/run.js';
import { RuncShimManager } from '../task/manager.js';

await runShim(process.argv.slice(2), new RuncShimManager());
