// containerd-shim-tsshim-v2 as a Node single executable application (scripts/build-sea.mjs).
// Same shim as main.ts; what differs in a SEA: the addon is an asset (extracted to a file for
// process.dlopen when first needed), there is no script path in argv, NODE_OPTIONS cannot be unset
// before Node starts (sea-env.ts), and the entry is CommonJS (no top-level await).
import { getRawAsset, isSea } from 'node:sea';
import { runShim } from '../shim/run.js';
import { sparesEnv } from '../shim/spare-spawn.js';
import { setAddonFileProvider } from '../sys/native.js';
import { RuncShimManager } from '../task/manager.js';
import { extractAddon } from './sea-addon.js';
import { needsCleanRerun, rerunClean } from './sea-env.js';

/** SHA-256 of dist/tsshim.node, substituted by esbuild at build time. */
declare const __TSSHIM_ADDON_SHA256__: string;

/** Asset key of the addon in the SEA config (scripts/build-sea.mjs). */
const addonAssetKey = 'tsshim.node';

/**
 * The shim's own arguments. In a SEA, argv[1] repeats the executable where a script path would be.
 * `start` spawns the daemon as `<execPath> <argv[1]> <flags>`, so the daemon sees that path again
 * as its first argument; it is never a valid action, so it is dropped.
 */
function shimArgs(argv: readonly string[], execPath: string): string[] {
  const args = argv.slice(2);
  return args[0] === execPath ? args.slice(1) : args;
}

async function main(): Promise<void> {
  if (!isSea()) throw new Error('sea-main is the entry of the single executable only; run dist/shim.mjs otherwise');
  const args = shimArgs(process.argv, process.execPath);
  if (needsCleanRerun()) {
    // V8 flags in NODE_OPTIONS make V8 reject the embedded code cache, and Node queues a warning for
    // the next tick; containerd would read it as part of `start`'s output. The rerun speaks for us.
    process.removeAllListeners('warning');
    process.exitCode = await rerunClean(args);
    return;
  }
  // The daemon start.ts spawns passes this on as its first argument (see shimArgs).
  process.argv[1] = process.execPath;
  // Spares need the native launcher in front to hand them `start`; the single executable has none.
  process.env[sparesEnv] = '0';
  setAddonFileProvider(() => extractAddon(__TSSHIM_ADDON_SHA256__, () => new Uint8Array(getRawAsset(addonAssetKey) as ArrayBuffer)));
  await runShim(args, new RuncShimManager());
}

main().catch((err: unknown) => {
  // containerd shows this text to the user ("start failed: <output>"), so no stack trace.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
