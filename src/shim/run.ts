// Entry of a shim built on this framework: dispatches on the action word.
import { writeSync } from 'node:fs';
import { FlagError, parseFlags, type ShimFlags } from './flags.js';
import type { ShimManager } from './manager.js';

export async function runShim(argv: readonly string[], manager: ShimManager): Promise<void> {
  let flags: ShimFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (flags.version) {
    // The Go shim's layout (containerd's pkg/shim), with Node's version where it has Go's.
    writeSync(
      1,
      `${manager.binaryName}:\n  Version:  ${manager.version}\n  Revision: ${manager.revision}\n  Node version: ${process.version}\n\n`,
    );
    return;
  }
  if (flags.info) {
    if (!manager.info) {
      process.stderr.write(`${manager.name} does not implement -info\n`);
      process.exit(1);
    }
    const { readStdin } = await import('./stdin.js');
    writeSync(1, await manager.info(readStdin()));
    return;
  }
  if (!flags.info && !['start', 'delete', 'spare', ''].includes(flags.action)) {
    process.stderr.write(`unknown action "${flags.action}"\n`);
    process.exit(2);
  }
  if (flags.action !== 'start' && flags.action !== 'spare' && !flags.info && !flags.namespace) {
    process.stderr.write('shim namespace cannot be empty\n');
    process.exit(1);
  }
  switch (flags.action) {
    case 'start': {
      const { start } = await import('./start.js');
      const started = await start(flags, manager);
      const { startOutput } = await import('./bootstrap.js');
      writeSync(1, startOutput(started.address, started.input, flags.publishBinary));
      process.exit(0);
      break;
    }
    case 'delete': {
      const { runDelete } = await import('./delete.js');
      await runDelete(flags, manager);
      process.exit(0);
      break;
    }
    case 'spare': {
      // Not from containerd: a daemon booted ahead of the next `start` (spare.ts).
      const { runSpare } = await import('./spare.js');
      await runSpare(flags, manager);
      break;
    }
    default: {
      const { runDaemon } = await import('./daemon.js');
      await runDaemon(flags, manager);
    }
  }
}
