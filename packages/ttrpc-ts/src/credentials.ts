import type { Socket } from 'node:net';

/** A unix socket peer's credentials, as SO_PEERCRED reports them (taken when the peer connected). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Reads SO_PEERCRED for a connected socket's file descriptor. Node has no API for it, so it comes
 * from a native addon of the application's choice (a few lines of C around getsockopt(2)).
 */
export type PeerCredentialsReader = (fd: number) => PeerCredentials;

/** The file descriptor under a connected net.Socket, or undefined when it has none (not a pipe or socket handle). */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * An `authorize` check (TtrpcServerOptions) that admits peers with the given effective uid and gid
 * (-1: any), like Go's ttrpc.UnixSocketRequireUidGid. A peer whose credentials cannot be read is refused.
 */
export function unixSocketRequireUidGid(uid: number, gid: number, readCredentials: PeerCredentialsReader): (socket: Socket) => boolean {
  return (socket) => {
    const fd = socketFd(socket);
    if (fd === undefined) return false;
    let credentials: PeerCredentials;
    try {
      credentials = readCredentials(fd);
    } catch {
      return false;
    }
    return (uid === -1 || credentials.uid === uid) && (gid === -1 || credentials.gid === gid);
  };
}

/** Admits only peers running as this process's effective user and group (Go: UnixSocketRequireSameUser). */
export function unixSocketRequireSameUser(readCredentials: PeerCredentialsReader): (socket: Socket) => boolean {
  const uid = process.geteuid?.() ?? -1;
  const gid = process.getegid?.() ?? -1;
  return unixSocketRequireUidGid(uid, gid, readCredentials);
}

/** Admits only root peers (Go: UnixSocketRequireRoot). */
export function unixSocketRequireRoot(readCredentials: PeerCredentialsReader): (socket: Socket) => boolean {
  return unixSocketRequireUidGid(0, 0, readCredentials);
}
