#!/usr/bin/env node
// npm run build: codegen from proto/, type-check, native addon, bundle, executable.
// `--codegen-only` stops after codegen (used by typecheck). Each step says what it does.
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInfoDefine } from './build-info.mjs';

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
// The ttrpc-ts workspace package is bundled from its TypeScript source (its dist/ is built only by npm pack);
// tsconfig.json (paths) and vitest.config.ts (alias) resolve it the same way.
const ttrpcFromSource = '--alias:ttrpc-ts=./packages/ttrpc-ts/src/index.ts';
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
  sh(bin('pbjs'), [
    '-t',
    'static-module',
    '-w',
    'es6',
    '--es6',
    '--no-verify',
    '--no-delimited',
    '--no-beautify',
    '--no-service',
    '--no-typeurl',
    '--force-number',
    '-r',
    'tsshim_api',
    '-p',
    'proto',
    '-o',
    js,
    ...protos,
  ]);
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
    .replace(
      '// Common aliases',
      '// 64-bit values as numbers (exact up to 2^53; Timestamp seconds fit).\n' +
        'const $int64ToNumber = (v) => typeof v === "number" ? v : v.toNumber();\n\n// Common aliases',
    );
  const checked = checkFieldReads(out);
  if (!out.includes('import $protobuf from "protobufjs/minimal.js";')) {
    throw new Error('codegen: pbjs import line changed; update patchGenerated()');
  }
  if (/prototype\.\w+ = \$util\.Long/.test(out) || /push\(r\.(u?int64|s?fixed64|sint64)\(\)\)/.test(out)) {
    throw new Error('codegen: a 64-bit field pbjs emitted is not converted to a number; extend patchGenerated()');
  }
  return checked;
}

