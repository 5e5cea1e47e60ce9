// A runc that records its argv: tests name it as a runtime's BinaryName and read what runc was asked.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellQuote } from './exec.js';

export interface RuncRecorder {
  /** The wrapper to name as the runc binary. */
  path: string;
  /** One line per runc call so far ("--root ... create ..."), oldest first. */
  calls(): string[];
}

/** Writes `<dir>/<name>`, a shell wrapper that appends its arguments to `<dir>/<name>.argv`, then runs the real runc. */
export function recordingRunc(dir: string, name: string, runc = '/usr/sbin/runc'): RuncRecorder {
  const path = join(dir, name);
  const log = join(dir, `${name}.argv`);
  writeFileSync(path, `#!/bin/sh\necho "$*" >> ${shellQuote(log)}\nexec ${shellQuote(runc)} "$@"\n`);
  chmodSync(path, 0o755);
  return {
    path,
    calls: () => {
      try {
        return readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l !== '');
      } catch {
        return []; // no call yet
      }
    },
  };
}
