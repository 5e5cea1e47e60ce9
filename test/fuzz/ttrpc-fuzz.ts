// A bounded ttrpc fuzzer for a live shim daemon: random and mutated frames (valid requests of every
// Task method, then mutated, truncated, retyped, with bad stream ids, flags, huge lengths, garbage),
// sent in batches over fresh connections. After each batch: the daemon is alive, its RSS is under a
// bound, its fd count is back to where it was, and a valid State of the target container answers.
// Deterministic for a seed (printed), so a failing run can be replayed with TSSHIM_FUZZ_SEED.
import { readFileSync, readdirSync } from 'node:fs';
import {
  JsonTypeUrl,
  Status,
  containerd as api,
  encodeMessage,
  type google,
  packJsonAny,
  type TaskMethodName,
  taskMethods,
} from '../../src/api/index.js';
import { Flags, MAX_DATA_LENGTH, MessageType, encodeRequest } from 'ttrpc-ts';
import { RawTtrpcConnection, TASK_SERVICE, decodeState, describeAnswer, frameBytes, stateRequest } from '../e2e/clients/raw-ttrpc.js';
import { waitFor } from '../e2e/harness/wait.js';

export interface FuzzOptions {
  /** The daemon's socket and pid. */
  address: string;
  pid: number;
  /** A running container the daemon serves; State of it must answer RUNNING after every batch. */
  containerId: string;
  frames: number;
  seed: number;
  /** Stop early (reported) once this much time has passed. */
  timeLimitMs: number;
  /** Frames per batch (checks run between batches). */
  batchSize?: number;
  /** The RSS the daemon must stay under, in bytes. */
  rssLimit: number;
  log?: (line: string) => void;
}

export interface FuzzReport {
  seed: number;
  framesSent: number;
  batches: number;
  connections: number;
  answersByCode: Record<string, number>;
  /** A few distinct messages of answers that are neither OK nor an expected refusal, to look into. */
  unexpected: string[];
  rssBefore: number;
  rssMax: number;
  rssAfter: number;
  fdsBefore: number;
  fdsAfter: number;
  elapsedMs: number;
  stoppedByTimeLimit: boolean;
}

/** mulberry32: small, fast, good enough to pick mutations; the whole run follows from the seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function isAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

const methodNames = Object.keys(taskMethods) as TaskMethodName[];
/** Methods that only read: they may name the live container. The others get decoy or invalid ids, so
 * the fuzzer never kills, deletes, pauses, execs in or updates the container it checks. */
const readOnly = new Set<TaskMethodName>(['State', 'Wait', 'Connect', 'Create']);
/** Decoy ids no single mutation turns into the live one. */
const decoys = ['decoy-a', 'decoy.b', 'dc_3'];
const invalidIds = ['', '../../x', 'a/b', '-lead', 'x'.repeat(77), 'nul\0byte', 'ünï', ' '];

