// Command-line options of `npm run bench -- [options]`.
import { containerdVersions, isContainerdVersion } from '../test/e2e/harness/versions.js';
import type { ContainerdVersion } from '../test/e2e/harness/versions.js';

export interface BenchOptions {
  /** One containerd at a time, every section for each. */
  containerd: ContainerdVersion[];
  quick: boolean;
  /** Measured iterations per runtime and latency metric, warm-up included. */
  iterations: number;
  /** Leading iterations dropped from the statistics. */
  warmup: number;
  /** Idle container counts for the memory figures (ascending). */
  idle: number[];
  /** Containers started at once. */
  burst: number;
  /** `ctr run --rm` lifecycles per runtime for the CPU figure. */
  cpuLifecycles: number;
  /** Lifecycles per runtime traced for the process counts (0: skip). */
  execLifecycles: number;
  /** How long idle containers sit before their shims are measured. */
  settleMs: number;
  shared: boolean;
  sea: boolean;
  /** Also run tsshim with TSSHIM_SPARES=0 (the cold path) in a containerd of its own. */
  cold: boolean;
  /** Also time the shim binaries alone (-v, start, start -> first answer, delete). */
  shimStart: boolean;
  /** Where latest.json, latest.svg and latest.md go. */
  outDir: string | undefined;
  /** Replace the README's bench section with this run's table. */
  updateReadme: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const usage = `usage: npm run bench -- [options]
  --containerd 1.6,2.1       containerd versions, one after another (default 1.6,2.1)
  --quick                    fewer iterations, memory at 1 and 10, 10 at once, no cold run (about 4 minutes here; the full run about 9)
  --iterations N             latency iterations per runtime, warm-up included (default 15; quick 5)
  --warmup N                 leading iterations discarded (default 2; quick 1)
  --idle 1,10,50             idle container counts for memory (default 1,10,50; quick 1,10)
  --burst N                  containers started at once (default 30; quick 10)
  --cpu-lifecycles N         run --rm lifecycles per runtime for CPU time (default 8; quick 4)
  --exec-lifecycles N        lifecycles traced to count processes started, 0 skips (default 4; quick 2)
  --settle-ms N              wait before measuring idle shims (default 3000; quick 1500)
  --no-shared                skip tsshim's shared mode (ShimSharing = "namespace")
  --no-cold                  skip tsshim without spares (TSSHIM_SPARES=0, a second containerd)
  --sea                      also measure the single executable (dist/sea) as a runtime
  --no-shim-start            skip timing the shim binaries alone
  --out DIR                  where latest.json/.svg/.md go (default bench/results)
  --update-readme            put this run's table into README.md (between the bench markers)`;

function integer(flag: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const opts: BenchOptions = {
    containerd: ['1.6', '2.1'],
    quick,
    iterations: quick ? 5 : 15,
    warmup: quick ? 1 : 2,
    idle: quick ? [1, 10] : [1, 10, 50],
    burst: quick ? 10 : 30,
    cpuLifecycles: quick ? 4 : 8,
    execLifecycles: quick ? 2 : 4,
    settleMs: quick ? 1500 : 3000,
    shared: true,
    sea: false,
    cold: !quick,
    shimStart: true,
    outDir: undefined,
    updateReadme: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--containerd': {
        const list = (value() ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        if (list.length === 0 || !list.every(isContainerdVersion))
          throw new UsageError(`--containerd takes a list of ${containerdVersions.join(', ')}`);
        opts.containerd = [...new Set(list.filter(isContainerdVersion))];
        break;
      }
      case '--quick':
        break;
      case '--iterations':
        opts.iterations = integer(flag, value(), 1);
        break;
      case '--warmup':
        opts.warmup = integer(flag, value(), 0);
        break;
      case '--idle': {
        const counts = (value() ?? '').split(',').map((s) => integer(flag, s.trim(), 1));
        opts.idle = [...new Set(counts)].sort((a, b) => a - b);
        break;
      }
      case '--burst':
        opts.burst = integer(flag, value(), 1);
        break;
      case '--cpu-lifecycles':
        opts.cpuLifecycles = integer(flag, value(), 1);
        break;
      case '--exec-lifecycles':
        opts.execLifecycles = integer(flag, value(), 0);
        break;
      case '--settle-ms':
        opts.settleMs = integer(flag, value(), 0);
        break;
      case '--no-shared':
        opts.shared = false;
        break;
      case '--no-cold':
        opts.cold = false;
        break;
      case '--sea':
        opts.sea = true;
        break;
      case '--no-shim-start':
        opts.shimStart = false;
        break;
      case '--out':
        opts.outDir = value();
        if (!opts.outDir) throw new UsageError('--out needs a directory');
        break;
      case '--update-readme':
        opts.updateReadme = true;
        break;
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  if (opts.warmup >= opts.iterations) throw new UsageError('--warmup must be smaller than --iterations');
  return opts;
}
