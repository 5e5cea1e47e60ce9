// Per-iteration latencies through ctr: run --rm, run -d, exec, SIGKILL -> /tasks/exit, task delete.
import { performance } from 'node:perf_hooks';
import type { Containerd } from '../test/e2e/harness/containerd.js';
import type { LongRunningCommand } from '../test/e2e/harness/exec.js';
import type { RuntimeTag } from './report.js';
import { BenchStepError, ctrIn, describeFailure, runArgs, runtimeOrder, timedCtr, timedCtrOk } from './runtimes.js';
import type { Runtime } from './runtimes.js';

export interface LatencySamples {
  runRm: number[];
  runDetached: number[];
  exec: number[];
  exitEvent: number[];
  taskDelete: number[];
}

function emptyLatencySamples(): LatencySamples {
  return { runRm: [], runDetached: [], exec: [], exitEvent: [], taskDelete: [] };
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

/** One `ctr events` per namespace the runtimes use, subscribed before the first iteration. */
class EventStreams {
  private readonly streams = new Map<string, LongRunningCommand>();

  static async open(containerd: Containerd, namespaces: Iterable<string>): Promise<EventStreams> {
    const s = new EventStreams();
    for (const ns of new Set(namespaces)) s.streams.set(ns, containerd.spawnCtr(['events'], { namespace: ns }));
    // ctr events prints nothing until an event arrives, so there is no "subscribed" line to wait for.
    await new Promise((r) => setTimeout(r, 500));
    return s;
  }

  of(namespace: string): LongRunningCommand {
    const s = this.streams.get(namespace);
    if (s === undefined) throw new BenchStepError(`no ctr events for namespace ${namespace}`);
    return s;
  }

  async close(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.stop(1_000)));
  }
}

interface IterationContext {
  containerd: Containerd;
  image: string;
  events: EventStreams;
  iteration: number;
  /** Whether this iteration's samples are kept (false during warm-up). */
  record: boolean;
  /** Only run --rm, run -d and task delete (the cold runtime's short list). */
  startStopOnly: boolean;
}

async function measureExitEvent(ctx: IterationContext, runtime: Runtime, id: string): Promise<number> {
  const arrived = ctx.events.of(runtime.namespace).waitForOutput(initExitPattern(runtime.namespace, id), 20_000);
  // Keep a rejection from going unhandled while the kill runs; it is awaited below.
  arrived.catch(() => undefined);
  const t0 = performance.now();
  const args = ['task', 'kill', '-s', 'KILL', id];
  const kill = await timedCtr(ctx.containerd, args, ctrIn(runtime));
  if (kill.result.code !== 0) throw new BenchStepError(describeFailure(args, kill.result, ctx.containerd));
  await arrived;
  return performance.now() - t0;
}

async function iterate(ctx: IterationContext, runtime: Runtime, samples: LatencySamples): Promise<void> {
  const { containerd, image, iteration: i } = ctx;
  const keep = (into: number[], ms: number): void => {
    if (ctx.record) into.push(ms);
  };
  const opts = ctrIn(runtime);

  keep(samples.runRm, await timedCtrOk(containerd, runArgs(runtime, ['--rm'], image, `bench-${runtime.tag}-rm-${i}`, ['true']), opts));

  const id = `bench-${runtime.tag}-d-${i}`;
  keep(samples.runDetached, await timedCtrOk(containerd, runArgs(runtime, ['-d'], image, id, ['sleep', '3600']), opts));
  if (!ctx.startStopOnly) keep(samples.exec, await timedCtrOk(containerd, ['task', 'exec', '--exec-id', `e${i}`, id, 'true'], opts));
  // Deleting needs the exit first; the start/stop-only list does not keep its time.
  const exitMs = await measureExitEvent(ctx, runtime, id);
  if (!ctx.startStopOnly) keep(samples.exitEvent, exitMs);
  keep(samples.taskDelete, await timedCtrOk(containerd, ['task', 'delete', id], opts));
  await timedCtrOk(containerd, ['container', 'delete', id], opts);
}

export interface LatencyPlan {
  iterations: number;
  warmup: number;
  startStopOnly?: boolean;
}

/** Runs every latency step for every runtime, rotating their order each iteration. */
export async function measureLatencies(
  containerd: Containerd,
  image: string,
  runtimes: readonly Runtime[],
  plan: LatencyPlan,
  progress: (line: string) => void,
): Promise<Partial<Record<RuntimeTag, LatencySamples>>> {
  const result: Partial<Record<RuntimeTag, LatencySamples>> = {};
  for (const r of runtimes) result[r.tag] = emptyLatencySamples();
  const events = await EventStreams.open(
    containerd,
    runtimes.map((r) => r.namespace),
  );
  try {
    for (let i = 0; i < plan.iterations; i++) {
      const ctx: IterationContext = {
        containerd,
        image,
        events,
        iteration: i,
        record: i >= plan.warmup,
        startStopOnly: plan.startStopOnly ?? false,
      };
      for (const runtime of runtimeOrder(runtimes, i)) await iterate(ctx, runtime, result[runtime.tag] ?? emptyLatencySamples());
      progress(`latency iteration ${i + 1}/${plan.iterations}${ctx.record ? '' : ' (warm-up)'}`);
    }
  } finally {
    await events.close();
  }
  return result;
}
