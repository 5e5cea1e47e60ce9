// The runtime options of a task: containerd.runc.v1.Options, or runtimeoptions.v1.Options as CRI
// sends for non-runc runtime types (docs/protocol.md §8.3, §14). Persisting them in the bundle (so that
// `delete` after a crash uses the same runc binary and root) is bundle-files.ts, which `delete`
// loads without the protobuf codecs this module needs.
import { readFileSync } from 'node:fs';
import {
  CheckpointOptionsType,
  LinuxRuncCheckpointOptionsType,
  LinuxRuncCreateOptionsType,
  RuncOptionsType,
  RuntimeOptionsType,
  google,
  isAnyOf,
  unpackAny,
  type AnyMessage,
} from '../api/index.js';
import { invalidArgument } from '../shim/errdefs.js';
import type { StartInput } from '../shim/start-input.js';
import { defaultOptions, type TaskOptions } from './bundle-files.js';
import { applyTomlOptions } from './runtime-options-toml.js';

function readTomlFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw invalidArgument(`cannot read runtime options file ${path}: ${(err as Error).message}`);
  }
}

export { defaultOptions, persistOptions, type TaskOptions } from './bundle-files.js';

/** Decodes the options Any of CreateTaskRequest (absent or empty: defaults). */
export function decodeOptions(any: AnyMessage | null | undefined): TaskOptions {
  const options = defaultOptions();
  if (!any || (!any.type_url && !any.value?.length)) return options;
  if (isAnyOf(any, RuncOptionsType)) {
    const o = unpackAny(RuncOptionsType, any);
    options.binaryName = o.binaryName || options.binaryName;
    options.root = o.root || options.root;
    options.systemdCgroup = o.systemdCgroup;
    return copySharedFields(options, o);
  }
  if (isAnyOf(any, LinuxRuncCreateOptionsType)) {
    // The client library's options for runtimes that are not io.containerd.runc.*: same keys
    // where they overlap (WithUIDOwner sets io_uid here for us).
    return copySharedFields(options, unpackAny(LinuxRuncCreateOptionsType, any));
  }
  if (isAnyOf(any, RuntimeOptionsType)) {
    // CRI's wrapper for non-runc runtime types: the handler's options table as TOML.
    const o = unpackAny(RuntimeOptionsType, any);
    const body = o.configBody?.length ? Buffer.from(o.configBody).toString('utf8') : o.configPath ? readTomlFile(o.configPath) : '';
    return applyTomlOptions(options, body);
  }
  throw invalidArgument(`unsupported runtime options type ${JSON.stringify(any.type_url)}`);
}

/** The fields containerd.runc.v1.Options and containerd.linux.runc.CreateOptions share. */
const sharedFields = ['noPivotRoot', 'noNewKeyring', 'shimCgroup', 'ioUid', 'ioGid', 'criuImagePath', 'criuWorkPath'] as const;
type SharedFields = Pick<TaskOptions, (typeof sharedFields)[number]>;

function copySharedFields(options: TaskOptions, from: SharedFields): TaskOptions {
  for (const field of sharedFields) (options as Record<keyof SharedFields, unknown>)[field] = from[field];
  return options;
}

/**
 * The checkpoint image a Create asks to restore from. containerd 1.6/1.7 leave
 * CreateTaskRequest.checkpoint empty for runtimes not named io.containerd.runc.* and the client's
 * WithRestoreImagePath puts the path only in containerd.linux.runc.CreateOptions.criu_image_path;
 * that explicit path wins over a checkpoint containerd unpacked (2.x passes the same path in both).
 * A criu_image_path from runc Options or a handler's TOML is no restore request: containerd reads
 * that one itself (2.x) or, for runtime options, never (as for containerd-shim-runc-v2).
 */
export function restorePathOf(any: AnyMessage | null | undefined, checkpoint: string): string {
  if (isAnyOf(any, LinuxRuncCreateOptionsType) && any) {
    return unpackAny(LinuxRuncCreateOptionsType, any).criuImagePath || checkpoint;
  }
  return checkpoint;
}

/** What a CheckpointTaskRequest's options ask for, whichever type carried them. */
export interface CheckpointRequestOptions {
  exit: boolean;
  openTcp: boolean;
  externalUnixSockets: boolean;
  terminal: boolean;
  fileLocks: boolean;
  emptyNamespaces: string[];
  cgroupsMode: string;
  imagePath: string;
  workPath: string;
}

/**
 * CheckpointTaskRequest.options: containerd.runc.v1.CheckpointOptions, or (clients of containerd
 * 1.6/1.7, runtimes not named io.containerd.runc.*) containerd.linux.runc.CheckpointOptions, whose
 * image_path and work_path swap field numbers; the decoded fields have the same names. Absent or
 * empty: defaults.
 */
export function decodeCheckpointOptions(any: AnyMessage | null | undefined): CheckpointRequestOptions {
  const decoded =
    !any || (!any.type_url && !any.value?.length)
      ? CheckpointOptionsType.codec.decode(new Uint8Array())
      : isAnyOf(any, CheckpointOptionsType)
        ? unpackAny(CheckpointOptionsType, any)
        : isAnyOf(any, LinuxRuncCheckpointOptionsType)
          ? unpackAny(LinuxRuncCheckpointOptionsType, any)
          : undefined;
  if (!decoded) throw invalidArgument(`unsupported checkpoint options type ${JSON.stringify(any?.type_url)}`);
  return {
    exit: decoded.exit,
    openTcp: decoded.openTcp,
    externalUnixSockets: decoded.externalUnixSockets,
    terminal: decoded.terminal,
    fileLocks: decoded.fileLocks,
    emptyNamespaces: decoded.emptyNamespaces,
    cgroupsMode: decoded.cgroupsMode,
    imagePath: decoded.imagePath,
    workPath: decoded.workPath,
  };
}

/** An Any read from stdin (`-info`); garbage is InvalidArgument with the decoder's reason. */
export function decodeAny(bytes: Uint8Array): AnyMessage {
  try {
    return google.protobuf.Any.decode(bytes);
  } catch (err) {
    throw invalidArgument(`cannot decode the runtime options Any: ${(err as Error).message}`);
  }
}

/**
 * The runtime options `start` received (src/shim/start-input.ts tells the stdin forms apart, docs/protocol.md §15):
 * the bare Any of containerd <= 2.2 and the BootstrapParams extension of 2.3+ read the same way.
 */
export function decodeStartOptions(input: StartInput): TaskOptions {
  if (!input.options) return defaultOptions();
  return decodeOptions({ type_url: input.options.typeUrl, value: input.options.value });
}
