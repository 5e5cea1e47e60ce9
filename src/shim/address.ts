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
