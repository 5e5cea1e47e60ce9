// Command-line options of `npm run bench -- [options]`.
import { containerdVersions } from '../test/e2e/harness/versions.js';
import type { ContainerdVersion } from '../test/e2e/harness/versions.js';

export interface BenchOptions {
  containerd: ContainerdVersion;
  /** Measured iterations per runtime and latency metric, warm-up included. */
  iterations: number;
  /** Leading iterations dropped from the statistics. */
  warmup: number;
  /** Idle containers per runtime for the memory figure. */
  idle: number;
  /** How long the idle containers sit before their shims are measured. */
  settleMs: number;
  /** Also time the shim binaries' `start` alone (no containerd in the loop). */
  shimStart: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const usage = `usage: npm run bench -- [options]
  --containerd 1.6|1.7|2.1   containerd to run both shims under (default 1.6)
  --iterations N             iterations per runtime, warm-up included (default 15)
  --warmup N                 leading iterations discarded (default 2)
  --idle N                   idle containers per runtime for the memory figure (default 10)
  --settle-ms N              wait before measuring idle shims (default 3000)
  --no-shim-start            skip timing the shim binaries alone (-v, start, delete)`;

function integer(flag: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const opts: BenchOptions = { containerd: '1.6', iterations: 15, warmup: 2, idle: 10, settleMs: 3000, shimStart: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--containerd': {
        const v = value();
        const known = containerdVersions.find((k) => k === v);
        if (known === undefined) throw new UsageError(`--containerd must be one of ${containerdVersions.join(', ')}`);
        opts.containerd = known;
        break;
      }
      case '--iterations': opts.iterations = integer(flag, value(), 1); break;
      case '--warmup': opts.warmup = integer(flag, value(), 0); break;
      case '--idle': opts.idle = integer(flag, value(), 1); break;
      case '--settle-ms': opts.settleMs = integer(flag, value(), 0); break;
      case '--no-shim-start': opts.shimStart = false; break;
      case '-h': case '--help': throw new UsageError('');
      default: throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (opts.warmup >= opts.iterations) throw new UsageError('--warmup must be smaller than --iterations');
  return opts;
}
