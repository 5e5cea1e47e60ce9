// A private dockerd (Debian trixie's docker.io, unpacked by scripts/ensure-deps.sh into
// <cache>/docker-trixie/root) on top of a harness containerd: its own data root, exec root, socket and
// daemon.json, no iptables and no bridge (containers run with --network none), and its containers'
// cgroups under /<suite namespace>/docker so the containerd cleanup covers them.
//
//   const docker = await startDockerd(suite.containerd, { runtimes: { tsshim: { runtimeType: 'io.containerd.tsshim.v2' } } });
//   const image = await docker.importFixtureImage();
//   expect(await docker.dockerOk(['run', '--rm', '--runtime', 'tsshim', '--network', 'none', image, 'echo', 'hi'])).toBe('hi\n');
//   await docker.stop(); // before containerd.stop()
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unmountAllUnder } from './cleanup.js';
import type { Containerd } from './containerd.js';
import { DaemonProcess } from './daemon-process.js';
import { CommandError, formatCommand, LongRunningCommand, runCommand, shellQuote } from './exec.js';
import type { CommandResult, RunOptions } from './exec.js';
import { loadFixtures } from './fixtures.js';
import { cacheDir, ensureDepsHint } from './paths.js';

export interface DockerBinaries {
  /** e.g. 26.1.5 */
  version: string;
  dockerd: string;
  docker: string;
  /** Directory holding dockerd and docker-proxy (put on dockerd's PATH). */
  sbinDir: string;
}

class MissingDockerError extends Error {
  constructor(looked: string) {
    super(`dockerd/docker from Debian trixie not found in ${looked}: ${ensureDepsHint}`);
    this.name = 'MissingDockerError';
  }
}

function findDocker(): DockerBinaries {
  const dir = join(cacheDir, 'docker-trixie');
  const dockerd = join(dir, 'root/usr/sbin/dockerd');
  const docker = join(dir, 'root/usr/bin/docker');
  if (!existsSync(dockerd) || !existsSync(docker)) throw new MissingDockerError(dir);
  let version = 'unknown';
  try {
    version = readFileSync(join(dir, 'VERSION'), 'utf8').trim();
  } catch {
    // an older unpack without VERSION: still usable
  }
  return { version, dockerd, docker, sbinDir: join(dir, 'root/usr/sbin') };
}

/** One entry of daemon.json `runtimes`. */
export interface DockerRuntime {
  /** A containerd shim runtime name, e.g. io.containerd.tsshim.v2. */
  runtimeType: string;
  /** Options passed to the shim (Docker sends them as the runtime's options). */
  options?: Record<string, unknown>;
}

export interface StartDockerdOptions {
  runtimes?: Record<string, DockerRuntime>;
  /** daemon.json default-runtime (Docker's default: runc, i.e. io.containerd.runc.v2). */
  defaultRuntime?: string;
  /** overlay2 works on this machine's ext4; vfs is the fallback. */
  storageDriver?: 'overlay2' | 'vfs';
  /** Extra daemon.json keys. */
  daemonJson?: Record<string, unknown>;
  /**
   * A daemon.json given to dockerd as is (e.g. the README's docs/daemon.json) instead of one written from
   * `runtimes`, `defaultRuntime` and `daemonJson` (which must then be absent). The harness's own settings
   * (storage driver, cgroup parent and driver) are flags either way, so the file needs none of them.
   */
  configFile?: string;
  startTimeoutMs?: number;
}

export interface DockerdStopReport {
  unmounted: string[];
  problems: string[];
}

const LOG_LIMIT = 4 * 1024 * 1024;

export class Dockerd {
  readonly tempDir: string;
  /** unix:///…/docker.sock, for DOCKER_HOST. */
  readonly host: string;
  readonly socket: string;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly configFile: string;
  /** Containers' cgroup parent (cgroupfs): /<containerd namespace>/docker. */
  readonly cgroupParent: string;
  private readonly env: NodeJS.ProcessEnv;
  private daemon: DaemonProcess | undefined;
  private readonly longRunning = new Set<LongRunningCommand>();
  private stopping: Promise<DockerdStopReport> | undefined;
  private fixtureImage: Promise<string> | undefined;

  constructor(
    readonly binaries: DockerBinaries,
    readonly containerd: Containerd,
    tempDir: string,
    configFile?: string,
  ) {
    this.tempDir = tempDir;
    this.socket = join(tempDir, 'docker.sock');
    this.host = `unix://${this.socket}`;
    this.dataRoot = join(tempDir, 'data');
    this.execRoot = join(tempDir, 'exec');
    this.configFile = configFile ?? join(tempDir, 'daemon.json');
    this.cgroupParent = `/${containerd.namespace}/docker`;
    // containerd's PATH has dist/ and the shims; dockerd needs docker-proxy from its own sbin.
    this.env = {
      ...process.env,
      PATH: `${binaries.sbinDir}:${containerd.path}`,
      DOCKER_HOST: this.host,
      DOCKER_CONFIG: join(tempDir, 'cli'),
    };
  }

  logs(): string {
    return this.daemon?.logs() ?? '';
  }

  logsTail(lines = 60): string {
    return this.daemon?.logsTail(lines) ?? '';
  }

  isRunning(): boolean {
    return this.daemon?.isRunning() ?? false;
  }

