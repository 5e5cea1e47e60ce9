// `start` run the way containerd 2.3 runs it (pkg/shim/util.go Command in v2.3.4): BootstrapParams on
// stdin, the legacy argv and environment beside it, cwd = the bundle, stdout and stderr read to EOF.
// No containerd 2.3 exists for this machine, so the test plays it: it checks the BootstrapResult,
// the socket in socket_dir, shim_cgroup moving the daemon, log_level reaching the daemon, and that
// containerd_version spared asking the containerd binary; once with a daemon `start` spawns (spares
// off), once with a spare daemon adopting the call (src/shim/spare.ts). Needs root and `npm run build`.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TASK_SERVICE_V2, RuncOptionsType, containerd, packAny } from '../../src/api/index.js';
import { isUnifiedHost } from '../../src/cgroups/index.js';
import { spareSocketPath } from '../../src/shim/address.js';
import { TtrpcClient } from 'ttrpc-ts';
import { findSpareDaemons, listProcesses } from '../e2e/harness/procs.js';
import { until } from '../e2e/harness/wait.js';

const repo = join(import.meta.dirname, '../..');
const shim = join(repo, 'dist/containerd-shim-tsshim-v2');
const boot = containerd.runtime.bootstrap.v1;
const task = containerd.task.v2;
const namespace = 'boot23';

// Short: socket_dir is at most 42 bytes. A subdirectory `start` has to create.
const tmp = mkdtempSync('/tmp/tsshim-b23-');
// A spare lives as long as its containerd's socket exists; a plain file stands in for it.
const grpcAddress = join(tmp, 'containerd.sock');
writeFileSync(grpcAddress, '');
const daemons: number[] = [];
const logFds: number[] = [];
const cgroupDirs: string[] = [];

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Our daemons and spares: every process started for this test's containerd address. */
const ours = (): number[] =>
  listProcesses()
    .filter((p) => p.state !== 'Z' && p.cmdline.includes(grpcAddress))
    .map((p) => p.pid);

