// The e2e harness: private containerds (1.6, 1.7, 2.1), ctr, fixtures, process and mount inspection.
export { Containerd, startContainerd } from './containerd.js';
export type { CtrOptions, StartContainerdOptions, StopReport } from './containerd.js';
export { describeEachContainerd } from './describe.js';
export type { ContainerdSuite, SuiteOptions } from './describe.js';
export { CommandError, LongRunningCommand, runCommand } from './exec.js';
export type { CommandResult, ProcessExit, RunOptions } from './exec.js';
export { copyRootfs, loadFixtures } from './fixtures.js';
export type { Fixtures } from './fixtures.js';
export { NotIsolatedError, assertPrivateRunContainerd } from './isolation.js';
export { distDir, repoRoot, runtimes, shimBinaryName, tsshimBinary } from './paths.js';
export {
  childrenOf, descendantsOf, findShimProcesses, findZombies, isAlive, listProcesses, mountsUnder, readCmdline,
  readProcess, readProcessStat, shimIdentity, waitFor,
} from './procs.js';
export type { ProcessInfo } from './procs.js';
export { MissingContainerdError, containerdVersions, findContainerd, selectedContainerdVersions } from './versions.js';
export type { ContainerdBinaries, ContainerdVersion } from './versions.js';
