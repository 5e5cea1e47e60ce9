// Issue 10 item 6: the ttrpc fuzzer against a live daemon (test/fuzz/ttrpc-fuzz.ts). npm test runs
// 10^4 frames; `npm run fuzz` runs 10^5 (TSSHIM_FUZZ_FRAMES, TSSHIM_FUZZ_SEED, TSSHIM_FUZZ_SECONDS).
// The daemon does not depend on the containerd version, so one version runs it: the newest selected.
import { randomInt } from 'node:crypto';
import { expect, it } from 'vitest';
import { fuzzDaemon } from '../fuzz/ttrpc-fuzz.js';
import { describeEachContainerd, runtimes, selectedContainerdVersions, shimBinaryName, shimIdentity } from './harness/index.js';
import { shimAddress } from './clients/raw-ttrpc.js';

const frames = Number(process.env.TSSHIM_FUZZ_FRAMES ?? 10_000);
const seed = Number(process.env.TSSHIM_FUZZ_SEED ?? randomInt(2 ** 31));
const timeLimitMs = Number(process.env.TSSHIM_FUZZ_SECONDS ?? Math.max(120, frames / 50)) * 1000;
const newest = selectedContainerdVersions().at(-1);

describeEachContainerd(
  'ttrpc fuzzer against a live daemon',
  (suite) => {
    it(
      `${frames} random and mutated frames: the daemon stays alive, bounded and serving`,
      async () => {
        const { containerd } = suite;
        const id = 'fuzztarget';
        await containerd.ctrOk(['run', '-d', '--runtime', runtimes.tsshim, suite.fixtures.image, id, 'sleep', '3600']);
        const shim = containerd.shims(shimBinaryName(runtimes.tsshim)).find((p) => shimIdentity(p).id === id);
        if (!shim) throw new Error(`no shim process for ${id}`);
        console.log(`fuzz: seed ${seed} (replay with TSSHIM_FUZZ_SEED=${seed}), ${frames} frames`);
        const report = await fuzzDaemon({
          address: shimAddress(containerd.state, containerd.namespace, id),
          pid: shim.pid,
          containerId: id,
          frames,
          seed,
          timeLimitMs,
          rssLimit: Number(process.env.TSSHIM_FUZZ_RSS_MB ?? 150) * 1e6,
          log: (line) => console.log(line),
        });
        const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
        console.log(
          `fuzz: seed ${report.seed}: ${report.framesSent} frames in ${report.batches} batches over ${report.connections} ` +
            `connections, ${(report.elapsedMs / 1000).toFixed(1)} s${report.stoppedByTimeLimit ? ' (stopped by the time limit)' : ''}; ` +
            `RSS ${mb(report.rssBefore)} -> ${mb(report.rssAfter)} (max ${mb(report.rssMax)}); fds ${report.fdsBefore} -> ${report.fdsAfter}; ` +
            `answers ${JSON.stringify(report.answersByCode)}; unexpected ${JSON.stringify(report.unexpected)}`,
        );
        expect(report.fdsAfter).toBeLessThanOrEqual(report.fdsBefore);
        // Malformed input gets an exact code (InvalidArgument, NotFound, ...), never Unknown or Internal.
        expect(report.unexpected).toEqual([]);
        // The container was never touched: it still runs under the same daemon.
        expect(containerd.shims(shimBinaryName(runtimes.tsshim)).some((p) => p.pid === shim.pid)).toBe(true);
      },
      timeLimitMs + 120_000,
    );
  },
  { onlyVersions: newest === undefined ? [] : [newest] },
);