  /** @internal */
  async launch(opts: StartDockerdOptions): Promise<void> {
    await mkdir(join(this.tempDir, 'cli'), { recursive: true });
    if (opts.configFile === undefined) {
      const daemonJson: Record<string, unknown> = {
        runtimes: Object.fromEntries(
          Object.entries(opts.runtimes ?? {}).map(([name, r]) => [
            name,
            { runtimeType: r.runtimeType, ...(r.options ? { options: r.options } : {}) },
          ]),
        ),
        ...(opts.defaultRuntime ? { 'default-runtime': opts.defaultRuntime } : {}),
        ...opts.daemonJson,
      };
      await writeFile(this.configFile, `${JSON.stringify(daemonJson, null, 2)}\n`);
    } else if (opts.runtimes !== undefined || opts.defaultRuntime !== undefined || opts.daemonJson !== undefined) {
      throw new Error('startDockerd: configFile excludes runtimes, defaultRuntime and daemonJson (put them in the file)');
    }
    // Flags, not daemon.json keys: a given configFile stays exactly what users paste.
    const args = [
      '--config-file',
      this.configFile,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      join(this.tempDir, 'docker.pid'),
      '-H',
      this.host,
      '--containerd',
      this.containerd.address,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--debug',
      '--storage-driver',
      opts.storageDriver ?? 'overlay2',
      '--cgroup-parent',
      this.cgroupParent,
      '--exec-opt',
      'native.cgroupdriver=cgroupfs',
    ];
    const daemon = new DaemonProcess('dockerd', this.binaries.dockerd, args, this.env, LOG_LIMIT);
    this.daemon = daemon;
    await daemon.waitUntilReady(
      () => /API listen on/.test(daemon.logs()),
      `dockerd ${this.binaries.version}`,
      opts.startTimeoutMs ?? 60_000,
      50,
    );
  }

  /** Runs the docker CLI against this daemon (default timeout 120 s). */
  docker(args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    return runCommand(this.binaries.docker, args, { timeoutMs: 120_000, env: this.env, ...opts });
  }

  /** Like docker() but throws (with output and the daemon's log tail) unless it exits 0; returns stdout. */
  async dockerOk(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.docker(args, opts);
    if (r.code !== 0) {
      const cmd = formatCommand('docker', args);
      throw new CommandError(
        cmd,
        r,
        `${cmd} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`})` +
          `\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n--- dockerd log ---\n${this.logsTail(30)}`,
      );
    }
    return r.stdout;
  }

  /**
   * Runs the docker CLI on a pty (script(1) is its terminal), as `docker run -it` and `exec -it` need;
   * `input` is typed into the terminal (echoed back in the output, lines end in \r\n).
   */
  dockerOnPty(args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    const command = [this.binaries.docker, ...args].map(shellQuote).join(' ');
    return runCommand('script', ['--quiet', '--return', '--command', command, '/dev/null'], { timeoutMs: 120_000, env: this.env, ...opts });
  }

  /** A long-running docker command (docker run -i, logs -f, events); stop() ends it if the test did not. */
  spawnDocker(args: readonly string[]): LongRunningCommand {
    const cmd = new LongRunningCommand(formatCommand('docker', args), this.binaries.docker, args, this.env);
    this.longRunning.add(cmd);
    void cmd.exited.then(() => this.longRunning.delete(cmd));
    return cmd;
  }

  /**
   * The fixture busybox as a Docker image (`docker import` of the rootfs; `docker load` takes no OCI
   * layout archive in this Docker). Returns its name, docker.io/library/busybox:tsshim (Cmd sh).
   */
  importFixtureImage(): Promise<string> {
    this.fixtureImage ??= (async () => {
      const fixtures = loadFixtures();
      const tar = join(this.tempDir, 'rootfs.tar');
      const packed = await runCommand('tar', ['-C', fixtures.rootfs, '-cf', tar, '.'], { timeoutMs: 60_000 });
      if (packed.code !== 0) throw new Error(`tar of ${fixtures.rootfs} failed: ${packed.stderr}`);
      await this.dockerOk([
        'import',
        '--change',
        'CMD ["sh"]',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        tar,
        fixtures.image,
      ]);
      await rm(tar, { force: true });
      return fixtures.image;
    })();
    return this.fixtureImage;
  }

  /**
   * Removes every container (docker rm -f), stops dockerd (SIGTERM, SIGKILL after 20 s), unmounts what
   * it left under its temp dir and removes it. Call before stopping the containerd. Never throws.
   */
  stop(): Promise<DockerdStopReport> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<DockerdStopReport> {
    const report: DockerdStopReport = { unmounted: [], problems: [] };
    await Promise.all([...this.longRunning].map((c) => c.stop(1_000)));
    if (this.isRunning()) {
      const ids = (await this.docker(['ps', '-aq'], { timeoutMs: 20_000 })).stdout.split('\n').filter((l) => l !== '');
      if (ids.length > 0) {
        const r = await this.docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
        if (r.code !== 0) report.problems.push(`docker rm -f: ${r.stderr.trim()}`);
      }
      await this.terminate(report.problems);
    }
    report.unmounted = await unmountAllUnder(this.tempDir, report.problems);
    try {
      await rm(this.tempDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      report.problems.push(`rm -rf ${this.tempDir}: ${(e as Error).message}`);
    }
    return report;
  }

  private async terminate(problems: string[]): Promise<void> {
    await this.daemon?.terminate(20_000, problems);
  }
}

/** Starts a private dockerd on `containerd`. Throws MissingDockerError if ensure-deps has not unpacked it. */
export async function startDockerd(containerd: Containerd, opts: StartDockerdOptions = {}): Promise<Dockerd> {
  const binaries = findDocker();
  // Short: the socket path must stay under ~100 bytes.
  const tempDir = await mkdtemp('/tmp/tsshim-docker-');
  const dockerd = new Dockerd(binaries, containerd, tempDir, opts.configFile);
  try {
    await dockerd.launch(opts);
  } catch (e) {
    await dockerd.stop();
    throw e;
  }
  return dockerd;
}
