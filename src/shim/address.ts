// Where a shim listens (docs/protocol.md §3.3, §15): <dir>/<sha256(address/ns/group)>, where <dir> is
// /run/containerd/s unless containerd 2.3+ names another in BootstrapParams.socket_dir.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

/** The compile-time state dir of containerd; the same for every containerd instance on a host. */
export const socketDir = '/run/containerd/s';
/**
 * The longest socket directory containerd 2.3 accepts on Linux: a unix socket path holds 107
 * bytes, and the directory is followed by '/' and a 64-character hash.
 */
export const maxSocketDirLength = 42;

/** `<dir>/<hex>`: where the shim of one containerd, namespace and grouping key listens. */
export function groupSocketPath(containerdAddress: string, namespace: string, group: string, dir = socketDir): string {
  // Go's filepath.Join cleans the result, so no doubled or trailing slashes take part in the hash.
  const key = posix.join(containerdAddress, namespace, group);
  return posix.join(dir, createHash('sha256').update(key).digest('hex'));
}

/** The address containerd dials for the socket at `path` (ttrpc-ts's socketPathFromAddress reads it back). */
export function unixAddress(path: string): string {
  return `unix://${path}`;
}

/**
 * The socket directory containerd asked for (cleaned), or the default when it named none; the
 * rules containerd applies to its own `socket_dir` setting: absolute, at most 42 bytes.
 */
export function requestedSocketDir(requested: string | undefined): string {
  if (!requested) return socketDir;
  if (!posix.isAbsolute(requested)) throw new Error(`socket_dir must be an absolute path: ${JSON.stringify(requested)}`);
  const dir = posix.normalize(requested).replace(/(.)\/+$/, '$1');
  const length = Buffer.byteLength(dir);
  if (length > maxSocketDirLength) {
    throw new Error(
      `socket_dir ${JSON.stringify(dir)} is ${length} bytes; at most ${maxSocketDirLength} leave room for the socket name in a unix socket path`,
    );
  }
  return dir;
}

/** FNV-1a, 64 bit, of the UTF-8 bytes of `text`, as 16 hex digits (native/launcher.c computes the same). */
function fnv1a64Hex(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Where spare daemons listen (native/launcher.c has the same path). */
export const spareDir = '/run/containerd/tsshim';

/** Where the spare daemon of the containerd at `containerdAddress` listens for `start` calls. */
export function spareSocketPath(containerdAddress: string): string {
  return posix.join(spareDir, `tsshim-spare-${fnv1a64Hex(containerdAddress)}`);
}