class FrameGenerator {
  constructor(
    readonly random: () => number,
    private readonly liveId: string,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  id(method: TaskMethodName): string {
    if (readOnly.has(method) && this.chance(0.5)) return this.liveId;
    return this.chance(0.7) ? this.pick(decoys) : this.pick(invalidIds);
  }

  execId(): string {
    return this.chance(0.5) ? '' : this.chance(0.6) ? this.pick(['e1', 'exec.2', 'x_3']) : this.pick(invalidIds);
  }

  path(): string {
    return this.pick(['', '/nonexistent/fuzz/stdout', '/dev/null', 'relative/path', 'file:///nonexistent/fuzz/log', 'bogus://x']);
  }

  any(): google.protobuf.IAny {
    switch (this.int(5)) {
      case 0:
        return packJsonAny(JsonTypeUrl.OciProcess, { args: ['true'], cwd: '/' });
      case 1:
        return { type_url: JsonTypeUrl.OciProcess, value: Buffer.from('{"args": [') };
      case 2:
        return { type_url: 'example.com/Bogus', value: this.bytes(this.int(16)) };
      case 3:
        return { type_url: 'containerd.runc.v1.Options', value: this.bytes(this.int(24)) };
      default:
        return { type_url: JsonTypeUrl.OciLinuxResources, value: Buffer.from(JSON.stringify({ cpu: { shares: this.int(1024) } })) };
    }
  }

  /** A well-formed request payload of `method`. */
  payload(method: TaskMethodName): Uint8Array {
    const t = api.task.v2;
    const id = this.id(method);
    switch (method) {
      case 'State':
      case 'Start':
      case 'Delete':
      case 'Wait':
        return encodeMessage(t.StateRequest, { id, execId: this.execId() });
      case 'Create':
        // No rootfs mounts and a bundle that does not exist: nothing is mounted or written.
        return encodeMessage(t.CreateTaskRequest, {
          id,
          bundle: '/nonexistent/fuzz/bundle',
          terminal: this.chance(0.2),
          stdin: this.path(),
          stdout: this.path(),
          stderr: this.path(),
          options: this.chance(0.5) ? this.any() : null,
        });
      case 'Kill':
        return encodeMessage(t.KillRequest, { id, execId: this.execId(), signal: this.int(70), all: this.chance(0.3) });
      case 'Exec':
        return encodeMessage(t.ExecProcessRequest, {
          id,
          execId: this.execId(),
          terminal: this.chance(0.2),
          stdout: this.path(),
          spec: this.chance(0.9) ? this.any() : null,
        });
      case 'ResizePty':
        return encodeMessage(t.ResizePtyRequest, { id, execId: this.execId(), width: this.int(0x10000), height: this.int(0x10000) });
      case 'CloseIO':
        return encodeMessage(t.CloseIORequest, { id, execId: this.execId(), stdin: this.chance(0.5) });
      case 'Update':
        return encodeMessage(t.UpdateTaskRequest, { id, resources: this.chance(0.9) ? this.any() : null, annotations: { k: 'v' } });
      case 'Checkpoint':
        return encodeMessage(t.CheckpointTaskRequest, {
          id,
          path: '/nonexistent/fuzz/ckpt',
          options: this.chance(0.5) ? this.any() : null,
        });
      case 'Shutdown':
        return encodeMessage(t.ShutdownRequest, { id, now: this.chance(0.5) });
      default:
        // Pids, Pause, Resume, Stats, Connect: an id only.
        return encodeMessage(t.PidsRequest, { id });
    }
  }

  mutate(data: Uint8Array): Uint8Array {
    const out = Buffer.from(data);
    const edits = 1 + this.int(4);
    let bytes: Buffer = out;
    for (let i = 0; i < edits && bytes.length > 0; i++) {
      const at = this.int(bytes.length);
      switch (this.int(5)) {
        case 0:
          bytes[at] = (bytes[at] as number) ^ (1 << this.int(8));
          break;
        case 1:
          bytes[at] = this.pick([0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12]);
          break;
        case 2:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + this.int(4))]);
          break;
        case 3:
          bytes = Buffer.concat([bytes.subarray(0, at), this.bytes(1 + this.int(8)), bytes.subarray(at)]);
          break;
        default: {
          // A length-like varint: 0xffffffff.
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), bytes.subarray(at)]);
        }
      }
    }
    return bytes;
  }
}

/** One connection of a batch; `poisoned` once a frame left its framing out of step (declared more than sent). */
interface FuzzConnection {
  conn: RawTtrpcConnection;
  nextStreamId: number;
  poisoned: boolean;
}

