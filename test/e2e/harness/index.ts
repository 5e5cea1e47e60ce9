// The e2e harness: private containerds (1.6, 1.7, 2.1), ctr, fixtures, process and mount inspection.
// Run e2e tests through `npm test [-- test/e2e/x.test.ts]` (scripts/test.sh: private mount namespace).
//
//   describeEachContainerd('exec', (suite) => {
//     it('echoes', async () => {
//       const out = await suite.containerd.ctrOk(['run', '--rm', '--runtime', runtimes.tsshim, suite.fixtures.image, 'e1', 'echo', 'hi']);
//       expect(out).toBe('hi\n');
//     });
//   });
//
// One describe per version selected by TSSHIM_CONTAINERD=1.6|1.7|2.1|all; each gets its own containerd
// (temp root/state/socket under /tmp/tsshim-e2e-*, namespace e2e-<ver>-<rand>, fixture images imported)
// and stops it in afterAll: tasks and containers deleted, containerd stopped, leftover shims and container
// processes killed, mounts under the temp dir unmounted, cgroups and the temp dir removed.
// startContainerd({ version }) in containerd.ts gives the same object for tests that manage their own lifetime.
export { Containerd } from './containerd.js';
export { describeEachContainerd } from './describe.js';
export type { ContainerdSuite } from './describe.js';
export { runCommand, shellQuote } from './exec.js';
export { copyRootfs } from './fixtures.js';
export { criuDir, distDir, repoRoot, runtimes, shimBinaryName } from './paths.js';
export { definesRuntimeTable, docsDir } from './config.js';
export {
  catchesSignal,
  cgroupDir,
  descendantsOf,
  findShimProcesses,
  findSpareDaemons,
  findZombies,
  isAlive,
  listProcesses,
  mountsUnder,
  readCmdline,
  readProcess,
  readProcessStat,
  shimIdentity,
} from './procs.js';
export { MissingContainerdError, selectedContainerdVersions } from './versions.js';
export type { ContainerdVersion } from './versions.js';
// CRI suites (containerd's CRI plugin, a runtime.v1 client) and Docker suites (a private dockerd).
export { describeEachCri, tsshimCriHandler } from './cri.js';
export type { CriSuite } from './cri.js';
export { healthyPodLifecycle, runPodLifecycle } from './cri-scenario.js';
export { describeEachDocker } from './docker-suite.js';
export type { DockerSuite } from './docker-suite.js';
export { parseTaskList, removeContainer, taskRow } from './tasks.js';
export { eventually, until, waitFor } from './wait.js';
export { recordingRunc } from './runc-recorder.js';
export {
  installedBuildDir,
  installedPackageDir,
  mappedFiles,
  packTarball,
  packageVersion,
  prefixEnv,
  releaseArchive,
  runScript,
} from './install.js';
export { readmeBlock } from './readme.js';