afterAll(async () => {
  daemons.push(...ours());
  for (const pid of daemons) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await until(() => daemons.every((pid) => !alive(pid)), 'the daemons to exit');
  for (const dir of cgroupDirs) rmdirSync(dir);
  for (const fd of logFds) closeSync(fd);
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * A bundle as containerd prepares it: config.json with a pod annotation (group `pod-<id>`), and the
 * `log` FIFO open for reading.
 */
function makeBundle(id: string): { dir: string; readLog: () => string } {
  const dir = join(tmp, id);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri.sandbox-id': `pod-${id}` } }),
  );
  if (spawnSync('mkfifo', [join(dir, 'log')]).status !== 0) throw new Error('mkfifo failed');
  // Read-write and non-blocking: a reader is present when the daemon opens it, and reads never wait.
  const fd = openSync(join(dir, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
  logFds.push(fd);
  let text = '';
  return {
    dir,
    readLog: () => {
      const buf = Buffer.alloc(65536);
      for (;;) {
        try {
          const n = readSync(fd, buf);
          if (n <= 0) break;
          text += buf.subarray(0, n).toString();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
      }
      return text;
    },
  };
}

/** A stand-in containerd binary that records being asked anything (the --version probe). */
let fakes = 0;
function fakeContainerd(): { path: string; asked: () => boolean } {
  const path = join(tmp, `containerd-${++fakes}`);
  const marker = `${path}-was-run`;
  writeFileSync(path, `#!/bin/sh\ntouch ${marker}\necho "containerd github.com/containerd/containerd/v2 2.3.4 x"\n`, { mode: 0o755 });
  return { path, asked: () => existsSync(marker) };
}

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs `start` as containerd 2.3's Command builds it and waits for EOF on its output, as CombinedOutput
 * does. `spares: false` is TSSHIM_SPARES=0 (start spawns the daemon itself and leaves no spare).
 */
function runStart(
  id: string,
  bundle: string,
  stdin: Uint8Array,
  opts: { debug: boolean; containerd: string; spares: boolean },
): Promise<Run> {
  const args = ['-namespace', namespace, '-address', grpcAddress, '-publish-binary', opts.containerd, '-id', id, '-bundle', bundle];
  if (opts.debug) args.push('-debug');
  args.push('start');
  const child = spawn(shim, args, {
    cwd: bundle,
    env: {
      ...process.env,
      GOMAXPROCS: '2',
      MAX_SHIM_VERSION: '2',
      TTRPC_ADDRESS: `${grpcAddress}.ttrpc`,
      GRPC_ADDRESS: grpcAddress,
      NAMESPACE: namespace,
      TSSHIM_SPARES: opts.spares ? '1' : '0',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.stdin.end(stdin);
  // 'close' waits for both pipes to reach EOF: a daemon that inherited them would hang it.
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr })));
}

function params(id: string, extra: containerd.runtime.bootstrap.v1.IBootstrapParams): Uint8Array {
  return boot.BootstrapParams.encode({
    instanceId: id,
    namespace,
    containerdVersion: '2.3.4',
    containerdTtrpcAddress: `${grpcAddress}.ttrpc`,
    containerdGrpcAddress: grpcAddress,
    containerdBinary: '/usr/local/bin/containerd-2.3',
    ...extra,
  }).finish();
}

/** A cgroup for shim_cgroup: on cgroup v1 in the memory and pids hierarchies, on v2 the one tree. */
function makeShimCgroup(name: string): string[] {
  const dirs = isUnifiedHost('/sys/fs/cgroup')
    ? [join('/sys/fs/cgroup', name)]
    : ['memory', 'pids'].map((c) => join('/sys/fs/cgroup', c, name));
  for (const dir of dirs) {
    mkdirSync(dir);
    cgroupDirs.push(dir);
  }
  return dirs;
}

async function connect(address: string, id: string): Promise<{ client: TtrpcClient; shimPid: number }> {
  const client = await TtrpcClient.connect(address, { connectTimeoutMs: 10_000 });
  const reply = await client.call(TASK_SERVICE_V2, 'Connect', task.ConnectRequest.encode({ id }).finish());
  return { client, shimPid: task.ConnectResponse.decode(reply).shimPid };
}

async function shutdown(client: TtrpcClient, id: string, pid: number): Promise<void> {
  await client.call(TASK_SERVICE_V2, 'Shutdown', task.ShutdownRequest.encode({ id }).finish());
  await until(() => !alive(pid), `shim daemon ${pid} to exit after Shutdown`);
}

/** The socket containerd's Go shim would name for task `id` (its pod `pod-<id>`) in `dir`. */
function expectedAddress(dir: string, id: string): string {
  return `unix://${dir}/${createHash('sha256').update(`${grpcAddress}/${namespace}/pod-${id}`).digest('hex')}`;
}

interface LogLine {
  level: number;
  msg: string;
  method?: string;
}
const logLines = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

/** Waits for a spare daemon of this test's containerd address (not `notPid`) to listen; its pid. */
async function awaitSpare(notPid?: number): Promise<number> {
  let pid: number | undefined;
  await until(() => {
    pid = findSpareDaemons(grpcAddress).find((p) => p.pid !== notPid)?.pid;
    return pid !== undefined && existsSync(spareSocketPath(grpcAddress));
  }, 'a spare daemon to listen');
  return pid!;
}

describe('start as containerd 2.3 runs it', () => {
  const socketDir = join(tmp, 's');

  it('answers a BootstrapResult, binds in socket_dir, moves the daemon into shim_cgroup, logs at log_level (a daemon start spawns)', async () => {
    const id = 'ctr-a';
    const bundle = makeBundle(id);
    const cgroupName = `tsshim-boot23-a-${process.pid}`;
    const cgroups = makeShimCgroup(cgroupName);
    const fake = fakeContainerd();
    const runcOptions = packAny(RuncOptionsType, { shimCgroup: `/${cgroupName}` });
    // containerd at "warn": no -debug, log_level WARN.
    const stdin = params(id, { logLevel: boot.LogLevel.LOG_LEVEL_WARN, socketDir, extensions: [{ value: runcOptions }] });

    const run = await runStart(id, bundle.dir, stdin, { debug: false, containerd: fake.path, spares: false });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const address = expectedAddress(socketDir, id);
    const path = address.slice('unix://'.length);
    expect(boot.BootstrapResult.decode(run.stdout).toJSON()).toEqual({ version: 3, address, protocol: 'ttrpc' });
    expect(readFileSync(join(bundle.dir, 'address'), 'utf8')).toBe(address);
    expect(fake.asked()).toBe(false); // containerd_version said it: no --version probe
    const socket = statSync(path);
    expect(socket.isSocket()).toBe(true);
    expect(socket.mode & 0o777).toBe(0o600);
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);

    const { client, shimPid } = await connect(address, id);
    daemons.push(shimPid);
    for (const dir of cgroups) {
      expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n')).toEqual([String(shimPid)]);
    }
    expect(readFileSync(`/proc/${shimPid}/cgroup`, 'utf8')).toMatch(new RegExp(`:/${cgroupName}$`, 'm'));

    await shutdown(client, id, shimPid);
    client.close();
    expect(existsSync(path)).toBe(false); // the daemon removed the socket it served
    const lines = logLines(bundle.readLog());
    expect(lines.filter((l) => l.level < 40)).toEqual([]); // nothing below warn
    expect(findSpareDaemons(grpcAddress)).toEqual([]); // TSSHIM_SPARES=0
  });

  it('log_level DEBUG reaches a daemon start spawned, on its own (no -debug beside it); a spare is left', async () => {
    const id = 'ctr-b';
    const bundle = makeBundle(id);
    const stdin = params(id, { logLevel: boot.LogLevel.LOG_LEVEL_DEBUG, socketDir });
    const run = await runStart(id, bundle.dir, stdin, { debug: false, containerd: fakeContainerd().path, spares: true });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { address } = boot.BootstrapResult.decode(run.stdout);
    expect(address).toBe(expectedAddress(socketDir, id));
    const { client, shimPid } = await connect(address, id);
    daemons.push(shimPid);
    await shutdown(client, id, shimPid);
    client.close();
    expect(logLines(bundle.readLog()).some((l) => l.level === 20 && l.msg === 'request' && l.method === 'Connect')).toBe(true);
    await awaitSpare();
  });

  it('a spare daemon adopting the call answers it the same way: BootstrapResult, socket_dir, shim_cgroup, log_level', async () => {
    const spare = await awaitSpare();
    const id = 'ctr-c';
    const bundle = makeBundle(id);
    const cgroupName = `tsshim-boot23-c-${process.pid}`;
    const cgroups = makeShimCgroup(cgroupName);
    const fake = fakeContainerd();
    const stdin = params(id, {
      logLevel: boot.LogLevel.LOG_LEVEL_DEBUG,
      socketDir,
      extensions: [{ value: packAny(RuncOptionsType, { shimCgroup: `/${cgroupName}` }) }],
    });
    const run = await runStart(id, bundle.dir, stdin, { debug: false, containerd: fake.path, spares: true });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const address = expectedAddress(socketDir, id);
    expect(boot.BootstrapResult.decode(run.stdout).toJSON()).toEqual({ version: 3, address, protocol: 'ttrpc' });
    expect(fake.asked()).toBe(false);

    const { client, shimPid } = await connect(address, id);
    daemons.push(shimPid);
    expect(shimPid).toBe(spare); // the spare became this task's daemon
    for (const dir of cgroups) {
      expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim().split('\n')).toEqual([String(shimPid)]);
    }
    await shutdown(client, id, shimPid);
    client.close();
    expect(logLines(bundle.readLog()).some((l) => l.level === 20 && l.msg === 'request' && l.method === 'Connect')).toBe(true);
  });

  it('refuses stdin that is neither form, with the bytes in the message, and leaves no socket or daemon (through a spare)', async () => {
    const spare = await awaitSpare();
    const id = 'ctr-d';
    const bundle = makeBundle(id);
    const never = join(tmp, 'never');
    // A BootstrapParams cut short: socket_dir is readable before the cut, the rest is not.
    const whole = params(id, { socketDir: never, extensions: [{ value: packAny(RuncOptionsType, { shimCgroup: '/x' }) }] });
    const run = await runStart(id, bundle.dir, whole.subarray(0, whole.length - 3), {
      debug: false,
      containerd: fakeContainerd().path,
      spares: true,
    });
    expect(run.status).toBe(1);
    expect(run.stdout.toString() + run.stderr).toMatch(
      /^start: stdin is neither runtime options \(a google.protobuf.Any\) nor containerd 2.3's BootstrapParams: .*\(\d+ bytes starting 0a0563\S*\)\n$/,
    );
    expect(existsSync(never)).toBe(false);
    expect(existsSync(join(bundle.dir, 'address'))).toBe(false);
    expect(findSpareDaemons(grpcAddress).map((p) => p.pid)).toEqual([spare]); // it stays a spare
  });

  it('refuses a socket_dir containerd itself would refuse', async () => {
    const id = 'ctr-e';
    const bundle = makeBundle(id);
    const tooLong = `/tmp/${'x'.repeat(40)}`;
    const run = await runStart(id, bundle.dir, params(id, { socketDir: tooLong }), {
      debug: false,
      containerd: fakeContainerd().path,
      spares: false,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/socket_dir "\/tmp\/x+" is 45 bytes; at most 42/);
    expect(existsSync(tooLong)).toBe(false);
  });
});
