// The launcher (dist/containerd-shim-tsshim-v2) unsets NODE_OPTIONS before Node starts. A Node 20
// single executable applies NODE_OPTIONS itself, before any of our code runs, and has no switch to
// stop it. So when containerd's environment carries NODE_OPTIONS, the executable runs itself again
// without it (about one more Node start, only in that case) and passes the exit status on.
// NODE_EXTRA_CA_CERTS only costs time (Node reads the bundle at start; the shim does no TLS): a
// second start would cost more than it saves, so it is only removed for the child.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** The variables whose effects the launcher drops. */
const droppedNodeVariables = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'] as const;

/**
 * Whether this process must be run again in a cleaned environment: NODE_OPTIONS came from outside.
 * The daemon's NODE_OPTIONS are the flags `start` chose for it (it also sets TSSHIM_SOCKET, see
 * src/shim/daemon-env.ts socketEnv).
 */
export function needsCleanRerun(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.NODE_OPTIONS ?? '') !== '' && !env.TSSHIM_SOCKET;
}

/**
 * Runs this executable again with `args` (stdio inherited, signals passed on) and the dropped
 * variables removed; resolves with the exit code to exit with.
 */
export function rerunClean(args: readonly string[]): Promise<number> {
  const env = { ...process.env };
  for (const name of droppedNodeVariables) delete env[name];
  const child = spawn(process.execPath, args, { argv0: process.argv0, env, stdio: 'inherit' });
  const forwarded = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const s of forwarded) process.on(s, forward);
  return new Promise((resolve) => {
    const done = (code: number): void => {
      for (const s of forwarded) process.off(s, forward);
      resolve(code);
    };
    child.once('error', (err) => {
      process.stderr.write(`cannot run ${process.execPath} again without NODE_OPTIONS: ${err.message}\n`);
      done(1);
    });
    // A child killed by a signal: the shell's convention, 128 + signal number.
    child.once('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
