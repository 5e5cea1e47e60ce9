#!/usr/bin/env node
// npm run build: codegen from proto/, type-check, native addon, bundle, executable.
// `--codegen-only` stops after codegen (used by typecheck). Each step says what it does.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync, chmodSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = new Set(process.argv.slice(2));
const sh = (cmd, argv, opts = {}, hint = '') => {
  try {
    execFileSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  } catch (err) {
    // The command already printed why; a Node stack trace would only bury it.
    process.stderr.write(`build: failed: ${cmd} ${argv.join(' ')} (${err.status ?? err.signal ?? err.code})\n${hint}`);
    process.exit(1);
  }
};
const step = (what) => process.stderr.write(`build: ${what}\n`);

// 1. Codecs: protobufjs static code, so nothing parses .proto files at run time.
function codegen() {
  const protos = readdirSync(join(root, 'proto'), { recursive: true })
    .filter((f) => String(f).endsWith('.proto'))
    .map((f) => join('proto', String(f)));
  if (protos.length === 0) return;
  const outDir = join(root, 'src/api/gen');
  mkdirSync(outDir, { recursive: true });
  const js = join(outDir, 'proto.js');
  // Regenerate when a .proto or this script (the patches below) changed.
  const newest = Math.max(...[...protos, 'scripts/build.mjs'].map((p) => statSync(join(root, p)).mtimeMs));
  if (existsSync(js) && statSync(js).mtimeMs > newest && existsSync(join(outDir, 'proto.d.ts'))) return;
  step(`codegen ${protos.length} proto files`);
  // Own root name so no other protobufjs user shares (and overwrites) our namespaces.
  sh(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--es6', '--no-verify', '--no-delimited', '--no-beautify',
    '--no-service', '--no-typeurl', '--force-number', '-r', 'tsshim_api', '-p', 'proto', '-o', js, ...protos]);
  writeFileSync(js, patchGenerated(readFileSync(js, 'utf8')));
  sh(bin('pbts'), ['--no-comments', '-o', join(outDir, 'proto.d.ts'), js]);
  const dts = join(outDir, 'proto.d.ts');
  // pbts adds `import Long = require("long")` (CommonJS syntax that verbatimModuleSyntax rejects);
  // with --force-number no declaration uses Long.
  writeFileSync(dts, readFileSync(dts, 'utf8').replace(/^import Long = require\("long"\);\n/m, ''));
}

// Fixes pbjs output for Node ESM and makes 64-bit integers plain numbers.
function patchGenerated(src) {
  const out = src
    // protobufjs is CommonJS: Node's ESM loader cannot see `roots`, `util`... as named exports,
    // so take module.exports as the default import; NodeNext also wants the .js suffix.
    .replace('import * as $protobuf from "protobufjs/minimal";', 'import $protobuf from "protobufjs/minimal.js";')
    // --force-number only changes the declared types: with the `long` package installed the
    // reader still returns Long objects and the defaults are Longs. Convert on decode, default 0.
    .replace(/\$util\.Long \? \$util\.Long\.fromBits\(0, ?0, ?(?:false|true)\) : 0/g, '0')
    .replace(/= r\.(u?int64|s?fixed64|sint64)\(\);/g, '= $$int64ToNumber(r.$1());')
    .replace(/push\(r\.(u?int64|s?fixed64|sint64)\(\)\)/g, 'push($$int64ToNumber(r.$1()))')
    .replace('// Common aliases', '// 64-bit values as numbers (exact up to 2^53; Timestamp seconds fit).\n' +
      'const $int64ToNumber = (v) => typeof v === "number" ? v : v.toNumber();\n\n// Common aliases');
  if (!out.includes('import $protobuf from "protobufjs/minimal.js";')) {
    throw new Error('codegen: pbjs import line changed; update patchGenerated()');
  }
  if (/prototype\.\w+ = \$util\.Long/.test(out) || /push\(r\.(u?int64|s?fixed64|sint64)\(\)\)/.test(out)) {
    throw new Error('codegen: a 64-bit field pbjs emitted is not converted to a number; extend patchGenerated()');
  }
  return out;
}

codegen();
if (args.has('--codegen-only')) process.exit(0);

// 2. Types (`--no-typecheck` for quick local loops only; npm test always type-checks).
if (!args.has('--no-typecheck')) {
  step('type-check');
  sh(bin('tsc'), ['--noEmit', '-p', '.']);
}

// 3. Native addon (npm 11 skips dependencies' install scripts; we build it ourselves).
const dist = join(root, 'dist');
mkdirSync(dist, { recursive: true });
if (existsSync(join(root, 'native/binding.gyp'))) {
  step('native addon (node-gyp)');
  sh(bin('node-gyp'), ['rebuild', '--nodedir=/usr', '--loglevel=warn'], { cwd: join(root, 'native') },
    'build: the native addon needs python3, make and g++ (apt-get install python3 make g++) and Node headers in /usr/include/node\n');
  copyFileSync(join(root, 'native/build/Release/tsshim.node'), join(dist, 'tsshim.node'));
}

// 4. Bundle the daemon into one file.
if (existsSync(join(root, 'src/cmd/main.ts'))) {
  step('bundle');
  rmSync(join(dist, 'chunks'), { recursive: true, force: true });
  sh(bin('esbuild'), ['src/cmd/main.ts', '--bundle', '--splitting', '--platform=node', '--format=esm', '--target=node20',
    '--outdir=dist', '--entry-names=shim', '--chunk-names=chunks/[name]-[hash]', '--out-extension:.js=.mjs', '--log-level=warning', '--legal-comments=none',
    // pino's optional transports are never used by the shim.
    '--external:pino-pretty',
    "--banner:js=import { createRequire as __tsshimCreateRequire } from 'node:module'; const require = __tsshimCreateRequire(import.meta.url);"]);
  // 5. The executable. A shell launcher: it drops what slows Node's start-up (Decision 4).
  const launcher = join(dist, 'containerd-shim-tsshim-v2');
  writeFileSync(launcher, `#!/bin/sh
# containerd-shim-tsshim-v2 launcher (generated by scripts/build.mjs)
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS
here=$(dirname "$(readlink -f "$0")")
exec "\${TSSHIM_NODE:-${process.execPath}}" --max-old-space-size=64 --max-semi-space-size=1 --v8-pool-size=1 --stack-size=984 "$here/shim.mjs" "$@"
`);
  chmodSync(launcher, 0o755);
  step(`wrote ${launcher}`);
}
