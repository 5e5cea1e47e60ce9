// The shim as users install it: the npm package (`npm pack`, then `npm install -g` into a prefix) and
// the release archive (`npm run release`), made from this worktree's dist/ as it is (TSSHIM_PREBUILT=1:
// the build itself is what every other test runs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export const packageVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(file, args, {
    cwd,
    env: { ...process.env, TSSHIM_PREBUILT: '1', ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `npm pack` at the repository root into `dest`; the tarball's path. Each call is a distinct build. */
export function packTarball(dest: string): string {
  mkdirSync(dest, { recursive: true });
  const name = run('npm', ['pack', '--pack-destination', dest], repoRoot).trim().split('\n').pop()!;
  return join(dest, name);
}

/** npm's settings for a private global prefix, offline: the only source is the tarball. */
function npmPrefixEnv(prefix: string): Record<string, string> {
  return {
    npm_config_prefix: prefix,
    npm_config_offline: 'true',
    npm_config_cache: join(prefix, '.npm-cache'),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

/** The environment in which `npm install -g` / `npm uninstall -g` and the shim's name use `prefix`. */
export function prefixEnv(prefix: string): NodeJS.ProcessEnv {
  return { ...process.env, ...npmPrefixEnv(prefix), PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
}

/** Runs a README command block with `sh -e` in `cwd`; its stdout. */
export function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync('sh', ['-ec', script], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The installed package's directory under a global prefix. */
export const installedPackageDir = (prefix: string): string => join(prefix, 'lib', 'node_modules', 'tsshim');

/** The build directory of an installed package: dist/npm/<id>/ (scripts/pack.mjs). */
export function installedBuildDir(prefix: string): string {
  const npmDir = join(installedPackageDir(prefix), 'dist', 'npm');
  const builds = readdirSync(npmDir, { withFileTypes: true }).filter((e) => e.isDirectory());
  if (builds.length !== 1) throw new Error(`${npmDir}: expected one build directory, found ${builds.map((b) => b.name).join(', ')}`);
  return join(npmDir, builds[0]!.name);
}

/** `npm run release -- --out dest`; the archive's path. */
export function releaseArchive(dest: string): string {
  run('npm', ['run', '--silent', 'release', '--', '--out', dest], repoRoot);
  const archive = readdirSync(dest).find((f) => f.endsWith('.tar.gz'));
  if (!archive) throw new Error(`npm run release wrote no archive into ${dest}`);
  return join(dest, archive);
}

/** The files a process has mapped (its executable, the addon it loaded...), " (deleted)" kept. */
export function mappedFiles(pid: number): string[] {
  return [
    ...new Set(
      readFileSync(`/proc/${pid}/maps`, 'utf8')
        .split('\n')
        .map((l) => l.split(/\s+/).slice(5).join(' '))
        .filter((f) => f.startsWith('/')),
    ),
  ];
}
