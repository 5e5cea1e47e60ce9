// What `start` prints (docs/protocol.md §1, §3.2, §11.2, §15). containerd 1.6 reads only a plain address;
// 1.7 accepts JSON version 2; 2.x accepts version 3, and with it attaches a pod's containers to
// the sandbox's shim without running `start` again for each of them. No environment variable
// tells 1.7 from 2.x (MAX_SHIM_VERSION is 2 in both), so we ask the containerd binary that
// started us (-publish-binary) for its version, once per binary: the answer is cached.
// containerd 2.3+ says its version in BootstrapParams and reads a binary BootstrapResult first:
// that is the answer to BootstrapParams, and only to it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { socketDir } from './address.js';
import { MessageWriter } from './proto-wire.js';
import type { StartInput } from './start-input.js';

/** TSSHIM_BOOTSTRAP_VERSION=2 keeps the plain address on every containerd (3 forces JSON v3). */
const bootstrapVersionEnv = 'TSSHIM_BOOTSTRAP_VERSION';

/** containerd's major version, from `<binary> --version`; 0 when it cannot be told. */
export function containerdMajorVersion(binary: string, cacheDir = socketDir): number {
  if (!binary) return 0;
  let key: string;
  try {
    const st = statSync(binary);
    key = createHash('sha256').update(`${binary}\0${st.size}\0${st.mtimeMs}\0${st.ino}`).digest('hex').slice(0, 24);
  } catch {
    return 0;
  }
  const cache = join(cacheDir, `.tsshim-containerd-${key}`);
  try {
    return Number.parseInt(readFileSync(cache, 'utf8'), 10) || 0;
  } catch {
    // not cached yet
  }
  let major = 0;
  try {
    // "containerd github.com/containerd/containerd/v2 2.1.9 ..." / "... containerd 1.7.24 ..."
    const out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    major = Number(/\s(\d+)\.\d+\.\d+/.exec(out)?.[1] ?? 0);
  } catch {
    return 0;
  }
  try {
    const tmp = `${cache}.${process.pid}`;
    writeFileSync(tmp, String(major));
    renameSync(tmp, cache);
  } catch {
    // an unwritable cache only costs the next start the same question
  }
  return major;
}

/** The major version in a version string as containerd reports it ("2.3.4+unknown", "v2.3.0"); 0 if none. */
function majorOfVersion(version: string): number {
  return Number(/^v?(\d+)\.\d+/.exec(version.trim())?.[1] ?? 0);
}

/**
 * The bootstrap version to answer: 3 for containerd 2.x, else 2 (TSSHIM_BOOTSTRAP_VERSION forces it).
 * `knownVersion` (BootstrapParams.containerd_version) spares asking the binary.
 */
function bootstrapVersion(publishBinary: string, env: NodeJS.ProcessEnv = process.env, cacheDir = socketDir, knownVersion = ''): 2 | 3 {
  const forced = env[bootstrapVersionEnv];
  if (forced === '2' || forced === '3') return forced === '3' ? 3 : 2;
  const major = majorOfVersion(knownVersion) || containerdMajorVersion(publishBinary, cacheDir);
  return major >= 2 ? 3 : 2;
}

/** The text `start` prints for `address`, for the containerd at `publishBinary` (1.x-2.2 forms). */
export function bootstrapOutput(
  address: string,
  publishBinary: string,
  env: NodeJS.ProcessEnv = process.env,
  cacheDir = socketDir,
  knownVersion = '',
): string {
  return bootstrapVersion(publishBinary, env, cacheDir, knownVersion) === 3
    ? JSON.stringify({ version: 3, address, protocol: 'ttrpc' })
    : address;
}

/** containerd.runtime.bootstrap.v1.BootstrapResult{version, address, protocol: "ttrpc"}, encoded. */
export function encodeBootstrapResult(version: number, address: string): Uint8Array {
  return new MessageWriter().int32(1, version).string(2, address).string(3, 'ttrpc').finish();
}

/**
 * What `start` writes: to containerd 2.3's BootstrapParams a BootstrapResult (its version from
 * containerd_version), otherwise the text of bootstrapOutput. The bytes go out as they are: a
 * trailing newline would corrupt the protobuf.
 */
export function startOutput(
  address: string,
  input: StartInput,
  publishBinary: string,
  env: NodeJS.ProcessEnv = process.env,
  cacheDir = socketDir,
): Uint8Array {
  if (input.form !== 'bootstrap') return Buffer.from(bootstrapOutput(address, publishBinary, env, cacheDir));
  const { containerdVersion, containerdBinary } = input.params;
  return encodeBootstrapResult(bootstrapVersion(containerdBinary || publishBinary, env, cacheDir, containerdVersion), address);
}
