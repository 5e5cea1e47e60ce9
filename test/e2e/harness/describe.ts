// One vitest `describe` per selected containerd version (TSSHIM_CONTAINERD=1.6|1.7|2.1|all), each with
// its own private containerd started in beforeAll and stopped in afterAll.
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';
import { startContainerd } from './containerd.js';
import type { Containerd, StartContainerdOptions, StopReport } from './containerd.js';
import type { Fixtures } from './fixtures.js';
import { selectedContainerdVersions } from './versions.js';
import type { ContainerdVersion } from './versions.js';

export interface ContainerdSuite {
  readonly version: ContainerdVersion;
  /** The running containerd (throws if beforeAll failed, with the reason). */
  readonly containerd: Containerd;
  /** The fixture images, imported into the suite's namespace before the tests run. */
  readonly fixtures: Fixtures;
  /** Report of the last stop() (set after afterAll; mainly for the harness's own test). */
  readonly stopReport: StopReport | undefined;
}

export interface SuiteOptions extends Omit<StartContainerdOptions, 'version'> {
  /** Import the fixture image in beforeAll (default true). */
  importImage?: boolean;
  /** Only these versions (of those selected by TSSHIM_CONTAINERD), for a test that says why. */
  onlyVersions?: readonly ContainerdVersion[];
}

class SuiteState implements ContainerdSuite {
  running: Containerd | undefined;
  imported: Fixtures | undefined;
  startError: unknown;
  stopReport: StopReport | undefined;

  constructor(readonly version: ContainerdVersion) {}

  get containerd(): Containerd {
    if (this.running) return this.running;
    throw new Error(
      `containerd ${this.version} is not running: ${this.startError instanceof Error ? this.startError.message : 'beforeAll did not run'}`,
    );
  }

  get fixtures(): Fixtures {
    if (this.imported) return this.imported;
    throw new Error(`fixtures were not imported for containerd ${this.version} (importImage: false, or start-up failed)`);
  }
}

/**
 * describeEachContainerd('tasks', (suite) => { it('...', async () => { await suite.containerd.ctr([...]) }) })
 * If containerd cannot start (binaries missing: the message says to run scripts/ensure-deps.sh; not in a
 * private mount namespace; ...) every test of that version fails with the reason; none is skipped. A failed test prints the tail of containerd's log.
 */
export function describeEachContainerd(title: string, body: (suite: ContainerdSuite) => void, options: SuiteOptions = {}): void {
  const { importImage = true, onlyVersions, ...startOptions } = options;
  for (const version of selectedContainerdVersions().filter((v) => !onlyVersions || onlyVersions.includes(v))) {
    describe(`${title} [containerd ${version}]`, () => {
      const suite = new SuiteState(version);
      beforeAll(async () => {
        try {
          suite.running = await startContainerd({ ...startOptions, version });
          if (importImage) suite.imported = await suite.running.importImage();
        } catch (e) {
          // Not rethrown: vitest would report the tests as skipped. beforeEach fails each of them instead.
          suite.startError = e;
        }
      });
      afterAll(async () => {
        const running = suite.running;
        if (!running) return;
        suite.stopReport = await running.stop();
        if (suite.stopReport.problems.length > 0) {
          throw new Error(`cleanup of containerd ${version} left problems:\n${suite.stopReport.problems.join('\n')}`);
        }
      });
      beforeEach(({ onTestFailed }) => {
        if (suite.startError !== undefined) throw suite.startError;
        onTestFailed(() => {
          if (suite.running) console.error(`--- containerd ${suite.running.fullVersion} log (tail) ---\n${suite.running.logsTail(80)}`);
        });
      });
      body(suite);
    });
  }
}
