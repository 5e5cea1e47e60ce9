// Where a shim listens (docs/protocol.md §3.3): /run/containerd/s/<sha256(address/ns/group)>.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

/** The compile-time state dir of containerd; the same for every containerd instance on a host. */
export const socketDir = '/run/containerd/s';
const unixPrefix = 'unix://';

/** `unix:///run/containerd/s/<hex>` for one containerd, namespace and grouping key. */
export function socketAddress(containerdAddress: string, namespace: string, group: string): string {
  // Go's filepath.Join cleans the result, so no doubled or trailing slashes take part in the hash.
  const key = posix.join(containerdAddress, namespace, group);
  return unixPrefix + posix.join(socketDir, createHash('sha256').update(key).digest('hex'));
}

/** The filesystem path of a `unix://` address; anything else is refused (it would be abstract). */
export function socketPath(address: string): string {
  if (!address.startsWith(unixPrefix)) throw new Error(`not a unix:// socket address: ${address}`);
  return address.slice(unixPrefix.length);
}

/** FNV-1a, 64 bit, of the UTF-8 bytes of `text`, as 16 hex digits (native/launcher.c computes the same). */
export function fnv1a64Hex(text: string): string {
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