/** Builds the next frame for `c`; returns the bytes and whether the connection's framing is now out of step. */
function nextFrame(gen: FrameGenerator, c: FuzzConnection): { bytes: Uint8Array; poisons: boolean } {
  const method = gen.pick(methodNames);
  const streamId = c.nextStreamId;
  c.nextStreamId += 2;
  const envelope = (payload: Uint8Array, service = TASK_SERVICE, name: string = method): Uint8Array =>
    encodeRequest({
      service,
      method: name,
      payload,
      timeoutNano: gen.chance(0.1) ? gen.pick([1, 1000, 1e9, Number.MAX_SAFE_INTEGER]) : 0,
      metadata: gen.chance(0.1) ? [{ key: 'containerd-namespace', value: gen.pick(['default', '', 'x'.repeat(300)]) }] : [],
    });
  const request = (data: Uint8Array, type = MessageType.Request, flags = 0, id = streamId): Uint8Array => frameBytes(id, type, flags, data);
  const roll = gen.random() * 97;
  if (roll < 20) return { bytes: request(envelope(gen.payload(method))), poisons: false };
  if (roll < 40) return { bytes: request(envelope(gen.mutate(gen.payload(method)))), poisons: false };
  if (roll < 60) return { bytes: request(gen.mutate(envelope(gen.payload(method)))), poisons: false };
  if (roll < 68) {
    // Truncated: the header says what is sent (the envelope or payload is cut short).
    const data = envelope(gen.payload(method));
    return { bytes: request(data.subarray(0, gen.int(data.length))), poisons: false };
  }
  if (roll < 76) {
    // Wrong type byte and/or flags on a valid request.
    const type = gen.pick([0, MessageType.Response, MessageType.Data, 4, 0x7f, 0xff]);
    const flags = gen.pick([0, Flags.RemoteClosed, Flags.RemoteOpen, Flags.NoData, 0xff]);
    return { bytes: request(envelope(gen.payload(method)), gen.chance(0.7) ? type : MessageType.Request, flags), poisons: false };
  }
  if (roll < 84) {
    // Bad stream ids: even, zero, reused, or the largest (after which every id is "reused").
    const id = gen.pick([0, 2, streamId - 2, 1, 0xfffffffe, 0xffffffff]);
    if (id === 0xffffffff) c.nextStreamId = 0xffffffff;
    return { bytes: request(envelope(gen.payload(method)), MessageType.Request, 0, id), poisons: false };
  }
  if (roll < 88) {
    // Unknown service or method.
    const data = envelope(
      gen.payload(method),
      gen.pick([TASK_SERVICE, 'containerd.task.v3.Task', 'nope.Svc', '']),
      gen.pick(['Nope', '', 'state', method]),
    );
    return { bytes: request(data), poisons: false };
  }
  if (roll < 92) {
    // A zero-length frame, or one frame's header split from its data by a huge declared length.
    if (gen.chance(0.5)) return { bytes: request(new Uint8Array(0)), poisons: false };
    const declared = gen.pick([MAX_DATA_LENGTH + 1, 0xffffffff, MAX_DATA_LENGTH, 1 << 20, 70 << 10]);
    return { bytes: frameBytes(streamId, MessageType.Request, 0, gen.bytes(gen.int(64)), declared), poisons: true };
  }
  if (roll < 92.25) {
    // Rarely: a whole oversized frame (the daemon skips its data and answers ResourceExhausted).
    return { bytes: frameBytes(streamId, MessageType.Request, 0, new Uint8Array(MAX_DATA_LENGTH + 1 + gen.int(1024))), poisons: false };
  }
  // Garbage: random bytes, which may be any header at all.
  return { bytes: gen.bytes(1 + gen.int(64)), poisons: true };
}

