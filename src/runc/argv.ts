// The argv of every runc invocation, built in one place (pure functions, unit-tested).
// Flags and their order follow containerd's go-runc client so runc sees what it sees from
// containerd-shim-runc-v2.

export interface GlobalFlags {
  /** `<Options.root or /run/containerd/runc>/<namespace>`; absent: runc's default (`-info` names none, like the Go shim). */
  root?: string;
  /** `<bundle>/log.json`; runc writes JSON log lines there (its errors included). Absent: stderr only. */
  logPath?: string;
  systemdCgroup?: boolean;
}

export function globalArgs(flags: GlobalFlags): string[] {
  const args: string[] = [];
  if (flags.root) args.push('--root', flags.root);
  if (flags.logPath) args.push('--log', flags.logPath, '--log-format', 'json');
  if (flags.systemdCgroup) args.push('--systemd-cgroup');
  return args;
}

export interface CreateFlags {
  bundle: string;
  pidFile: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
}

export function createArgs(id: string, f: CreateFlags): string[] {
  const args = ['create', '--bundle', f.bundle, '--pid-file', f.pidFile];
  if (f.consoleSocket) args.push('--console-socket', f.consoleSocket);
  if (f.noPivot) args.push('--no-pivot');
  if (f.noNewKeyring) args.push('--no-new-keyring');
  return [...args, id];
}

export function startArgs(id: string): string[] {
  return ['start', id];
}

export interface ExecFlags {
  /** JSON file holding the OCI process. */
  processFile: string;
  pidFile: string;
  consoleSocket?: string;
}

export function execArgs(id: string, f: ExecFlags): string[] {
  const args = ['exec', '--process', f.processFile, '--detach', '--pid-file', f.pidFile];
  if (f.consoleSocket) args.push('--console-socket', f.consoleSocket);
  return [...args, id];
}

export function killArgs(id: string, signal: number, all = false): string[] {
  if (!Number.isInteger(signal) || signal < 0) throw new RangeError(`invalid signal ${signal}`);
  return ['kill', ...(all ? ['--all'] : []), id, String(signal)];
}

export function deleteArgs(id: string, force = false): string[] {
  return ['delete', ...(force ? ['--force'] : []), id];
}

export function stateArgs(id: string): string[] {
  return ['state', id];
}

export function psArgs(id: string): string[] {
  return ['ps', '--format', 'json', id];
}

export function pauseArgs(id: string): string[] {
  return ['pause', id];
}

export function resumeArgs(id: string): string[] {
  return ['resume', id];
}

/** The LinuxResources JSON is written to runc's stdin. */
export function updateArgs(id: string): string[] {
  return ['update', '--resources=-', id];
}

export interface CheckpointFlags {
  imagePath: string;
  workPath: string;
  parentPath?: string;
  leaveRunning?: boolean;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  emptyNamespaces?: readonly string[];
  /** CRIU cgroup mode: soft, full, strict, ignore. */
  manageCgroupsMode?: string;
}

export function checkpointArgs(id: string, f: CheckpointFlags): string[] {
  const args = ['checkpoint', '--image-path', f.imagePath, '--work-path', f.workPath];
  if (f.parentPath) args.push('--parent-path', f.parentPath);
  const switches = [
    [f.leaveRunning, '--leave-running'],
    [f.tcpEstablished, '--tcp-established'],
    [f.extUnixSk, '--ext-unix-sk'],
    [f.shellJob, '--shell-job'],
    [f.fileLocks, '--file-locks'],
  ] as const;
  for (const [on, flag] of switches) if (on) args.push(flag);
  for (const ns of f.emptyNamespaces ?? []) args.push('--empty-ns', ns);
  if (f.manageCgroupsMode) args.push('--manage-cgroups-mode', f.manageCgroupsMode);
  return [...args, id];
}

export interface RestoreFlags {
  imagePath: string;
  workPath: string;
  parentPath?: string;
  bundle: string;
  pidFile: string;
  consoleSocket?: string;
  noPivot?: boolean;
}

/** Restore detached, and without making runc a subreaper: the shim is the subreaper. */
export function restoreArgs(id: string, f: RestoreFlags): string[] {
  const args = ['restore', '--image-path', f.imagePath, '--work-path', f.workPath];
  if (f.parentPath) args.push('--parent-path', f.parentPath);
  args.push('--detach', '--pid-file', f.pidFile, '--no-subreaper');
  if (f.noPivot) args.push('--no-pivot');
  if (f.consoleSocket) args.push('--console-socket', f.consoleSocket);
  return [...args, '--bundle', f.bundle, id];
}

export function featuresArgs(): string[] {
  return ['features'];
}