// The generated decoders trust each field's wire type and length: protobufjs' Buffer reader clips a
// string whose length runs past the payload (an id of length 0xFFFFFFFF decodes as ""), and a varint
// where a string belongs is read as a length. So every length-delimited read first goes through
// $fitting(r, "pkg.Message.field"), which throws a RangeError naming the field when the length runs
// past the end (the service answers InvalidArgument), and a known field that arrives with another
// wire type is skipped as an unknown field, as Go's protobuf runtime does.
function checkFieldReads(src) {
  const wireTypeOf = {
    string: 2,
    bytes: 2,
    bool: 0,
    int32: 0,
    uint32: 0,
    sint32: 0,
    int64: 0,
    uint64: 0,
    sint64: 0,
    fixed64: 1,
    sfixed64: 1,
    double: 1,
    fixed32: 5,
    sfixed32: 5,
    float: 5,
  };
  let message;
  let mapField;
  let rewritten = 0;
  const lines = src.split('\n').map((line) => {
    const created = /^\s+m = new \$root\.([\w.]+)\(\);$/.exec(line);
    if (created) message = created[1];
    const map = /^\s+if \(m\.(\w+) === \$util\.emptyObject\)$/.exec(line)?.[1];
    if (map !== undefined) mapField = map;
    // A map entry's key and value (tag2 is the entry's own tag).
    const entry = /^(\s+)(k|value) = r\.(string|bytes)\(\);$/.exec(line);
    if (entry) {
      rewritten++;
      const name = JSON.stringify(`${message}.${mapField}[${entry[2] === 'k' ? 'key' : 'value'}]`);
      return `${entry[1]}if ((tag2 & 7) !== 2) { r.skipType(tag2 & 7, n); break; } ` + `${entry[2]} = $fitting(r, ${name}).${entry[3]}();`;
    }
    const read =
      /^(\s+)(m\.(\w+)(?: = |\.push\()(?:\$int64ToNumber\()?)(?:r\.(\w+)\(\)(.*)|(\$root\.[\w.]+\.decode\()r, (r\.uint32\(\).*))$/.exec(
        line,
      );
    if (!read) return line;
    const [, indent, head, field, scalar, tail, decode, rest] = read;
    const wireType = decode !== undefined ? 2 : wireTypeOf[scalar];
    // Repeated numbers may come packed (pbjs handles both forms): left as they are.
    if (wireType === undefined || (wireType !== 2 && head.includes('.push('))) return line;
    const name = JSON.stringify(`${message}.${field}`);
    const body =
      decode !== undefined
        ? `${head}${decode}$fitting(r, ${name}), ${rest}`
        : wireType === 2
          ? `${head}$fitting(r, ${name}).${scalar}()${tail}`
          : line.slice(indent.length);
    rewritten++;
    return `${indent}if ((t & 7) !== ${wireType}) { r.skipType(t & 7, n); break; } ${body}`;
  });
  const out = lines.join('\n');
  if (rewritten === 0 || /(?:m\.\w+|\bk|\bvalue)(?: = |\.push\()r\.(?:string|bytes)\(\)|decode\(r, r\.uint32\(\)/.test(out)) {
    throw new Error('codegen: the field reads pbjs emitted changed shape; update checkFieldReads()');
  }
  return out.replace(
    '// Common aliases',
    `// A length-delimited field's length must fit in what is left of the payload.
const $fitting = (r, name) => {
  const start = r.pos;
  const length = r.uint32();
  const left = r.len - r.pos;
  if (length > left) throw RangeError(\`\${name}: length \${length} runs past the end of the message (\${left} bytes left)\`);
  r.pos = start;
  return r;
};

// Common aliases`,
  );
}

codegen();
if (args.has('--codegen-only')) process.exit(0);

// 2. Types (`--no-typecheck` for quick local loops only; npm test always type-checks).
if (!args.has('--no-typecheck')) {
  step('type-check');
  sh(bin('tsc'), ['--noEmit', '-p', '.']);
}

// 3-5. dist/ is replaced atomically: shims start while teammates and CI rebuild, and a daemon keeps
// importing its lazy chunks for its whole life. So each build goes into its own directory
// dist/builds/<id>/ (shim.mjs, chunks/, tsshim.node), `dist/current` is a symlink switched with one
// rename(2), and the launcher runs `current/shim.mjs` (Node resolves the symlink once, so a running
// shim keeps reading the build it started from). Old builds no process uses are removed.
const dist = join(root, 'dist');
const builds = join(dist, 'builds');
mkdirSync(builds, { recursive: true });
const buildId = `${Date.now().toString(36)}-${process.pid}`;
const buildDir = join(builds, buildId);
const staging = join(builds, `.staging-${buildId}`);
mkdirSync(staging);
const replace = (tmp, path) => renameSync(tmp, path); // rename(2): readers see the old or the new file
try {
  buildInto(staging);
  renameSync(staging, buildDir);
} catch (err) {
  rmSync(staging, { recursive: true, force: true });
  throw err;
}
const link = join(dist, `.current-${buildId}`);
symlinkSync(join('builds', buildId), link);
replace(link, join(dist, 'current'));
// Tools that look for the addon in dist/ (integration fixtures) get the same atomic swap.
if (existsSync(join(buildDir, 'tsshim.node'))) {
  copyFileSync(join(buildDir, 'tsshim.node'), join(dist, `.tsshim.node-${buildId}`));
  replace(join(dist, `.tsshim.node-${buildId}`), join(dist, 'tsshim.node'));
}
if (existsSync(join(buildDir, 'shim.mjs'))) {
  // 5. The executable: a small native launcher (native/launcher.c) that answers `delete` from the
  // response a daemon left in the bundle, hands `start` to this containerd's spare daemon, and
  // otherwise execs Node on current/shim.mjs (no shell, no fork; Node resolves the symlink once,
  // so a running shim keeps reading the build it started from). No V8 flags: one that changes
  // V8's flag hash makes V8 reject Node's built-in code cache; `start` picks the daemon's flags.
  const launcher = join(dist, 'containerd-shim-tsshim-v2');
  sh(
    'cc',
    [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-std=gnu11',
      `-DTSSHIM_NODE=${JSON.stringify(process.execPath)}`,
      '-o',
      `${launcher}.${buildId}`,
      'native/launcher.c',
    ],
    {},
    'build: the launcher needs a C compiler (apt-get install gcc)\n',
  );
  replace(`${launcher}.${buildId}`, launcher);
  step(`wrote ${launcher} (build ${buildId})`);
}
removeOldBuilds();

function buildInto(out) {
  // 3. Native addon (npm 11 skips dependencies' install scripts; we build it ourselves).
  if (existsSync(join(root, 'native/binding.gyp'))) {
    step('native addon (node-gyp)');
    sh(
      bin('node-gyp'),
      ['rebuild', '--nodedir=/usr', '--loglevel=warn'],
      { cwd: join(root, 'native') },
      'build: the native addon needs python3, make and g++ (apt-get install python3 make g++) and Node headers in /usr/include/node\n',
    );
    copyFileSync(join(root, 'native/build/Release/tsshim.node'), join(out, 'tsshim.node'));
  }
  // 4. Bundle the daemon into one file plus lazily imported chunks.
  if (existsSync(join(root, 'src/cmd/main.ts'))) {
    step('bundle');
    sh(bin('esbuild'), [
      'src/cmd/main.ts',
      '--bundle',
      '--splitting',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      `--outdir=${out}`,
      '--entry-names=shim',
      '--chunk-names=chunks/[name]-[hash]',
      '--out-extension:.js=.mjs',
      '--log-level=warning',
      '--legal-comments=none',
      // pino's optional transports are never used by the shim.
      '--external:pino-pretty',
      buildInfoDefine(root),
      ttrpcFromSource,
      "--banner:js=import { createRequire as __tsshimCreateRequire } from 'node:module'; const require = __tsshimCreateRequire(import.meta.url);",
    ]);
  }
}

/** Builds other than the current one, older than 10 minutes, that no process has on its command line. */
function removeOldBuilds() {
  const inUse = new Set();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const m of readFileSync(`/proc/${pid}/cmdline`, 'utf8').matchAll(/\/builds\/([\w.-]+)\//g)) inUse.add(m[1]);
    } catch {
      // the process exited
    }
  }
  const current = readlinkSync(join(dist, 'current')).split('/').pop();
  for (const name of readdirSync(builds)) {
    const path = join(builds, name);
    if (name === current || inUse.has(name) || Date.now() - statSync(path).mtimeMs < 10 * 60_000) continue;
    rmSync(path, { recursive: true, force: true });
  }
  // The layout before builds/ (shim.mjs and chunks/ directly in dist/).
  rmSync(join(dist, 'shim.mjs'), { force: true });
  rmSync(join(dist, 'chunks'), { recursive: true, force: true });
}
await import('./build-sea.mjs'); // 6. The single executable dist/sea/containerd-shim-tsshim-v2 (docs/architecture.md §12.5).