/** `promise`, or undefined after `ms` (the timer is cleared either way). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the fuzzer; throws (with the seed in the message) at the first failed check. */
export async function fuzzDaemon(options: FuzzOptions): Promise<FuzzReport> {
  const { address, pid, containerId, frames, seed, timeLimitMs, rssLimit } = options;
  const batchSize = options.batchSize ?? 1000;
  const log = options.log ?? (() => {});
  const gen = new FrameGenerator(prng(seed), containerId);
  const started = Date.now();
  const fail = (what: string): never => {
    throw new Error(`fuzz (seed ${seed}, after ${report.framesSent} frames): ${what}`);
  };
  const report: FuzzReport = {
    seed,
    framesSent: 0,
    batches: 0,
    connections: 0,
    answersByCode: {},
    unexpected: [],
    rssBefore: procStatusBytes(pid, 'VmRSS'),
    rssMax: 0,
    rssAfter: 0,
    fdsBefore: fdCount(pid),
    fdsAfter: 0,
    elapsedMs: 0,
    stoppedByTimeLimit: false,
  };
  report.rssMax = report.rssBefore;

  while (report.framesSent < frames) {
    if (Date.now() - started > timeLimitMs) {
      report.stoppedByTimeLimit = true;
      break;
    }
    const inBatch = Math.min(batchSize, frames - report.framesSent);
    const open: FuzzConnection[] = [];
    let current: FuzzConnection | undefined;
    for (let i = 0; i < inBatch; i++) {
      if (current === undefined || current.poisoned || !current.conn.open) {
        current = { conn: await RawTtrpcConnection.connect(address), nextStreamId: 1, poisoned: false };
        open.push(current);
        report.connections++;
      }
      const { bytes, poisons } = nextFrame(gen, current);
      // Not awaited: a connection the daemon stopped reading must not stall the batch.
      void current.conn.write(bytes);
      current.poisoned = poisons;
      report.framesSent++;
      // Let answers flow now and then, as a real peer would.
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    // Give every connection a last valid State so its answers up to there can be awaited, then close it.
    await Promise.all(
      open.map(async (c) => {
        if (!c.poisoned && c.conn.open && c.nextStreamId < 0xfffffff0) {
          const streamId = c.nextStreamId;
          const answer = c.conn.answer(streamId);
          void c.conn.write(
            frameBytes(
              streamId,
              MessageType.Request,
              0,
              encodeRequest({
                service: TASK_SERVICE,
                method: 'State',
                payload: stateRequest(containerId),
                timeoutNano: 0,
                metadata: [],
              }),
            ),
          );
          await withTimeout(answer, 5000);
        }
        for (const answer of c.conn.takeUnclaimedAnswers()) {
          const described = describeAnswer(answer);
          const name = described.split(':')[0] as string;
          report.answersByCode[name] = (report.answersByCode[name] ?? 0) + 1;
          if (['Unknown', 'Internal'].includes(name) && report.unexpected.length < 20 && !report.unexpected.includes(described)) {
            report.unexpected.push(described);
          }
        }
        await c.conn.close();
      }),
    );
    report.batches++;
    await checkDaemon();
  }
  report.elapsedMs = Date.now() - started;
  report.rssAfter = procStatusBytes(pid, 'VmRSS');
  await waitFor(() => fdCount(pid) <= report.fdsBefore, 10_000, 5);
  report.fdsAfter = fdCount(pid);
  return report;

  async function checkDaemon(): Promise<void> {
    if (!isAlive(pid)) fail(`the daemon (pid ${pid}) is gone`);
    const rss = procStatusBytes(pid, 'VmRSS');
    report.rssMax = Math.max(report.rssMax, rss);
    if (rss > rssLimit) fail(`daemon RSS ${(rss / 1e6).toFixed(1)} MB over the ${(rssLimit / 1e6).toFixed(0)} MB bound`);
    // Every batch connection closed: the daemon's fds come back to where they were.
    if (!(await waitFor(() => fdCount(pid) <= report.fdsBefore, 10_000, 5))) {
      fail(`daemon fd count ${fdCount(pid)} did not come back to ${report.fdsBefore}`);
    }
    const checker = await RawTtrpcConnection.connect(address);
    try {
      const state = await checker.call('State', stateRequest(containerId));
      if (state.code !== 0) fail(`State answered ${describeAnswer(state)}`);
      const decoded = decodeState(state.payload);
      if (decoded.id !== containerId || decoded.status !== Status.RUNNING) fail(`State answered id ${decoded.id} status ${decoded.status}`);
    } finally {
      await checker.close();
    }
    if (report.batches % 5 === 0 || report.framesSent >= options.frames) {
      log(
        `fuzz: ${report.framesSent} frames, ${report.batches} batches, RSS ${(procStatusBytes(pid, 'VmRSS') / 1e6).toFixed(1)} MB, ` +
          `fds ${fdCount(pid)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
}
