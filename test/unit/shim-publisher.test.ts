import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_SERVICE, Topic, buildTaskEvent, containerd } from '../../src/api/index.js';
import { EventPublisher } from '../../src/shim/publisher.js';
import { Code, TtrpcError, TtrpcServer } from 'ttrpc-ts';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake containerd events endpoint; `failFirst` Forward calls are refused. */
async function fakeContainerd(failFirst: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tsshim-pub-'));
  const path = join(dir, 'c.sock.ttrpc');
  const received: Array<{ topic: string; namespace: string; seconds: number; containerId: string }> = [];
  let calls = 0;
  const server = new TtrpcServer();
  server.register(EVENTS_SERVICE, {
    Forward: async (payload) => {
      calls++;
      if (calls <= failFirst) throw new TtrpcError(Code.Unavailable, 'not now');
      const req = containerd.services.events.ttrpc.v1.ForwardRequest.decode(payload);
      const env = req.envelope!;
      const exit = containerd.events.TaskExit.decode(env.event!.value!);
      received.push({
        topic: env.topic ?? '',
        namespace: env.namespace ?? '',
        seconds: Number(env.timestamp?.seconds ?? 0),
        containerId: exit.containerId,
      });
      return new Uint8Array();
    },
  });
  const net: Server = createServer();
  server.serve(net);
  await new Promise<void>((resolve) => net.listen(path, resolve));
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, received, calls: () => calls };
}

const exitEvent = (id: string) => buildTaskEvent(Topic.TaskExit, { containerId: id, id, pid: 1, exitStatus: 0 });

describe('event publisher', () => {
  it('delivers events in order with namespace and a non-zero timestamp', async () => {
    const fake = await fakeContainerd(0);
    const publisher = new EventPublisher({ ttrpcAddress: fake.path, namespace: 'ns1', logger: silent });
    for (const id of ['a', 'b', 'c']) publisher.publish(exitEvent(id));
    await publisher.close(5000);
    expect(fake.received.map((e) => e.containerId)).toEqual(['a', 'b', 'c']);
    expect(fake.received.every((e) => e.topic === '/tasks/exit' && e.namespace === 'ns1' && e.seconds > 0)).toBe(true);
  });

  it('retries a refused event without reordering the ones behind it', async () => {
    const fake = await fakeContainerd(2);
    const publisher = new EventPublisher({ ttrpcAddress: fake.path, namespace: 'ns1', logger: silent, retryStepMs: 10 });
    publisher.publish(exitEvent('first'));
    publisher.publish(exitEvent('second'));
    await publisher.close(5000);
    expect(fake.received.map((e) => e.containerId)).toEqual(['first', 'second']);
    expect(fake.calls()).toBe(4);
  });

  it('drops an event after its attempts run out, and keeps going', async () => {
    const fake = await fakeContainerd(3);
    const publisher = new EventPublisher({ ttrpcAddress: fake.path, namespace: 'ns1', logger: silent, retryStepMs: 1, maxAttempts: 3 });
    publisher.publish(exitEvent('lost'));
    publisher.publish(exitEvent('kept'));
    await publisher.close(5000);
    expect(fake.received.map((e) => e.containerId)).toEqual(['kept']);
  });

  it('only queues in publish() while containerd is unreachable; close() gives up after its timeout and accounts for every event', async () => {
    const logged: Array<{ msg: string; dropped?: number }> = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string; dropped?: number }) },
    );
    const publisher = new EventPublisher({ ttrpcAddress: '/nonexistent/c.sock.ttrpc', namespace: 'ns1', logger, retryStepMs: 1000 });
    for (let i = 0; i < 100; i++) publisher.publish(exitEvent(`e${i}`));
    // Nothing was tried yet, so nothing failed or was dropped: publish() returned before any connection attempt.
    expect(logged).toEqual([]);
    // Once closing, each event gets 6 attempts 50 ms apart: draining all 100 would take about 25 s.
    await publisher.close(200);
    const dropped = logged.find((l) => l.msg === 'events not delivered before shutdown')?.dropped ?? 0;
    const retriedOut = logged.filter((l) => l.msg === 'event dropped after retries').length;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped + retriedOut).toBe(100);
  });
});
