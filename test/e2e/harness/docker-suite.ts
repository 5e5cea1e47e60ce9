// Docker suites: one private containerd per selected version with a private dockerd on it, the fixture
// busybox imported into Docker; dockerd is stopped (its containers removed) before containerd.
//
//   describeEachDocker('docker', (suite) => {
//     it('runs', async () => {
//       expect(await suite.docker.dockerOk(['run', '--rm', '--runtime', 'tsshim', '--network', 'none', suite.image, 'echo', 'hi'])).toBe('hi\n');
//     });
//   }, { docker: { runtimes: { tsshim: { runtimeType: 'io.containerd.tsshim.v2' } } } });
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { Containerd } from './containerd.js';
import { describeEachContainerd } from './describe.js';
import type { ContainerdSuite, SuiteOptions } from './describe.js';
import { startDockerd } from './docker.js';
import type { Dockerd, StartDockerdOptions } from './docker.js';
import type { Fixtures } from './fixtures.js';

export interface DockerSuite extends ContainerdSuite {
  /** The running dockerd (throws if set-up failed, with the reason). */
  readonly docker: Dockerd;
  /** The fixture busybox in Docker (docker.io/library/busybox:tsshim, Cmd sh). */
  readonly image: string;
}

export interface DockerSuiteOptions extends Omit<SuiteOptions, 'importImage'> {
  docker?: StartDockerdOptions;
}

class DockerSuiteState implements DockerSuite {
  running: Dockerd | undefined;
  imported: string | undefined;
  error: unknown;

  constructor(private readonly base: ContainerdSuite) {}

  get version(): ContainerdSuite['version'] {
    return this.base.version;
  }
  get containerd(): Containerd {
    return this.base.containerd;
  }
  get fixtures(): Fixtures {
    return this.base.fixtures;
  }
  get stopReport(): ContainerdSuite['stopReport'] {
    return this.base.stopReport;
  }

  get docker(): Dockerd {
    if (this.running) return this.running;
    throw new Error(`dockerd is not running: ${this.error instanceof Error ? this.error.message : 'beforeAll did not run'}`);
  }

  get image(): string {
    if (this.imported !== undefined) return this.imported;
    throw new Error(
      `the fixture image was not imported into Docker: ${this.error instanceof Error ? this.error.message : 'beforeAll did not run'}`,
    );
  }
}

export function describeEachDocker(title: string, body: (suite: DockerSuite) => void, options: DockerSuiteOptions = {}): void {
  const { docker: dockerOptions = {}, ...containerdOptions } = options;
  describeEachContainerd(
    title,
    (base) => {
      const suite = new DockerSuiteState(base);
      beforeAll(async () => {
        try {
          suite.running = await startDockerd(base.containerd, dockerOptions);
          suite.imported = await suite.running.importFixtureImage();
        } catch (e) {
          suite.error = e; // rethrown by beforeEach, so the tests fail rather than being skipped
        }
      });
      beforeEach(({ onTestFailed }) => {
        if (suite.error !== undefined) throw suite.error;
        onTestFailed(() => {
          if (suite.running) console.error(`--- dockerd ${suite.running.binaries.version} log (tail) ---\n${suite.running.logsTail(60)}`);
        });
      });
      // Registered after describeEachContainerd's afterAll, so it runs first (hooks run as a stack).
      afterAll(async () => {
        if (!suite.running) return;
        const report = await suite.running.stop();
        if (report.problems.length > 0) throw new Error(`cleanup of dockerd left problems:\n${report.problems.join('\n')}`);
      });
      body(suite);
    },
    { ...containerdOptions, importImage: true },
  );
}
