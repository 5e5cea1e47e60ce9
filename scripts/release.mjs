#!/usr/bin/env node
// npm run release: tsshim-<version>-linux-<arch>.tar.gz, the single executable (which needs no Node
// install) with LICENSE, README.md, the configuration snippets of docs/ and SHA256SUMS, all in one
// top directory tsshim-<version>-linux-<arch>/. Builds first (TSSHIM_PREBUILT=1 takes dist/ as it is);
// `-- --out DIR` writes the archive into DIR instead of the repository root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outDir = args[0] === '--out' && args[1] ? resolve(args[1]) : root;
const run = (cmd, argv, cwd = root) => execFileSync(cmd, argv, { stdio: ['ignore', 2, 2], cwd });

if (process.env.TSSHIM_PREBUILT !== '1') run(process.execPath, ['scripts/build.mjs']);
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const name = `tsshim-${version}-linux-${process.arch}`;
const executable = join(root, 'dist', 'sea', 'containerd-shim-tsshim-v2');
if (!existsSync(executable)) throw new Error(`release: ${executable} is missing: run npm run build`);

// What goes in, by its path in the archive: the executable, the texts, the snippets the README shows.
const files = {
  'containerd-shim-tsshim-v2': executable,
  LICENSE: join(root, 'LICENSE'),
  'README.md': join(root, 'README.md'),
  ...Object.fromEntries(
    ['containerd-1.x.toml', 'containerd-2.x.toml', 'runtimeclass.yaml', 'daemon.json', 'ctr-run.sh'].map((f) => [
      `docs/${f}`,
      join(root, 'docs', f),
    ]),
  ),
};
const work = mkdtempSync(join(tmpdir(), 'tsshim-release-'));
try {
  const top = join(work, name);
  const sums = [];
  for (const [path, from] of Object.entries(files)) {
    mkdirSync(dirname(join(top, path)), { recursive: true });
    copyFileSync(from, join(top, path));
    chmodSync(join(top, path), path === 'containerd-shim-tsshim-v2' ? 0o755 : 0o644);
    sums.push(`${createHash('sha256').update(readFileSync(from)).digest('hex')}  ${path}\n`);
  }
  writeFileSync(join(top, 'SHA256SUMS'), sums.sort((a, b) => a.slice(66).localeCompare(b.slice(66))).join(''));
  mkdirSync(outDir, { recursive: true });
  const archive = join(outDir, `${name}.tar.gz`);
  run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-czf', `${archive}.tmp`, name], work);
  run('mv', [`${archive}.tmp`, archive]);
  process.stderr.write(`release: wrote ${archive}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
