// Per-iteration latencies through ctr: run --rm, run -d, exec, SIGKILL -> /tasks/exit, task delete.
import { performance } from 'node:perf_hooks';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import type { LongRunningCommand } from '../test/e2e/harness/exec.js';
import { BenchStepError, describeFailure, runtimeOrder, timedCtr, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface LatencySamples {
  runRm: number[];
  runDetached: number[];
  /** Undefined while Exec works; otherwise why it could not be measured. */
  execUnavailable: string | undefined;
  exec: number[];
  exitEvent: number[];
  taskDelete: number[];
}

export function emptyLatencySamples(): LatencySamples {
  return { runRm: [], runDetached: [], execUnavailable: undefined, exec: [], exitEvent: [], taskDelete: [] };
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The `/tasks/exit` line of `ctr events` ("<time with spaces> <namespace> /tasks/exit {json}") for the
 * container's init process: its "id" is the container id, while an exec's exit carries the exec id.
 * ctr prints TaskExit's fields in declaration order (container_id, id, pid, ...) in every containerd we run.
 */
function initExitPattern(namespace: string, containerId: string): RegExp {
  const id = escapeRegExp(containerId);
  return new RegExp(` ${escapeRegExp(namespace)} /tasks/exit \\{"container_id": ?"${id}", ?"id": ?"${id}"`);
}

/** Exec answered Unimplemented (tsshim until its Exec lands); any other failure is a real error. */
function isUnimplemented(stderr: string): boolean {
  return /unimplemented|not implemented/i.test(stderr);
}

interface IterationContext {
  containerd: Containerd;
  image: string;
  events: LongRunningCommand;
  iteration: number;
  /** Whether this iteration's samples are kept (false during warm-up). */
  record: boolean;
}

async function measureExitEvent(ctx: IterationContext, id: string): Promise<number> {
  const arrived = ctx.events.waitForOutput(initExitPattern(ctx.containerd.namespace, id), 20_000);
  // Keep a rejection from going unhandled while the kill runs; it is awaited below.
  arrived.catch(() => undefined);
  const t0 = performance.now();
  const kill = await timedCtr(ctx.containerd, ['task', 'kill', '-s', 'KILL', id]);
  if (kill.result.code !== 0) throw new BenchStepError(describeFailure(['task', 'kill', '-s', 'KILL', id], kill.result, ctx.containerd));
  await arrived;
  return performance.now() - t0;
}

async function iterate(ctx: IterationContext, runtime: Runtime, samples: LatencySamples): Promise<void> {
  const { containerd, image, iteration: i } = ctx;
  const keep = (into: number[], ms: number): void => { if (ctx.record) into.push(ms); };

  keep(samples.runRm, await timedCtrOk(containerd, ['run', '--rm', '--runtime', runtime.name, image, `bench-${runtime.tag}-rm-${i}`, 'true']));

  const id = `bench-${runtime.tag}-d-${i}`;
  keep(samples.runDetached, await timedCtrOk(containerd, ['run', '-d', '--runtime', runtime.name, image, id, 'sleep', '3600']));

  if (samples.execUnavailable === undefined) {
    const args = ['task', 'exec', '--exec-id', `e${i}`, id, 'true'];
    const exec = await timedCtr(containerd, args);
    if (exec.result.code === 0) keep(samples.exec, exec.ms);
    else if (isUnimplemented(exec.result.stderr)) samples.execUnavailable = 'n/a (Exec not implemented)';
    else throw new BenchStepError(describeFailure(args, exec.result, containerd));
  }

  keep(samples.exitEvent, await measureExitEvent(ctx, id));
  keep(samples.taskDelete, await timedCtrOk(containerd, ['task', 'delete', id]));
  await timedCtrOk(containerd, ['container', 'delete', id]);
}

/** Runs every latency step for every runtime, rotating their order each iteration. */
export async function measureLatencies(
  containerd: Containerd, image: string, events: LongRunningCommand, iterations: number, warmup: number,
  progress: (line: string) => void,
): Promise<Record<Runtime['tag'], LatencySamples>> {
  const result = { tsshim: emptyLatencySamples(), sea: emptyLatencySamples(), go: emptyLatencySamples() };
  for (let i = 0; i < iterations; i++) {
    const ctx: IterationContext = { containerd, image, events, iteration: i, record: i >= warmup };
    for (const runtime of runtimeOrder(i)) await iterate(ctx, runtime, result[runtime.tag]);
    progress(`latency iteration ${i + 1}/${iterations}${ctx.record ? '' : ' (warm-up)'}`);
  }
  return result;
}
