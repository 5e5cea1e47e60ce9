// A Kubernetes CRI test client (runtime.v1 RuntimeService and ImageService subset) for containerd's CRI
// plugin, served on containerd's gRPC socket. The kubelet's calls, without the kubelet:
//
//   const cri = new CriClient(containerd.address);
//   const pod = hostNetworkPod({ name: 'p1', cgroupParent, logDirectory });
//   const podId = await cri.runPodSandbox(pod, 'tsshim');
//   const cid = await cri.createContainer(podId, containerConfig({ name: 'c1', image, command: ['sleep', '300'] }), pod);
//   await cri.startContainer(cid);
//   const { stdout, exitCode } = await cri.execSync(cid, ['echo', 'hi']);
import type * as grpc from '@grpc/grpc-js';
import { connect, loadService, unary } from './grpc.js';
import type { ServiceConstructor } from './grpc.js';

// Message shapes as decoded (see grpc.ts: int64 as decimal strings, enums by name, absent messages null).
// Requests accept numbers for int64 fields and may leave fields out.

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
type Int64In = number | string;

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  targetId?: string;
}

export interface LinuxContainerResources {
  cpuPeriod?: Int64In;
  cpuQuota?: Int64In;
  cpuShares?: Int64In;
  memoryLimitInBytes?: Int64In;
  oomScoreAdj?: Int64In;
  cpusetCpus?: string;
  cpusetMems?: string;
  unified?: Record<string, string>;
  memorySwapLimitInBytes?: Int64In;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  dnsConfig?: { servers?: string[]; searches?: string[]; options?: string[] };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroupParent?: string;
    securityContext?: { namespaceOptions?: NamespaceOption; privileged?: boolean; readonlyRootfs?: boolean };
    sysctls?: Record<string, string>;
    resources?: LinuxContainerResources;
  };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: { key: string; value: string }[];
  mounts?: { containerPath: string; hostPath: string; readonly?: boolean }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  logPath?: string;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  linux?: {
    resources?: LinuxContainerResources;
    securityContext?: { namespaceOptions?: NamespaceOption; privileged?: boolean; runAsUser?: { value: Int64In }; runAsUsername?: string };
  };
}

export interface VersionInfo {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: string;
  network: { ip: string } | null;
  linux: { namespaces: { options: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode } | null } | null } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata | null;
  state: PodSandboxState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
}

export interface DecodedResources {
  cpuPeriod: string;
  cpuQuota: string;
  cpuShares: string;
  memoryLimitInBytes: string;
  oomScoreAdj: string;
  cpusetCpus: string;
  cpusetMems: string;
  unified: Record<string, string>;
  memorySwapLimitInBytes: string;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number } | null;
  state: ContainerState;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  image: { image: string } | null;
  imageRef: string;
  /** Completed, Error, OOMKilled, ... */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logPath: string;
  resources: { linux: DecodedResources | null } | null;
}

export interface Container {
  id: string;
  podSandboxId: string;
  metadata: { name: string; attempt: number } | null;
  image: { image: string } | null;
  imageRef: string;
  state: ContainerState;
  createdAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface UInt64Value {
  value: string;
}
export interface ContainerStats {
  attributes: { id: string; metadata: { name: string } | null } | null;
  cpu: { timestamp: string; usageCoreNanoSeconds: UInt64Value | null; usageNanoCores: UInt64Value | null } | null;
  memory: {
    timestamp: string;
    workingSetBytes: UInt64Value | null;
    availableBytes: UInt64Value | null;
    usageBytes: UInt64Value | null;
    rssBytes: UInt64Value | null;
    pageFaults: UInt64Value | null;
    majorPageFaults: UInt64Value | null;
  } | null;
  writableLayer: { usedBytes: UInt64Value | null; inodesUsed: UInt64Value | null } | null;
}

export interface ExecSyncResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: string;
  pinned: boolean;
}

/** The parts of containerd's verbose `info` JSON the tests read (containers and pod sandboxes alike). */
export interface CriVerboseInfo {
  /** Host pid of the container's init (the pause process for a sandbox); 0 when not running. */
  pid: number;
  runtimeType: string;
  /** The runtime options CRI hands the shim, as containerd prints them (e.g. { config_body: ... }). */
  runtimeOptions: Record<string, unknown> | null;
  /** The OCI spec (the linux.cgroupsPath, annotations, ...). */
  runtimeSpec: { annotations?: Record<string, string>; linux?: { cgroupsPath?: string } } | null;
}

