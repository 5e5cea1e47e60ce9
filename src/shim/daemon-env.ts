// How a daemon is started: its environment and V8 flags, the same for a daemon `start` spawns
// and for a spare daemon (which becomes one).
import type { ShimFlags } from './flags.js';
import type { LogLevelName } from './start-input.js';

/** Environment variable that hands the daemon the exact socket path `start` bound. */
export const socketEnv = 'TSSHIM_SOCKET';
/** Environment variable that hands a spawned daemon its log level (StartResult.daemonLogLevel). */
export const logLevelEnv = 'TSSHIM_LOG_LEVEL';

const logLevels: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] satisfies LogLevelName[];

/** The level `start` chose (passed in TSSHIM_LOG_LEVEL), else from -debug. */
export function daemonLogLevel(flags: ShimFlags, env: NodeJS.ProcessEnv = process.env): LogLevelName {
  const passed = env[logLevelEnv];
  if (passed && logLevels.includes(passed)) return passed as LogLevelName;
  return flags.debug ? 'debug' : 'info';
}

/**
 * V8 flags for the daemon only (docs/architecture.md §12.4), given through NODE_OPTIONS so that a
 * single executable (which takes no Node flags on its command line) gets them too; the daemon
 * removes NODE_OPTIONS from its environment before it spawns anything. The launcher passes none:
 * any of these changes V8's flag hash, so V8 rejects Node's built-in code cache (about 9 ms of
 * CPU per start). Measured on an idle daemon after its first request: --jitless (interpreter
 * only, like --lite-mode, which NODE_OPTIONS refuses) saves 4.4 MiB of private memory per shim
 * for about 18 ms more CPU at boot; --max-old-space-size is a safety cap; --max-semi-space-size=1
 * changed nothing at idle and was dropped.
 */
export const daemonNodeFlags: readonly string[] = ['--jitless', '--max-old-space-size=64'];

/** The daemon's environment: containerd's, with the V8 flags of the daemon and without what slows Node. */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, UV_THREADPOOL_SIZE: '2', NODE_OPTIONS: daemonNodeFlags.join(' ') };
  delete out.NODE_EXTRA_CA_CERTS;
  delete out[socketEnv];
  delete out[logLevelEnv];
  return out;
}
