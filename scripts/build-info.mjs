// The build's version and git revision, compiled into the bundles (src/shim/build-info.ts reads them):
// the version from package.json only, the revision as containerd records its own (the commit, ".m" when
// the tree has uncommitted changes), "unknown" outside a git tree.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function buildInfo(root) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  let revision = 'unknown';
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    revision = git('rev-parse', 'HEAD');
    if (git('status', '--porcelain', '--untracked-files=no') !== '') revision += '.m';
  } catch {
    // not a git tree, or no git
  }
  return { version, revision };
}

/** The esbuild flag that compiles it in. */
export const buildInfoDefine = (root) => `--define:__TSSHIM_BUILD_INFO__=${JSON.stringify(buildInfo(root))}`;
