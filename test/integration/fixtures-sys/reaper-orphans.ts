// Run by sys-reaper.test.ts in its own node process (a subreaper must be the process itself).
// Prints one JSON report line.
import { readdirSync, readFileSync } from 'node:fs';
import { isChildSubreaper } from '../../../src/sys/native.js';
import { Reaper, type Exit } from '../../../src/sys/reaper.js';
import { run, spawnTracked } from '../../../src/sys/spawn.js';

const rounds = Number(process.argv[2] ?? 200);
const batch = 20;
const reaper = new Reaper();
const unclaimed: number[] = [];
reaper.onUnclaimed((e) => unclaimed.push(e.pid));
reaper.start();

/** Spawns `sh -c script` through spawnTracked; resolves with its exit code and stdout. */
function sh(script: string): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnTracked('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    // 'close' follows 'exit' (which a stolen wait status would suppress) and the end of stdout.
    child.once('close', (code, signal) => resolve({ code, signal, out }));
  });
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms).unref())]);

function zombiesOfMine(): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === process.pid) found.push(Number(name));
  }
  return found;
}

async function main(): Promise<Record<string, unknown>> {
  const wrongExits: string[] = [];
  const orphanStatuses: number[] = [];
  const orphanPids = new Set<number>();
  for (let done = 0; done < rounds; done += batch) {
    const jobs = Array.from({ length: Math.min(batch, rounds - done) }, async () => {
      // The grandchild outlives sh, is reparented to us and must be reaped by the reaper.
      const r = await withTimeout(sh('sleep 0.2 >/dev/null & echo $!; exit 3'), 20_000, 'child exit');
      if (r.code !== 3) wrongExits.push(`code=${r.code} signal=${r.signal}`);
      const orphan = Number(r.out.trim());
      orphanPids.add(orphan);
      const exit = await withTimeout(reaper.waitFor(orphan), 20_000, `orphan ${orphan}`);
      orphanStatuses.push(exit.status);
    });
    // Mix in run(): it goes through spawnTracked too, and must see its status.
    jobs.push(run('sh', ['-c', 'exit 4']).then((res) => void (res.code !== 4 && wrongExits.push(`run code=${res.code}`))));
    await Promise.all(jobs);
  }

  // Signal exits: 128 + signal.
  const killed: Record<string, Exit> = {};
  for (const sig of ['SIGKILL', 'SIGTERM'] as const) {
    const r = await sh('sleep 30 >/dev/null & echo $!');
    const orphan = Number(r.out.trim());
    const since = process.hrtime.bigint();
    const exit = reaper.waitFor(orphan, { since });
    process.kill(orphan, sig);
    killed[sig] = await withTimeout(exit, 10_000, `killed orphan ${sig}`);
  }

  // Late waiter: the orphan is reaped (and reported unclaimed) before anyone asks for it.
  const late = await sh('sleep 0.05 >/dev/null & echo $!');
  const latePid = Number(late.out.trim());
  let stopListening = (): void => {};
  await withTimeout(
    new Promise<void>((resolve) => {
      if (unclaimed.includes(latePid)) return resolve();
      stopListening = reaper.onUnclaimed((e) => void (e.pid === latePid && resolve()));
    }),
    5_000,
    'the late orphan reaped unclaimed',
  ).finally(() => stopListening());
  const keptBeforeLateWait = unclaimed.includes(latePid);
  const lateExit = await withTimeout(reaper.waitFor(latePid), 5_000, 'late waiter');

  // Nothing may be left behind: no zombie child of ours (every exit above was awaited; sweep reaps a stray now).
  reaper.sweep();
  return {
    rounds,
    subreaper: isChildSubreaper(),
    wrongExits,
    orphans: orphanPids.size,
    orphanStatuses: [...new Set(orphanStatuses)],
    orphansReaped: orphanStatuses.length,
    killed: {
      SIGKILL: { status: killed.SIGKILL!.status, signal: killed.SIGKILL!.signal },
      SIGTERM: { status: killed.SIGTERM!.status, signal: killed.SIGTERM!.signal },
    },
    keptBeforeLateWait,
    late: { pid: lateExit.pid, status: lateExit.status, expected: latePid },
    zombies: zombiesOfMine(),
  };
}

// SIGCHLD handles are unref'd: like the daemon's server, hold a ref'd handle while orphans run.
const keepAlive = setInterval(() => {}, 1_000);
main().then(
  (report) => {
    clearInterval(keepAlive);
    reaper.stop();
    process.stdout.write(`${JSON.stringify(report)}\n`);
  },
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: String(err instanceof Error ? err.stack : err) })}\n`);
    process.exitCode = 1;
    clearInterval(keepAlive);
  },
);