function parseVerboseInfo(what: string, info: Record<string, string>): CriVerboseInfo {
  const raw = info.info;
  if (raw === undefined) throw new Error(`${what}: verbose status carries no info`);
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const object = (v: unknown): Record<string, unknown> | null =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  return {
    pid: typeof parsed.pid === 'number' ? parsed.pid : 0,
    runtimeType: typeof parsed.runtimeType === 'string' ? parsed.runtimeType : '',
    runtimeOptions: object(parsed.runtimeOptions),
    runtimeSpec: object(parsed.runtimeSpec) as CriVerboseInfo['runtimeSpec'],
  };
}

let runtimeService: ServiceConstructor | undefined;
let imageService: ServiceConstructor | undefined;

export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  /** `address`: containerd's gRPC socket path (CRI is served on it). */
  constructor(readonly address: string) {
    runtimeService ??= loadService('cri/runtime/v1/api.proto', 'runtime.v1.RuntimeService');
    imageService ??= loadService('cri/runtime/v1/api.proto', 'runtime.v1.ImageService');
    this.runtime = connect(runtimeService, address);
    this.images = connect(imageService, address);
  }

  private call<Res>(method: string, request: object, timeoutMs?: number): Promise<Res> {
    return unary<Res>(this.runtime, method, request, timeoutMs === undefined ? {} : { timeoutMs });
  }

  version(): Promise<VersionInfo> {
    return this.call('Version', { version: 'v1' });
  }

  /** `runtimeHandler` names a `containerd.runtimes.<handler>` entry of the CRI config ('' = the default). */
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
    return (await this.call<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler }, 120_000)).podSandboxId;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call('StopPodSandbox', { podSandboxId }, 120_000);
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call('RemovePodSandbox', { podSandboxId }, 120_000);
  }

  /** With `verbose`, `info.info` is containerd's JSON (pid, runtimeType, runtimeOptions, config, ...). */
  async podSandboxStatus(podSandboxId: string, verbose = false): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    const r = await this.call<{ status: PodSandboxStatus | null; info: Record<string, string> }>('PodSandboxStatus', {
      podSandboxId,
      verbose,
    });
    if (!r.status) throw new Error(`PodSandboxStatus ${podSandboxId}: no status in the answer`);
    return { status: r.status, info: r.info };
  }

  async listPodSandbox(filter: { id?: string; labelSelector?: Record<string, string> } = {}): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>('ListPodSandbox', { filter })).items;
  }

  /** `sandboxConfig` must be the config the pod was started with (as the kubelet sends it). */
  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.call<{ containerId: string }>('CreateContainer', { podSandboxId, config, sandboxConfig }, 120_000)).containerId;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call('StartContainer', { containerId }, 120_000);
  }

  /** Stop signal, then SIGKILL after `timeoutSeconds`. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    await this.call('StopContainer', { containerId, timeout: timeoutSeconds }, (timeoutSeconds + 60) * 1000);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call('RemoveContainer', { containerId }, 120_000);
  }

  async listContainers(
    filter: { id?: string; podSandboxId?: string; state?: ContainerState; labelSelector?: Record<string, string> } = {},
  ): Promise<Container[]> {
    const { state, ...rest } = filter;
    const r = await this.call<{ containers: Container[] }>('ListContainers', {
      filter: { ...rest, ...(state ? { state: { state } } : {}) },
    });
    return r.containers;
  }

  async containerStatus(containerId: string, verbose = false): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    const r = await this.call<{ status: ContainerStatus | null; info: Record<string, string> }>('ContainerStatus', {
      containerId,
      verbose,
    });
    if (!r.status) throw new Error(`ContainerStatus ${containerId}: no status in the answer`);
    return { status: r.status, info: r.info };
  }

  /** containerd's verbose JSON for the container (pid, runtimeType, runtimeOptions, runtimeSpec, ...). */
  async containerInfo(containerId: string): Promise<CriVerboseInfo> {
    return parseVerboseInfo(`container ${containerId}`, (await this.containerStatus(containerId, true)).info);
  }

  /** containerd's verbose JSON for the pod sandbox (pid of the pause container, runtimeType, ...). */
  async podSandboxInfo(podSandboxId: string): Promise<CriVerboseInfo> {
    return parseVerboseInfo(`pod ${podSandboxId}`, (await this.podSandboxStatus(podSandboxId, true)).info);
  }

  /** Polls ContainerStatus until the container is in `state`; returns that status. */
  async waitForContainerState(containerId: string, state: ContainerState, timeoutMs = 60_000): Promise<ContainerStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await this.containerStatus(containerId);
      if (status.state === state) return status;
      if (Date.now() > deadline) throw new Error(`container ${containerId} is ${status.state}, not ${state}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async updateContainerResources(containerId: string, linux: LinuxContainerResources): Promise<void> {
    await this.call('UpdateContainerResources', { containerId, linux });
  }

  /** Runs `cmd` in the container and collects its output (timeoutSeconds 0 = none). */
  async execSync(containerId: string, cmd: string[], timeoutSeconds = 30): Promise<ExecSyncResult> {
    const r = await this.call<{ stdout: Buffer; stderr: Buffer; exitCode: number }>(
      'ExecSync',
      { containerId, cmd, timeout: timeoutSeconds },
      (timeoutSeconds === 0 ? 300 : timeoutSeconds + 30) * 1000,
    );
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  }

  async containerStats(containerId: string): Promise<ContainerStats> {
    const r = await this.call<{ stats: ContainerStats | null }>('ContainerStats', { containerId });
    if (!r.stats) throw new Error(`ContainerStats ${containerId}: no stats in the answer`);
    return r.stats;
  }

  async listImages(): Promise<Image[]> {
    return (await unary<{ images: Image[] }>(this.images, 'ListImages', {})).images;
  }

  /** The image, or undefined when CRI does not know it. */
  async imageStatus(image: string): Promise<Image | undefined> {
    const r = await unary<{ image: Image | null }>(this.images, 'ImageStatus', { image: { image } });
    return r.image ?? undefined;
  }

  /** Polls ImageStatus until CRI sees `image` (it learns of `ctr images import` through events). */
  async waitForImage(image: string, timeoutMs = 30_000): Promise<Image> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.imageStatus(image);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`CRI does not see image ${image} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }
}

