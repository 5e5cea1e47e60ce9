/**
 * Interop: our ttrpc client against containerd 1.6's own ttrpc server (the events service shims
 * publish to). containerd runs with a temp root/state/address inside a private mount namespace with
 * a tmpfs over /run, so nothing touches the host's containerd state.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, TtrpcClient, TtrpcError } from 'ttrpc-ts';

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const NAMESPACE = 'ttrpc-interop';

interface Timestamp {
  seconds: number;
  nanos: number;
}

/** ForwardRequest{envelope=1 Envelope{timestamp=1, namespace=2, topic=3, event=4 Any{type_url=1, value=2}}}. */
function encodeForwardRequest(timestamp: Timestamp, topic: string, typeUrl: string, value: Uint8Array): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).fork(); // envelope
  if (timestamp.seconds !== 0 || timestamp.nanos !== 0) {
    writer.uint32((1 << 3) | 2).fork(); // timestamp
    if (timestamp.seconds !== 0) writer.uint32((1 << 3) | 0).int64(timestamp.seconds);
    if (timestamp.nanos !== 0) writer.uint32((2 << 3) | 0).int32(timestamp.nanos);
    writer.ldelim();
  }
  writer.uint32((2 << 3) | 2).string(NAMESPACE);
  writer.uint32((3 << 3) | 2).string(topic);
  writer.uint32((4 << 3) | 2).fork(); // event (Any)
  writer.uint32((1 << 3) | 2).string(typeUrl);
  writer.uint32((2 << 3) | 2).bytes(value);
  writer.ldelim();
  writer.ldelim();
  return writer.finish();
}

/** containerd.events.TaskOOM{container_id=1}. */
function encodeTaskOOM(containerId: string): Uint8Array {
  return protobuf.Writer.create()
    .uint32((1 << 3) | 2)
    .string(containerId)
    .finish();
}

function now(): Timestamp {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects a child's output and knows whether it has exited. */
function watch(child: ChildProcess): { output: () => string; exited: () => boolean; exit: Promise<void> } {
  let output = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  return { output: () => output, exited: () => exited, exit };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function stop(child: ChildProcess | undefined, exit: Promise<void> | undefined, graceMs = 5000): Promise<void> {
  if (child === undefined || exit === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exit;
  clearTimeout(timer);
}

describe('ttrpc client against containerd 1.6', () => {
  let dir: string | undefined;
  let containerd: ChildProcess | undefined;
  let containerdWatch: ReturnType<typeof watch> | undefined;
  let ctrEvents: ChildProcess | undefined;
  let ctrWatch: ReturnType<typeof watch> | undefined;
  let client: TtrpcClient | undefined;
  let ttrpcSocket = '';
  let grpcSocket = '';

  beforeAll(async () => {
    if (!existsSync(CONTAINERD) || !existsSync(CTR)) {
      throw new Error(`containerd not found at ${CONTAINERD} (or ctr at ${CTR}): install it with "apt-get install containerd"`);
    }
    if (process.getuid?.() !== 0) throw new Error('this test starts a private containerd and must run as root');

    dir = mkdtempSync(join(tmpdir(), 'ttrpc-containerd-'));
    grpcSocket = join(dir, 'c.sock');
    ttrpcSocket = `${grpcSocket}.ttrpc`; // containerd's default ttrpc address
    const configPath = join(dir, 'config.toml');
    writeFileSync(
      configPath,
      [
        'version = 2',
        `root = ${JSON.stringify(join(dir, 'root'))}`,
        `state = ${JSON.stringify(join(dir, 'state'))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = ${JSON.stringify(grpcSocket)}`,
        '',
      ].join('\n'),
    );
    // A tmpfs over /run in a private mount namespace: containerd's compiled-in /run/containerd paths stay private.
    containerd = spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/containerd && exec "$0" --config "$1"',
        CONTAINERD,
        configPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    containerdWatch = watch(containerd);

    const deadline = Date.now() + 20_000;
    while (client === undefined) {
      if (containerdWatch.exited()) throw new Error(`containerd exited early:\n${containerdWatch.output()}`);
      if (Date.now() > deadline) throw new Error(`containerd did not serve ${ttrpcSocket} within 20 s:\n${containerdWatch.output()}`);
      if (existsSync(ttrpcSocket)) client = await TtrpcClient.connect(ttrpcSocket).catch(() => undefined);
      if (client === undefined) await sleep(100);
    }
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await stop(ctrEvents, ctrWatch?.exit);
    await stop(containerd, containerdWatch?.exit);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('forwards a TaskOOM event that `ctr events` then prints', async () => {
    ctrEvents = spawn(CTR, ['--address', grpcSocket, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    ctrWatch = watch(ctrEvents);
    const containerId = `oom-${process.pid}`;
    const request = encodeForwardRequest(now(), '/tasks/oom', 'containerd.events.TaskOOM', encodeTaskOOM(containerId));

    // ctr says nothing when its subscription is ready, so forward until it prints the event.
    const deadline = Date.now() + 15_000;
    while (!ctrWatch.output().includes(containerId)) {
      if (ctrWatch.exited()) throw new Error(`ctr events exited:\n${ctrWatch.output()}`);
      if (Date.now() > deadline) throw new Error(`ctr events printed no forwarded event:\n${ctrWatch.output()}`);
      const reply = await client!.call(EVENTS_SERVICE, 'Forward', request, { timeoutMs: 5000 });
      expect(reply).toEqual(new Uint8Array(0)); // google.protobuf.Empty
      await sleep(200);
    }
    const line =
      ctrWatch
        .output()
        .split('\n')
        .find((l) => l.includes(containerId)) ?? '';
    expect(line).toContain(NAMESPACE);
    expect(line).toContain('/tasks/oom');
  });

  it('gets InvalidArgument for a forwarded event without a timestamp', async () => {
    const request = encodeForwardRequest({ seconds: 0, nanos: 0 }, '/tasks/oom', 'containerd.events.TaskOOM', encodeTaskOOM('x'));
    const error: unknown = await client!.call(EVENTS_SERVICE, 'Forward', request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TtrpcError);
    expect((error as TtrpcError).code).toBe(Code.InvalidArgument);
  });

  it('gets Unimplemented for an unknown method and an unknown service', async () => {
    const method: unknown = await client!.call(EVENTS_SERVICE, 'Nope', new Uint8Array(0)).catch((e: unknown) => e);
    expect(method).toBeInstanceOf(TtrpcError);
    expect([(method as TtrpcError).code, (method as TtrpcError).message]).toEqual([Code.Unimplemented, 'method Nope']);
    const service: unknown = await client!.call('no.such.Service', 'Nope', new Uint8Array(0)).catch((e: unknown) => e);
    expect([(service as TtrpcError).code, (service as TtrpcError).message]).toEqual([Code.Unimplemented, 'service no.such.Service']);
  });
});
