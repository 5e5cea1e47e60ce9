// A fresh clone must stay clean after scripts/ensure-deps.sh: the tracked lock has to be exactly what
// the npm that installs it writes back (npm 11 adds every platform's optional packages, e.g. rollup's).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'tsshim-lock-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('npm install leaves the tracked package-lock.json unchanged', () => {
  // With the workspace packages' manifests, which the lock records too.
  mkdirSync(join(scratch, 'packages', 'ttrpc-ts'), { recursive: true });
  for (const file of ['package.json', 'package-lock.json', 'packages/ttrpc-ts/package.json'])
    copyFileSync(join(repo, file), join(scratch, file));
  // The lock alone, from npm's cache where it can: the same resolution ensure-deps' `npm install` does.
  execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: scratch,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 120_000,
  });
  const rewritten = readFileSync(join(scratch, 'package-lock.json'), 'utf8');
  expect(rewritten === readFileSync(join(repo, 'package-lock.json'), 'utf8'), 'npm rewrote package-lock.json').toBe(true);
}, 150_000);