export interface PodOptions {
  name: string;
  /** Kubernetes namespace of the pod (default "default"). */
  namespace?: string;
  uid?: string;
  /** cgroupfs parent for the pod's containers, e.g. /<containerd namespace>/pods so the harness cleans it. */
  cgroupParent?: string;
  /** Where CRI writes container logs (ContainerConfig.logPath is relative to it). */
  logDirectory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Default as the kubelet without shareProcessNamespace: network NODE (no CNI plugin needed), pid CONTAINER, ipc POD. */
  namespaceOptions?: NamespaceOption;
}

/** A pod sandbox config with host networking (NamespaceOption network = NODE): no CNI plugin involved. */
export function hostNetworkPod(o: PodOptions): PodSandboxConfig {
  const config: PodSandboxConfig = {
    metadata: { name: o.name, uid: o.uid ?? `uid-${o.name}`, namespace: o.namespace ?? 'default', attempt: 0 },
    // No hostname: with the host's UTS namespace (host network) runc refuses to set one.
    labels: o.labels ?? {},
    annotations: o.annotations ?? {},
    linux: {
      securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', ...o.namespaceOptions } },
    },
  };
  if (o.logDirectory !== undefined) config.logDirectory = o.logDirectory;
  if (o.cgroupParent !== undefined && config.linux) config.linux.cgroupParent = o.cgroupParent;
  return config;
}

export interface ContainerOptions {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  /** Relative to the pod's logDirectory. */
  logPath?: string;
  resources?: LinuxContainerResources;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  stdin?: boolean;
  tty?: boolean;
  /**
   * As the kubelet copies them from the pod (CRI takes the container's PID mode from here): default network
   * NODE, pid CONTAINER (the container's command is PID 1), ipc POD.
   */
  namespaceOptions?: NamespaceOption;
}

export function containerConfig(o: ContainerOptions): ContainerConfig {
  const config: ContainerConfig = {
    metadata: { name: o.name, attempt: 0 },
    image: { image: o.image },
    envs: Object.entries(o.env ?? {}).map(([key, value]) => ({ key, value })),
    labels: o.labels ?? {},
    annotations: o.annotations ?? {},
    stdin: o.stdin ?? false,
    tty: o.tty ?? false,
  };
  if (o.command) config.command = o.command;
  if (o.args) config.args = o.args;
  if (o.logPath !== undefined) config.logPath = o.logPath;
  config.linux = { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', ...o.namespaceOptions } } };
  if (o.resources) config.linux.resources = o.resources;
  return config;
}
