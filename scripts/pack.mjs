#!/usr/bin/env node
// `npm pack`'s prepack step: the npm package's layout in dist/npm/, which package.json's `files` and
// `bin` name. npm keeps no symlinks, so the build goes in a plain directory named by a fresh id,
// dist/npm/<id>/ (shim.mjs, chunks/, tsshim.node, copied from dist/current), and the launcher
// dist/npm/containerd-shim-tsshim-v2 is compiled to run <id>/shim.mjs with the `node` on PATH. The id
// makes each package a distinct build: after an upgrade the old build's spare daemons decline the new
// launcher's calls (docs/architecture.md §13). Builds first; TSSHIM_PREBUILT=1 packs dist/current
// as it is. The dist/ layout of a clone (builds/, current, the launcher) is left untouched.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const step = (what) => process.stderr.write(`pack: ${what}\n`);
const run = (cmd, argv) => execFileSync(cmd, argv, { stdio: ['ignore', 2, 2], cwd: root });

if (process.env.TSSHIM_PREBUILT !== '1') run(process.execPath, ['scripts/build.mjs']);
const current = realpathSync(join(root, 'dist', 'current'));
for (const file of ['shim.mjs', 'tsshim.node']) {
  if (!existsSync(join(current, file))) throw new Error(`pack: ${join(current, file)} is missing: run npm run build`);
}
const id = `${Date.now().toString(36)}-${process.pid}`;
const out = join(root, 'dist', 'npm');
const staging = join(root, 'dist', `.npm-${id}`);
mkdirSync(staging, { recursive: true });
try {
  cpSync(current, join(staging, id), { recursive: true });
  run('cc', [
    '-O2',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-std=gnu11',
    '-DTSSHIM_NODE="node"',
    `-DTSSHIM_ENTRY="${id}/shim.mjs"`,
    '-o',
    join(staging, 'containerd-shim-tsshim-v2'),
    'native/launcher.c',
  ]);
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
} catch (err) {
  rmSync(staging, { recursive: true, force: true });
  throw err;
}
step(`wrote ${out} (build ${id})`);
