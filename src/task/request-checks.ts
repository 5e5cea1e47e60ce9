// What a Task request must satisfy before a handler acts on it, checked at the service's edge:
// ids that are containerd identifiers (they become path components), a bundle and stdio paths that exist,
// and Any fields that decode. Each failure names the field.
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { TaskMethodName } from '../api/index.js';
import { invalidArgument, notFound, toTtrpcError } from '../shim/errdefs.js';
import { identifierProblem } from '../shim/identifiers.js';
import { Code } from 'ttrpc-ts';
import { parseStdioScheme, type StdioPaths } from '../stdio/process-io.js';

/** Methods that do not name a container and may carry an empty id. */
const idMayBeEmpty: ReadonlySet<TaskMethodName> = new Set(['Connect', 'Shutdown']);

/** The `id` and `exec_id` of a decoded request (an empty exec id is the init process, except for Exec). */
export function checkIdentifiers(method: TaskMethodName, request: { id?: unknown; execId?: unknown }): void {
  if (typeof request.id === 'string' && !(request.id === '' && idMayBeEmpty.has(method))) {
    checkIdentifier('id', request.id);
  }
  if (typeof request.execId === 'string' && (request.execId !== '' || method === 'Exec')) {
    checkIdentifier('exec_id', request.execId);
  }
}

/** Request fields that hold paths (proto names as the decoded message has them). */
const pathFields = ['bundle', 'stdin', 'stdout', 'stderr', 'checkpoint', 'parentCheckpoint', 'path'] as const;

/** No path can hold a NUL byte (the kernel would cut it there; Node refuses it). */
export function checkPathFields(request: Partial<Record<(typeof pathFields)[number], unknown>>): void {
  for (const field of pathFields) {
    const value = request[field];
    if (typeof value === 'string' && value.includes('\0')) {
      throw invalidArgument(`${field} ${JSON.stringify(value)} contains a NUL byte`);
    }
  }
}

function checkIdentifier(field: string, value: string): void {
  const problem = identifierProblem(value);
  if (problem !== undefined) throw invalidArgument(`invalid ${field} ${JSON.stringify(value)}: ${problem}`);
}

/** containerd made the bundle directory before it started the shim: a missing one is NotFound, not a failed write. */
export function checkBundle(bundle: string): void {
  if (!isAbsolute(bundle)) throw invalidArgument(`bundle ${JSON.stringify(bundle)} is not an absolute path`);
  const stat = statSync(bundle, { throwIfNoEntry: false });
  if (stat === undefined) throw notFound(`bundle ${JSON.stringify(bundle)} does not exist`);
  if (!stat.isDirectory()) throw invalidArgument(`bundle ${JSON.stringify(bundle)} is not a directory`);
}

/**
 * The client creates its FIFOs (or files) before Create and Exec; a path that is not there is
 * NotFound now rather than a file the shim would create or a failure deep in the stdio setup.
 * file:// and binary:// targets are the shim's to create or run.
 */
export function checkStdioPaths(paths: StdioPaths): void {
  const stdout = parseStdioScheme(paths.stdout);
  const expected: [string, string][] = [['stdin', paths.stdin]];
  if (stdout.scheme === 'fifo') expected.push(['stdout', stdout.path]);
  // With a terminal, stderr is the pty too: containerd names a stderr FIFO it never creates.
  if (stdout.scheme === 'fifo' && !paths.terminal) expected.push(['stderr', paths.stderr]);
  for (const [field, path] of expected) {
    if (path && statSync(path, { throwIfNoEntry: false }) === undefined) {
      throw notFound(`${field} ${JSON.stringify(path)} does not exist`);
    }
  }
}

/** Reads an Any (or other encoded) field; malformed content is InvalidArgument naming the field. */
export function readField<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    const mapped = toTtrpcError(err);
    if (mapped.code === Code.InvalidArgument) throw invalidArgument(`${field}: ${mapped.message}`);
    throw err;
  }
}
