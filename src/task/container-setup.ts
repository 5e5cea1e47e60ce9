// What a container is made from: the create request as the task service passes it, what create()
// settles before the Container exists, and the few facts read from the bundle for it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mount } from '../api/index.js';
import type { RuncStdio, StdioPaths } from '../stdio/process-io.js';
import type { RuncClient } from './deps.js';
import type { CheckpointRequestOptions, TaskOptions } from './options.js';
import type { ContainerProcess } from './process.js';

export interface CreateParams {
  id: string;
  bundle: string;
  namespace: string;
  rootfs: Mount[];
  stdio: StdioPaths;
  options: TaskOptions;
  /** Restore from this checkpoint image at Start instead of creating (docs/protocol.md §12.8). */
  checkpoint: string;
  parentCheckpoint: string;
}

/** A checkpoint as the container takes it: the request's options, with the image path resolved to `path`. */
export type CheckpointParams = Omit<CheckpointRequestOptions, 'imagePath'> & { path: string };

/** A checkpoint image a restore-pending container is started from. */
export interface RestoreSource {
  checkpoint: string;
  parentCheckpoint: string;
}

/** What create() settles about a container before the object exists (its collaborators come apart, as ContainerDeps). */
export interface ContainerSetup {
  id: string;
  bundle: string;
  namespace: string;
  init: ContainerProcess;
  runc: RuncClient;
  options: TaskOptions;
  restoreFrom: RestoreSource | undefined;
  rootfsMounted: boolean;
  /** The container shares a PID namespace: its other processes are killed when init exits. */
  sharedPidNs: boolean;
}

/** What runc is given for a process's stdio. */
export interface RuncIO {
  stdio: RuncStdio;
  consoleSocket?: string;
}

/** True when the spec gives the container no PID namespace of its own (it shares one). */
export async function sharesPidNamespace(bundle: string): Promise<boolean> {
  try {
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8')) as {
      linux?: { namespaces?: Array<{ type?: string; path?: string }> };
    };
    const pidNs = spec.linux?.namespaces?.find((ns) => ns.type === 'pid');
    return !pidNs || !!pidNs.path;
  } catch {
    return false;
  }
}
