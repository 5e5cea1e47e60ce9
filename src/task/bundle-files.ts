// What a task leaves in its bundle for `delete` after a crash: the runtime options it was created
// with (so cleanup uses the same runc binary and root) and init's exit status. Loaded by `delete`
// on every task deletion, so this module decodes no protobuf and imports nothing heavy
// (options.ts decodes the options; container.ts writes the files).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Runc } from '../runc/index.js';

export interface TaskOptions {
  binaryName: string;
  root: string;
  systemdCgroup: boolean;
  noPivotRoot: boolean;
  noNewKeyring: boolean;
  ioUid: number;
  ioGid: number;
  shimCgroup: string;
  criuImagePath: string;
  criuWorkPath: string;
  /** tsshim's own: "namespace" puts every container of a namespace into one daemon; '' or "pod": one per container or pod. */
  shimSharing: string;
}

const defaultRuncRoot = '/run/containerd/runc';

export function defaultOptions(): TaskOptions {
  return {
    binaryName: 'runc',
    root: defaultRuncRoot,
    systemdCgroup: false,
    noPivotRoot: false,
    noNewKeyring: false,
    ioUid: 0,
    ioGid: 0,
    shimCgroup: '',
    criuImagePath: '',
    criuWorkPath: '',
    shimSharing: '',
  };
}

const optionsFile = 'options.json';
/** The runc binary name alone; the Go shim's `delete` reads the same file. */
const runtimeFile = 'runtime';
/** init's exit status and time, JSON `{ status, exitedAt }` (written by container.ts). */
export const initExitFile = 'init.exit';

export async function persistOptions(bundle: string, options: TaskOptions): Promise<void> {
  await writeFile(join(bundle, optionsFile), JSON.stringify(options), { mode: 0o600 });
  await writeFile(join(bundle, runtimeFile), options.binaryName, { mode: 0o600 });
}

/** The options a task was created with, or the defaults if none were persisted. */
export async function loadOptions(bundle: string): Promise<TaskOptions> {
  const options = defaultOptions();
  try {
    const saved = JSON.parse(await readFile(join(bundle, optionsFile), 'utf8')) as Partial<TaskOptions>;
    Object.assign(options, saved);
  } catch {
    // No options were saved: defaults.
  }
  return options;
}

/** The runc client for a task of `namespace` created with `options`. */
export function runcFor(bundle: string, namespace: string, options: TaskOptions): Runc {
  return new Runc({
    binary: options.binaryName,
    root: join(options.root, namespace),
    logPath: join(bundle, 'log.json'),
    cwd: bundle,
    systemdCgroup: options.systemdCgroup,
  });
}
