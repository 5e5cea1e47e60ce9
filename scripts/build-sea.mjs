#!/usr/bin/env node
// The single executable (docs/architecture.md §12.5): dist/sea/containerd-shim-tsshim-v2, a copy of this
// Node with the shim bundled in as a single executable application and the addon as an asset.
// Run by scripts/build.mjs after it built dist/tsshim.node; alone: `node scripts/build-sea.mjs`.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInfoDefine } from './build-info.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const step = (what) => process.stderr.write(`build-sea: ${what}\n`);
const fail = (what) => {
  process.stderr.write(`build-sea: ${what}\n`);
  process.exit(1);
};
// Output is shown only on failure: node and postject chat on success (postject: LIEF's
// "Can't find string offset for section name '.note'" warnings, harmless).
const sh = (cmd, argv, opts = {}) => {
  try {
    execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: root, ...opts });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    fail(`failed: ${cmd} ${argv.join(' ')} (${err.status ?? err.signal ?? err.code})`);
  }
};

const t0 = performance.now();
const addon = join(root, 'dist', 'tsshim.node');
if (!existsSync(addon)) fail(`${addon} is missing: run npm run build first`);
const outDir = join(root, 'dist', 'sea');
const output = join(outDir, 'containerd-shim-tsshim-v2');
mkdirSync(outDir, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'tsshim-sea-'));
const temp = join(outDir, `.containerd-shim-tsshim-v2.${process.pid}.tmp`);
try {
  // 1. The shim as one CommonJS script (a Node 20 SEA cannot load ESM nor other files); import.meta.url
  //    (used by native.ts) does not exist in CommonJS: it becomes the executable's URL.
  const addonSha256 = createHash('sha256').update(readFileSync(addon)).digest('hex');
  const shim = join(work, 'shim.cjs');
  const loader = join(work, 'loader.cjs');
  step('bundle (cjs)');
  const esbuild = (entry, outfile, extra) =>
    sh(bin('esbuild'), [
      entry,
      '--bundle',
      '--platform=node',
      '--format=cjs',
      '--target=node20',
      `--outfile=${outfile}`,
      '--log-level=warning',
      '--legal-comments=none',
      '--alias:ttrpc-ts=./packages/ttrpc-ts/src/index.ts',
      ...extra,
    ]); // the workspace package, from source (as in build.mjs)
  esbuild('src/cmd/sea-main.ts', shim, [
    '--external:pino-pretty',
    buildInfoDefine(root),
    `--define:__TSSHIM_ADDON_SHA256__="${addonSha256}"`,
    '--define:import.meta.url=__tsshimExecutableUrl',
    "--banner:js=const __tsshimExecutableUrl = require('node:url').pathToFileURL(process.execPath).href;",
  ]);
  esbuild('src/cmd/sea-loader.ts', loader, []);

  // 2. V8's code cache for the shim (about 15 ms of CPU less at every start), made by this same node,
  //    for the exact text src/cmd/sea-loader.ts compiles (same wrapper, same file name). V8 takes a
  //    cache only under the flags it was made with: one without flags (start, delete), one with the
  //    NODE_OPTIONS that `start` gives the daemon (daemonNodeFlags, read from the bundled daemon-env.ts).
  const cleanEnv = { ...process.env };
  delete cleanEnv.NODE_OPTIONS;
  const startModule = join(work, 'daemon-env.cjs');
  esbuild('src/shim/daemon-env.ts', startModule, []);
  const daemonNodeOptions = execFileSync(process.execPath, ['-p', 'require(process.argv[1]).daemonNodeFlags.join(" ")', startModule], {
    env: cleanEnv,
    encoding: 'utf8',
  }).trim();
  step(`code caches (daemon NODE_OPTIONS: ${daemonNodeOptions || 'none'})`);
  const makeCache = (cache, nodeOptions) =>
    sh(
      process.execPath,
      [
        '-e',
        `
    const { Script } = require('node:vm');
    const { readFileSync, writeFileSync } = require('node:fs');
    const source = '(function (require, module, exports) {' + readFileSync(process.argv[1], 'utf8') + '\\n})';
    writeFileSync(process.argv[2], new Script(source, { filename: 'containerd-shim-tsshim-v2.cjs' }).createCachedData());
  `,
        shim,
        cache,
      ],
      { env: { ...cleanEnv, NODE_OPTIONS: nodeOptions } },
    );
  const cache = join(work, 'shim.cache');
  const daemonCache = join(work, 'shim.daemon.cache');
  makeCache(cache, '');
  makeCache(daemonCache, daemonNodeOptions);

  // The blob: the loader as main, the shim, its cache and the addon as assets.
  const blob = join(work, 'sea.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: loader,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      assets: { 'shim.cjs': shim, 'shim.cache': cache, 'shim.daemon.cache': daemonCache, 'tsshim.node': addon },
    }),
  );
  step('blob');
  sh(process.execPath, ['--experimental-sea-config', config]);

  // 3. A copy of this node with the blob injected, renamed into place only when complete.
  copyFileSync(process.execPath, temp);
  chmodSync(temp, 0o755);
  step('inject (postject)');
  sh(bin('postject'), [temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
  // 4. It runs, and V8 takes both caches (a mismatch would not fail, only be slower).
  step('check');
  sh(temp, ['-v'], { env: { ...cleanEnv, TSSHIM_SEA_CHECK_CACHE: '1' } });
  sh(temp, ['-v'], { env: { ...cleanEnv, TSSHIM_SEA_CHECK_CACHE: '1', NODE_OPTIONS: daemonNodeOptions, TSSHIM_SOCKET: '/nonexistent' } });
  renameSync(temp, output);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(temp, { force: true });
}
const mib = (statSync(output).size / 1024 / 1024).toFixed(1);
step(`wrote ${output} (${mib} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
