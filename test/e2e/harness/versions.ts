// The containerd versions the e2e suites run against, and where their binaries are:
// 1.6 is the system's (Debian bookworm), 1.7 and 2.1 are unpacked by scripts/ensure-deps.sh from the
// archive's trixie and sid suites into <cache>/containerd-<suite>/root/usr/bin with a VERSION file.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, ensureDepsHint } from './paths.js';

export const containerdVersions = ['1.6', '1.7', '2.1'] as const;
export type ContainerdVersion = (typeof containerdVersions)[number];

export interface ContainerdBinaries {
  version: ContainerdVersion;
  /** Full upstream version, e.g. 1.7.24. */
  fullVersion: string;
  /** Holds containerd, ctr and containerd-shim-runc-v2 of this version. */
  binDir: string;
  containerd: string;
  ctr: string;
}

export class MissingContainerdError extends Error {
  constructor(version: string, looked: readonly string[]) {
    super(
      `containerd ${version} binaries not found (looked in ${looked.join(', ')}; 1.7 and 2.x are unpacked into ` +
        `${cacheDir}/containerd-<suite>/root/usr/bin): ${ensureDepsHint}`,
    );
    this.name = 'MissingContainerdError';
  }
}

export function isContainerdVersion(v: string): v is ContainerdVersion {
  return (containerdVersions as readonly string[]).includes(v);
}

/** TSSHIM_CONTAINERD=1.6|1.7|2.1|all (default all; a comma-separated list works too). */
export function selectedContainerdVersions(env: string | undefined = process.env.TSSHIM_CONTAINERD): ContainerdVersion[] {
  const wanted = (env ?? 'all')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (wanted.length === 0 || wanted.includes('all')) return [...containerdVersions];
  const bad = wanted.filter((w) => !isContainerdVersion(w));
  if (bad.length > 0) throw new Error(`TSSHIM_CONTAINERD: unknown version ${bad.join(', ')} (use ${containerdVersions.join('|')}|all)`);
  return wanted.filter(isContainerdVersion);
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasAllBinaries(binDir: string): boolean {
  return ['containerd', 'ctr', 'containerd-shim-runc-v2'].every((b) => executable(join(binDir, b)));
}

/** "containerd github.com/containerd/containerd 1.6.20~ds1 ..." -> "1.6.20" */
function versionOfBinary(containerd: string): string | undefined {
  try {
    const out = execFileSync(containerd, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return out
      .split(/\s+/)[2]
      ?.replace(/^v/, '')
      .replace(/[~+-].*$/, '');
  } catch {
    return undefined;
  }
}

interface Candidate {
  binDir: string;
  fullVersion: () => string | undefined;
}

function candidates(): Candidate[] {
  const list: Candidate[] = [{ binDir: '/usr/bin', fullVersion: () => versionOfBinary('/usr/bin/containerd') }];
  let entries: string[] = [];
  try {
    entries = readdirSync(cacheDir)
      .filter((e) => e.startsWith('containerd-'))
      .sort();
  } catch {
    // no cache yet: only the system containerd
  }
  for (const e of entries) {
    const dir = join(cacheDir, e);
    list.push({
      binDir: join(dir, 'root/usr/bin'),
      fullVersion: () => {
        try {
          return readFileSync(join(dir, 'VERSION'), 'utf8').trim();
        } catch {
          return undefined;
        }
      },
    });
  }
  return list;
}

const resolved = new Map<ContainerdVersion, ContainerdBinaries>();

/** Finds the binaries of a containerd major.minor, or throws MissingContainerdError. */
export function findContainerd(version: ContainerdVersion): ContainerdBinaries {
  const known = resolved.get(version);
  if (known) return known;
  const looked: string[] = [];
  for (const c of candidates()) {
    looked.push(c.binDir);
    if (!hasAllBinaries(c.binDir)) continue;
    const fullVersion = c.fullVersion();
    if (fullVersion === undefined || !fullVersion.startsWith(`${version}.`)) continue;
    const found = { version, fullVersion, binDir: c.binDir, containerd: join(c.binDir, 'containerd'), ctr: join(c.binDir, 'ctr') };
    resolved.set(version, found);
    return found;
  }
  throw new MissingContainerdError(version, looked);
}
