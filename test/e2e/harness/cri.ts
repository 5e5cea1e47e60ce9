// CRI suites: a private containerd with its CRI plugin, the fixture images in the k8s.io namespace (where
// CRI looks for images, including the sandbox image registry.k8s.io/pause:tsshim), and a CRI client.
//
//   describeEachCri('pods', (suite) => {
//     it('runs a pod', async () => {
//       const pod = suite.pod('p1');
//       const podId = await suite.cri.runPodSandbox(pod, 'tsshim');
//       ...
//     });
//   }, { runtimeHandlers: { tsshim: 'io.containerd.tsshim.v2' } });
//
// Pods get the cgroup parent /<suite namespace>/pods so the harness's cleanup finds and removes their
// cgroups and processes; afterAll stops and removes every pod through CRI before containerd stops.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { CriClient, hostNetworkPod } from '../clients/cri.js';
import type { PodOptions, PodSandboxConfig } from '../clients/cri.js';
import type { Containerd } from './containerd.js';
import { describeEachContainerd } from './describe.js';
import type { ContainerdSuite, SuiteOptions } from './describe.js';
import type { Fixtures } from './fixtures.js';

/** The CRI runtime handler that runs tsshim (the name docs/runtimeclass.yaml and the docs' TOML use). */
export const tsshimCriHandler = 'tsshim';

/** The containerd namespace CRI keeps its images, pods and containers in. */
const criNamespace = 'k8s.io';

export interface CriEnvironment {
  client: CriClient;
  fixtures: Fixtures;
  /** cgroupfs parent for pods: /<suite namespace>/pods. */
  cgroupParent: string;
  /** A directory for container logs (pod logDirectory). */
  logDirectory: string;
}

/** Imports the fixtures into k8s.io and waits until CRI sees the pause and busybox images. */
async function prepareCri(containerd: Containerd): Promise<CriEnvironment> {
  const fixtures = await containerd.importImage(criNamespace);
  const client = new CriClient(containerd.address);
  try {
    await client.waitForImage(fixtures.pauseImage);
    await client.waitForImage(fixtures.image);
  } catch (e) {
    client.close();
    throw e;
  }
  const logDirectory = join(containerd.tempDir, 'pod-logs');
  await mkdir(logDirectory, { recursive: true });
  return { client, fixtures, cgroupParent: `/${containerd.namespace}/pods`, logDirectory };
}

/** Stops and removes every pod (and so its containers) through CRI; returns what failed. */
async function removeAllPods(client: CriClient): Promise<string[]> {
  const problems: string[] = [];
  for (const pod of await client.listPodSandbox()) {
    for (const step of ['stopPodSandbox', 'removePodSandbox'] as const) {
      try {
        await client[step](pod.id);
      } catch (e) {
        problems.push(`${step} ${pod.id}: ${(e as Error).message}`);
      }
    }
  }
  return problems;
}

export interface CriSuite extends ContainerdSuite {
  /** CRI client on the suite's containerd (throws if set-up failed). */
  readonly cri: CriClient;
  readonly env: CriEnvironment;
  /** A host-network pod config whose cgroups and logs live where the harness cleans up. */
  pod(name: string, options?: Omit<PodOptions, 'name'>): PodSandboxConfig;
}

class CriSuiteState implements CriSuite {
  prepared: CriEnvironment | undefined;
  error: unknown;

  constructor(private readonly base: ContainerdSuite) {}

  get version(): ContainerdSuite['version'] {
    return this.base.version;
  }
  get containerd(): Containerd {
    return this.base.containerd;
  }
  get fixtures(): Fixtures {
    return this.env.fixtures;
  }
  get stopReport(): ContainerdSuite['stopReport'] {
    return this.base.stopReport;
  }

  get env(): CriEnvironment {
    if (this.prepared) return this.prepared;
    throw new Error(`CRI is not ready: ${this.error instanceof Error ? this.error.message : 'beforeAll did not run'}`);
  }

  get cri(): CriClient {
    return this.env.client;
  }

  pod(name: string, options: Omit<PodOptions, 'name'> = {}): PodSandboxConfig {
    return hostNetworkPod({ cgroupParent: this.env.cgroupParent, logDirectory: this.env.logDirectory, ...options, name });
  }
}

/** describeEachContainerd with the CRI plugin on, images in k8s.io, and pods cleaned up through CRI. */
export function describeEachCri(title: string, body: (suite: CriSuite) => void, options: Omit<SuiteOptions, 'criEnabled'> = {}): void {
  describeEachContainerd(
    title,
    (base) => {
      const suite = new CriSuiteState(base);
      beforeAll(async () => {
        try {
          suite.prepared = await prepareCri(base.containerd);
        } catch (e) {
          suite.error = e; // rethrown by beforeEach, so the tests fail rather than being skipped
        }
      });
      beforeEach(() => {
        if (suite.error !== undefined) throw suite.error;
      });
      // Registered after describeEachContainerd's afterAll, so it runs first (hooks run as a stack).
      afterAll(async () => {
        const prepared = suite.prepared;
        if (!prepared) return;
        try {
          const problems = await removeAllPods(prepared.client);
          if (problems.length > 0) throw new Error(`CRI cleanup:\n${problems.join('\n')}`);
        } finally {
          prepared.client.close();
        }
      });
      body(suite);
    },
    { importImage: false, ...options, criEnabled: true },
  );
}
