// `-v` in the Go shim's layout (containerd's pkg/shim prints the binary's name, Version, Revision and Go
// version): the version is package.json's, the revision the git commit the build was made from, then
// Node's version. Every form reports the same build: the launcher (dist/), the single executable, and
// the sources run directly. Needs `npm run build`.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no declarations
import { buildInfo } from '../../scripts/build-info.mjs';
import { RuncShimManager } from '../../src/task/manager.js';

const repo = join(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string };
const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();

/** The -v text, as the Go shim lays it out, for a revision matching `revision`. */
function versionPattern(revision: string): RegExp {
  return new RegExp(
    `^containerd-shim-tsshim-v2:\\n  Version:  ${version.replace(/\./g, '\\.')}\\n  Revision: ${revision}\\n` +
      `  Node version: ${process.version.replace(/\./g, '\\.')}\\n\\n$`,
  );
}

function dashV(binary: string): string {
  const r = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

describe('-v', () => {
  it('the launcher and the single executable print version, a 40-hex revision (".m": built from a changed tree) and Node version, the same build for both', () => {
    const launcher = dashV(join(repo, 'dist/containerd-shim-tsshim-v2'));
    expect(launcher).toMatch(versionPattern('[0-9a-f]{40}(\\.m)?'));
    const revision = /Revision: (\S+)/.exec(launcher)![1]!;
    // A commit of this repository (the build may predate the latest one).
    expect(() => git('cat-file', '-e', `${revision.replace(/\.m$/, '')}^{commit}`)).not.toThrow();
    expect(dashV(join(repo, 'dist/sea/containerd-shim-tsshim-v2'))).toBe(launcher);
  });

  it('the build records HEAD, with ".m" exactly when tracked files changed; outside a git tree "unknown"', () => {
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    expect(buildInfo(repo)).toEqual({ version, revision: `${git('rev-parse', 'HEAD')}${dirty ? '.m' : ''}` });
    const outside = mkdtempSync(join(tmpdir(), 'tsshim-nogit-'));
    try {
      cpSync(join(repo, 'package.json'), join(outside, 'package.json'));
      expect(buildInfo(outside)).toEqual({ version, revision: 'unknown' });
      writeFileSync(join(outside, 'package.json'), JSON.stringify({ version: '9.8.7' }));
      expect(buildInfo(outside).version).toBe('9.8.7');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("run from the sources, the manager reports package.json's version and revision unknown", () => {
    const manager = new RuncShimManager();
    expect({ version: manager.version, revision: manager.revision }).toEqual({ version, revision: 'unknown' });
  });
});

describe('README "Error messages": what the binary run by hand prints', () => {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const shim = join(repo, 'dist/containerd-shim-tsshim-v2');

  it('without -namespace: "shim namespace cannot be empty"; an unknown action: unknown action "..."', () => {
    const noNamespace = spawnSync(shim, ['-id', 'x', 'delete'], { encoding: 'utf8', cwd: tmpdir() });
    expect(noNamespace.stderr).toBe('shim namespace cannot be empty\n');
    expect(noNamespace.status).toBe(1);
    const unknown = spawnSync(shim, ['-namespace', 'n', 'frobnicate'], { encoding: 'utf8' });
    expect(unknown.stderr).toBe('unknown action "frobnicate"\n');
    expect(unknown.status).toBe(2);
    expect(readme).toContain('| `shim namespace cannot be empty` |');
    expect(readme).toContain('| `unknown action "..."` |');
  });

  it('the other messages the table quotes are the ones the code prints', () => {
    const sources = [
      readFileSync(join(repo, 'native/launcher.c'), 'utf8'),
      readFileSync(join(repo, 'src/shim/start-input.ts'), 'utf8'),
      readFileSync(join(repo, 'src/task/container.ts'), 'utf8'),
    ]
      .join('\n')
      // A message split over lines as template literals joined by +, read as one (however it is wrapped).
      .replace(/`\s*\+\s*`/g, '');
    expect(sources).toContain('tsshim: the spare daemon ended while it handled start\\n');
    expect(readme).toContain('| `tsshim: the spare daemon ended while it handled start` |');
    expect(sources).toContain("start: stdin is neither runtime options (a google.protobuf.Any) nor containerd 2.3's BootstrapParams: ");
    expect(readme).toContain(
      "| `start: stdin is neither runtime options (a google.protobuf.Any) nor containerd 2.3's BootstrapParams ...` |",
    );
  });
});
