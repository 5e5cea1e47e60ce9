/**
 * `npm pack` of packages/ttrpc-ts gives a package that installs (offline once npm's cache has protobufjs) into an empty project, and the
 * README's example (a server and a client over a unix socket) runs there and prints what the README says.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..', '..', 'packages', 'ttrpc-ts');
const scratch = mkdtempSync(join(tmpdir(), 'ttrpc-ts-pack-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 180_000 });

it('npm pack, npm install <tgz> offline into an empty project, and the README example runs there', () => {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], packageDir)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const tarball = join(scratch, packed[0]!.filename);
  const files = packed[0]!.files.map((f) => f.path).sort();
  expect(files).toContain('dist/index.js');
  expect(files).toContain('dist/index.d.ts');
  expect(files).toContain('README.md');
  expect(files.filter((f) => !f.startsWith('dist/') && !['README.md', 'package.json'].includes(f))).toEqual([]);

  const project = join(scratch, 'project');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ttrpc-ts-consumer', private: true, type: 'module' }));
  // Offline when npm's cache knows protobufjs and its dependencies (after any install of them from the
  // registry); a machine whose cache holds only the tarballs the repository's lock named fetches their
  // metadata once.
  try {
    npm(['install', '--offline', tarball], project);
  } catch (error) {
    if (!String((error as { stderr?: unknown }).stderr).includes('ENOTCACHED')) throw error;
    npm(['install', '--prefer-offline', tarball], project);
  }
  expect(readdirSync(join(project, 'node_modules', 'ttrpc-ts', 'dist'))).toContain('server.js');

  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const example = /```js\n(\/\/ example\.mjs[\s\S]*?)```/.exec(readme)?.[1];
  const expected = /It prints:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example, 'the README has the example').toBeDefined();
  writeFileSync(join(project, 'example.mjs'), example!);
  const output = execFileSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8', timeout: 30_000 });
  expect(output).toBe(expected);
}, 300_000);
