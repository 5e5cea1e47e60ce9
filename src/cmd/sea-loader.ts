// The single executable's main script: it runs the shim bundle (asset "shim.cjs", built from
// sea-main.ts) with the V8 code cache made for it at build time. V8 takes a cache only from a
// process with the same V8 flags: "shim.cache" is for no flags (start, delete), "shim.daemon.cache"
// for the flags `start` gives the daemon in NODE_OPTIONS (src/shim/daemon-env.ts daemonNodeFlags).
// Why not the SEA's own `useCodeCache`: when the environment's NODE_OPTIONS holds a V8 flag
// (--max-old-space-size, ...), V8 rejects that cache and Node prints "Code cache data rejected"
// before any of our code runs, and containerd would read that line as part of `start`'s output.
// A cache given to vm.Script is rejected silently (the script is then compiled as usual).
import { getAsset, getRawAsset } from 'node:sea';
import { Script } from 'node:vm';

/** Must match scripts/build-sea.mjs, which makes the cache for exactly this text. */
const wrapperHead = '(function (require, module, exports) {';
const wrapperTail = '\n})';

type ShimModule = (req: NodeJS.Require, mod: { exports: unknown }, exp: unknown) => void;

const source = wrapperHead + getAsset('shim.cjs', 'utf8') + wrapperTail;
const script = new Script(source, {
  filename: 'containerd-shim-tsshim-v2.cjs',
  // TSSHIM_SOCKET: set by `start` for the daemon only (src/shim/daemon-env.ts socketEnv).
  cachedData: new Uint8Array(getRawAsset(process.env.TSSHIM_SOCKET ? 'shim.daemon.cache' : 'shim.cache') as ArrayBuffer),
});
// scripts/build-sea.mjs checks the finished executable this way (a mismatch would only be slower).
if (process.env.TSSHIM_SEA_CHECK_CACHE === '1' && script.cachedDataRejected !== false) {
  process.stderr.write('containerd-shim-tsshim-v2: V8 rejected the embedded code cache\n');
  process.exit(1);
}
const shimModule = { exports: {} };
(script.runInThisContext() as ShimModule)(require, shimModule, shimModule.exports);
