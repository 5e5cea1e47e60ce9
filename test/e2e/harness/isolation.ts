// Guard: the e2e containerds share /run/containerd/{s,runc,fifo} with every containerd on the host, so they
// may only run where /run/containerd is a private tmpfs (scripts/test.sh sets that up with unshare -m).
import { readlinkSync } from 'node:fs';
import { mountTypeAt } from './procs.js';

class NotIsolatedError extends Error {
  constructor(why: string) {
    super(
      `e2e tests must run in a private mount namespace with a tmpfs on /run/containerd (${why}): ` +
        'run them through `npm test` / `bash scripts/test.sh [vitest args]`',
    );
    this.name = 'NotIsolatedError';
  }
}

function mountNamespace(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

export function assertPrivateRunContainerd(): void {
  const own = mountNamespace('self');
  if (own !== undefined && own === mountNamespace(1)) throw new NotIsolatedError('this is the host mount namespace');
  const fsType = mountTypeAt('/run/containerd');
  if (fsType !== 'tmpfs') throw new NotIsolatedError(`/run/containerd is ${fsType ? `a ${fsType} mount` : 'not a mount point'}`);
}
