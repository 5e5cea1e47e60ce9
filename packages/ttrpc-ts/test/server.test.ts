import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Code,
  encodeHeader,
  encodeRequest,
  decodeResponse,
  Flags,
  FrameReader,
  MAX_DATA_LENGTH,
  MessageType,
  TtrpcError,
  TtrpcServer,
} from '../src/index.js';
import type { CallContext, ResponseMessage, TtrpcServerOptions, UnaryHandler } from '../src/index.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

interface Fixture {
  server: TtrpcServer;
  netServer: Server;
  path: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(services: Record<string, Record<string, UnaryHandler>>, options?: TtrpcServerOptions): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-server-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 's.sock');
  const server = new TtrpcServer(options);
  for (const [name, methods] of Object.entries(services)) server.register(name, methods);
  const netServer = createServer();
  server.serve(netServer);
  await new Promise<void>((resolve) => netServer.listen(path, resolve));
  cleanups.push(() => server.close());
  return { server, netServer, path };
}

/** A hand-driven client that writes raw frames and collects Response frames by stream id. */
class RawPeer {
  readonly responses: Array<{ streamId: number; length: number; response: ResponseMessage }> = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    const reader = new FrameReader({
      onFrame: (frame) => {
        expect(frame.header.type).toBe(MessageType.Response);
        this.responses.push({
          streamId: frame.header.streamId,
          length: frame.header.length,
          response: decodeResponse(Uint8Array.from(frame.data)),
        });
        for (const wake of this.waiters.splice(0)) wake();
      },
      onOversizedFrame: () => {
        throw new Error('server sent an oversized frame');
      },
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  static async connect(path: string): Promise<RawPeer> {
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new RawPeer(socket);
    cleanups.push(() => void socket.destroy());
    return peer;
  }

  send(streamId: number, data: Uint8Array, type: number = MessageType.Request, flags = 0): void {
    this.socket.write(encodeHeader({ length: data.length, streamId, type, flags }));
    if (data.length > 0) this.socket.write(data);
  }

  request(streamId: number, service: string, method: string, payload: Uint8Array = new Uint8Array(0), timeoutNano = 0): void {
    this.send(streamId, encodeRequest({ service, method, payload, timeoutNano, metadata: [] }));
  }

  async waitFor(streamId: number): Promise<ResponseMessage> {
    for (;;) {
      const found = this.responses.find((r) => r.streamId === streamId);
      if (found !== undefined) return found.response;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

const statusOf = (response: ResponseMessage): [number, string] | undefined =>
  response.status === undefined ? undefined : [response.status.code, response.status.message];

const echo: UnaryHandler = async (payload) => payload;

describe('TtrpcServer', () => {
  it('answers a unary call and an empty response with a zero-length frame', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Echo', enc('hi'));
    expect(dec((await peer.waitFor(1)).payload)).toBe('hi');
    peer.request(3, 'svc', 'Echo');
    expect(await peer.waitFor(3)).toEqual({ payload: new Uint8Array(0) });
    expect(peer.responses.find((r) => r.streamId === 3)?.length).toBe(0);
  });

  it('refuses even stream ids and ids that do not increase, and keeps serving', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    peer.request(2, 'svc', 'Echo');
    expect(statusOf(await peer.waitFor(2))).toEqual([Code.InvalidArgument, 'StreamID must be odd for client initiated streams']);
    peer.request(5, 'svc', 'Echo', enc('a'));
    expect(dec((await peer.waitFor(5)).payload)).toBe('a');
    peer.request(3, 'svc', 'Echo');
    expect(statusOf(await peer.waitFor(3))?.[0]).toBe(Code.InvalidArgument);
    peer.request(7, 'svc', 'Echo', enc('b'));
    expect(dec((await peer.waitFor(7)).payload)).toBe('b');
  });

  it('answers Unimplemented for an unknown service or method', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'nope.Service', 'Echo');
    peer.request(3, 'svc', 'Nope');
    expect(statusOf(await peer.waitFor(1))).toEqual([Code.Unimplemented, 'service nope.Service']);
    expect(statusOf(await peer.waitFor(3))).toEqual([Code.Unimplemented, 'method Nope']);
  });

  it('answers InvalidArgument for an undecodable Request', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    peer.send(1, new Uint8Array([0x0a, 0x09, 0x61]));
    const status = statusOf(await peer.waitFor(1));
    expect(status?.[0]).toBe(Code.InvalidArgument);
    expect(status?.[1]).toMatch(/^unmarshal request error: /);
  });

  it('refuses an oversized frame with ResourceExhausted, then serves the next request', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    const length = 5 << 20;
    peer.socket.write(encodeHeader({ length, streamId: 1, type: MessageType.Request, flags: 0 }));
    peer.socket.write(new Uint8Array(length));
    peer.request(3, 'svc', 'Echo', enc('after'));
    expect(statusOf(await peer.waitFor(1))).toEqual([
      Code.ResourceExhausted,
      `message length ${length} exceed maximum message size of ${MAX_DATA_LENGTH}`,
    ]);
    expect(dec((await peer.waitFor(3)).payload)).toBe('after');
  });

  it('serves a unary method whatever its request flags say, drops Data for it, and refuses Data for a stream never opened', async () => {
    const { path } = await startServer({ svc: { Echo: echo } });
    const peer = await RawPeer.connect(path);
    peer.send(
      1,
      encodeRequest({ service: 'svc', method: 'Echo', payload: enc('flagged'), timeoutNano: 0, metadata: [] }),
      MessageType.Request,
      Flags.RemoteOpen,
    );
    peer.send(1, enc('data for a unary call'), MessageType.Data, 0);
    peer.send(3, enc('data on a stream never opened'), MessageType.Data, Flags.RemoteClosed);
    peer.request(5, 'svc', 'Echo', enc('still here'));
    expect(dec((await peer.waitFor(1)).payload)).toBe('flagged');
    expect(statusOf(await peer.waitFor(3))).toEqual([Code.InvalidArgument, 'StreamID is no longer active']);
    expect(dec((await peer.waitFor(5)).payload)).toBe('still here');
    expect(peer.responses.filter((r) => r.streamId === 1)).toHaveLength(1);
  });

  it('runs pipelined calls concurrently and answers them as they finish', async () => {
    let releaseSlow!: () => void;
    const slowMayFinish = new Promise<void>((resolve) => (releaseSlow = resolve));
    const { path } = await startServer({
      svc: {
        Slow: async () => {
          await slowMayFinish;
          return enc('slow');
        },
        Fast: async () => enc('fast'),
      },
    });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Slow');
    peer.request(3, 'svc', 'Fast');
    expect(dec((await peer.waitFor(3)).payload)).toBe('fast');
    expect(peer.responses.map((r) => r.streamId)).toEqual([3]);
    releaseSlow();
    expect(dec((await peer.waitFor(1)).payload)).toBe('slow');
    expect(peer.responses.map((r) => r.streamId)).toEqual([3, 1]);
  });

  it('maps handler failures to status codes', async () => {
    const { path } = await startServer({
      svc: {
        NotFound: async () => {
          throw new TtrpcError(Code.NotFound, 'container c1 not found');
        },
        Plain: async () => {
          throw new Error('runc did something');
        },
        Sync: () => {
          throw new TtrpcError(Code.FailedPrecondition, 'thrown before any await');
        },
        NotBytes: async () => 'text' as unknown as Uint8Array,
      },
    });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'NotFound');
    peer.request(3, 'svc', 'Plain');
    peer.request(5, 'svc', 'Sync');
    peer.request(7, 'svc', 'NotBytes');
    expect(statusOf(await peer.waitFor(1))).toEqual([Code.NotFound, 'container c1 not found']);
    expect(statusOf(await peer.waitFor(3))).toEqual([Code.Unknown, 'runc did something']);
    expect(statusOf(await peer.waitFor(5))).toEqual([Code.FailedPrecondition, 'thrown before any await']);
    expect(statusOf(await peer.waitFor(7))?.[0]).toBe(Code.Internal);
  });

  it('turns a response over 4 MiB into ResourceExhausted', async () => {
    const { path } = await startServer({ svc: { Big: async () => new Uint8Array(MAX_DATA_LENGTH) } });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Big');
    expect(statusOf(await peer.waitFor(1))?.[0]).toBe(Code.ResourceExhausted);
  });

  it('passes metadata and the deadline, aborts the signal at the deadline and answers DeadlineExceeded', async () => {
    let seen: CallContext | undefined;
    let abortReason: unknown;
    const { path } = await startServer({
      svc: {
        Hang: (_payload, ctx) => {
          seen = ctx;
          return new Promise((resolve) =>
            ctx.signal.addEventListener('abort', () => {
              abortReason = ctx.signal.reason;
              // Answering after the deadline must not produce a second response.
              resolve(enc('too late'));
            }),
          );
        },
      },
    });
    const peer = await RawPeer.connect(path);
    const before = Date.now();
    peer.send(
      1,
      encodeRequest({
        service: 'svc',
        method: 'Hang',
        payload: new Uint8Array(0),
        timeoutNano: 50_000_000,
        metadata: [
          { key: 'containerd-namespace-ttrpc', value: 'ns1' },
          { key: 'k', value: 'a' },
          { key: 'k', value: 'b' },
        ],
      }),
    );
    expect(statusOf(await peer.waitFor(1))).toEqual([Code.DeadlineExceeded, 'context deadline exceeded']);
    expect(seen?.service).toBe('svc');
    expect(seen?.method).toBe('Hang');
    expect(seen?.metadata.get('containerd-namespace-ttrpc')).toEqual(['ns1']);
    expect(seen?.metadata.get('k')).toEqual(['a', 'b']);
    expect(seen?.deadline).toBeGreaterThanOrEqual(before + 50);
    expect(seen?.signal.aborted).toBe(true);
    expect(abortReason).toBeInstanceOf(TtrpcError);
    expect((abortReason as TtrpcError).code).toBe(Code.DeadlineExceeded);
    peer.request(3, 'svc', 'Nope');
    await peer.waitFor(3);
    expect(peer.responses.filter((r) => r.streamId === 1)).toHaveLength(1);
  });

  it('gives a call without timeout_nano no deadline', async () => {
    let deadline = -1;
    const { path } = await startServer({
      svc: {
        D: async (_p, ctx) => {
          deadline = ctx.deadline;
          return new Uint8Array(0);
        },
      },
    });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'D');
    await peer.waitFor(1);
    expect(deadline).toBe(0);
  });

  it('aborts the signals of calls in flight when the peer disconnects', async () => {
    let signal: AbortSignal | undefined;
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { path, server } = await startServer({
      svc: {
        Hang: (_p, ctx) => {
          signal = ctx.signal;
          entered();
          return new Promise(() => {});
        },
      },
    });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Hang');
    await handlerEntered;
    expect(server.connectionCount).toBe(1);
    const disconnected = new Promise<number>((resolve) => server.once('disconnect', (_s, open) => resolve(open)));
    peer.socket.destroy();
    expect(await disconnected).toBe(0);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as TtrpcError | undefined)?.code).toBe(Code.Canceled);
  });

  it('closes connections that the authorize hook refuses', async () => {
    const seen: Socket[] = [];
    const { path, server } = await startServer(
      { svc: { Echo: echo } },
      {
        authorize: (socket) => {
          seen.push(socket);
          return seen.length > 1; // refuse the first connection only
        },
      },
    );
    const refused = await RawPeer.connect(path);
    refused.request(1, 'svc', 'Echo');
    await refused.closed;
    expect(refused.responses).toEqual([]);
    const accepted = await RawPeer.connect(path);
    accepted.request(1, 'svc', 'Echo', enc('ok'));
    expect(dec((await accepted.waitFor(1)).payload)).toBe('ok');
    expect(server.connectionCount).toBe(1);
  });

  it('close() stops accepting and ends open connections', async () => {
    const { path, server, netServer } = await startServer({ svc: { Hang: () => new Promise(() => {}) } });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Hang');
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.close();
    await peer.closed;
    expect(netServer.listening).toBe(false);
    expect(server.connectionCount).toBe(0);
  });

  it('shutdown() answers calls in flight before closing', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    const { path, server } = await startServer({
      svc: {
        Shutdown: async () => {
          entered();
          await released;
          return new Uint8Array(0);
        },
      },
    });
    const peer = await RawPeer.connect(path);
    peer.request(1, 'svc', 'Shutdown');
    await handlerEntered;
    const done = server.shutdown();
    release();
    await done;
    await peer.closed;
    expect(peer.responses).toEqual([{ streamId: 1, length: 0, response: { payload: new Uint8Array(0) } }]);
  });

  it('shutdown({ graceMs }) answers what finishes in time and closes connections whose calls never end', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    let bothEntered!: () => void;
    const handlersEntered = new Promise<void>((resolve) => (bothEntered = resolve));
    const enter = (): void => {
      if (++entered === 2) bothEntered();
    };
    const { path, server } = await startServer({
      svc: {
        Slow: async () => {
          enter();
          await released;
          return enc('slow');
        },
        Hang: () => {
          enter();
          return new Promise(() => {});
        },
      },
    });
    const slowPeer = await RawPeer.connect(path);
    const hangPeer = await RawPeer.connect(path);
    slowPeer.request(1, 'svc', 'Slow');
    hangPeer.request(1, 'svc', 'Hang');
    await handlersEntered;
    const done = server.shutdown({ graceMs: 200 });
    release();
    await slowPeer.closed;
    expect(slowPeer.responses.map((r) => dec(r.response.payload))).toEqual(['slow']);
    await done;
    await hangPeer.closed;
    expect(hangPeer.responses).toEqual([]);
    expect(server.connectionCount).toBe(0);
  });

  it('refuses a duplicate service registration', () => {
    const server = new TtrpcServer();
    server.register('svc', { Echo: echo });
    expect(() => server.register('svc', { Echo: echo })).toThrow(/duplicate service svc/);
  });
});

/** Resolves once `condition` holds (checked as the event loop turns); fails after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('TtrpcServer memory bounds', () => {
  const KiB = 1024;
  const header = (streamId: number, length: number): Uint8Array => encodeHeader({ length, streamId, type: MessageType.Request, flags: 0 });
  /** A Request frame for svc/Echo carrying `size` payload bytes, as one buffer. */
  const echoFrame = (streamId: number, size: number): Buffer => {
    const data = encodeRequest({ service: 'svc', method: 'Echo', payload: new Uint8Array(size).fill(7), timeoutNano: 0, metadata: [] });
    return Buffer.concat([header(streamId, data.length), data]);
  };

  it('buffers a long frame only within the shared budget; one that does not fit waits, frames up to the free length do not', async () => {
    const { path, server } = await startServer({ svc: { Echo: echo } }, { partialFrameBudget: 1024 * KiB, freeFrameLength: 64 * KiB });
    const budget = server.partialFrameBudget;
    // A holds most of an 800 KiB frame: the budget reserves its whole length.
    const a = await RawPeer.connect(path);
    const aFrame = echoFrame(1, 800 * KiB);
    a.socket.write(aFrame.subarray(0, 400 * KiB));
    await until(() => budget.usedBytes === aFrame.length - 10);

    // B's 800 KiB frame does not fit: B's connection is not read further (its next request waits too).
    const b = await RawPeer.connect(path);
    b.socket.write(Buffer.concat([echoFrame(1, 800 * KiB), echoFrame(3, 10)]));
    // C's frame of up to the free length needs no budget and is answered meanwhile.
    const c = await RawPeer.connect(path);
    c.socket.write(echoFrame(1, 60 * KiB));
    expect((await c.waitFor(1)).payload.length).toBe(60 * KiB);
    expect(b.responses).toEqual([]);
    expect(budget.usedBytes).toBe(aFrame.length - 10);

    // A completes its frame: answered in full; its reservation goes to B, whose calls are then answered in order.
    a.socket.write(aFrame.subarray(400 * KiB));
    expect((await a.waitFor(1)).payload.length).toBe(800 * KiB);
    expect((await b.waitFor(1)).payload.length).toBe(800 * KiB);
    expect((await b.waitFor(3)).payload.length).toBe(10);
    expect(b.responses.map((r) => r.streamId)).toEqual([1, 3]);
    expect(budget.usedBytes).toBe(0);
  });

  it('gives the reservation back when a connection closes mid-frame', async () => {
    const { path, server } = await startServer({ svc: { Echo: echo } }, { partialFrameBudget: 1024 * KiB, freeFrameLength: 64 * KiB });
    const budget = server.partialFrameBudget;
    const peers = await Promise.all([1, 2, 3].map(() => RawPeer.connect(path)));
    // Three peers each declare 400 KiB and send half: two fit, the third waits.
    for (const peer of peers) {
      peer.socket.write(header(1, 400 * KiB));
      peer.socket.write(new Uint8Array(200 * KiB));
    }
    await until(() => budget.usedBytes === 800 * KiB);
    for (const peer of peers) peer.socket.destroy();
    await Promise.all(peers.map((p) => p.closed));
    await until(() => server.connectionCount === 0);
    expect(budget.usedBytes).toBe(0);
  });

  it('holds at most the budget however many connections each hold a 4 MiB partial frame, and answers all in the end', async () => {
    const { path, server } = await startServer({ svc: { Echo: echo } }, { partialFrameBudget: 8 << 20 });
    const budget = server.partialFrameBudget;
    const peers = await Promise.all(Array.from({ length: 20 }, () => RawPeer.connect(path)));
    for (const peer of peers) peer.socket.write(Buffer.concat([header(1, MAX_DATA_LENGTH), new Uint8Array(MAX_DATA_LENGTH - 1)]));
    await until(() => budget.usedBytes === 2 * MAX_DATA_LENGTH);
    // A new connection's small request is answered while the budget is taken.
    const small = await RawPeer.connect(path);
    small.request(1, 'svc', 'Echo', enc('ok'));
    expect(dec((await small.waitFor(1)).payload)).toBe('ok');
    expect(budget.usedBytes).toBe(2 * MAX_DATA_LENGTH);
    // Each frame's last byte completes it (garbage: InvalidArgument); two at a time get the budget.
    for (const peer of peers) peer.socket.write(new Uint8Array(1));
    const codes = await Promise.all(peers.map(async (p) => statusOf(await p.waitFor(1))?.[0]));
    expect(codes).toEqual(peers.map(() => Code.InvalidArgument));
    expect(budget.usedBytes).toBe(0);
  });

  it('closes connections beyond maxConnections at once, and accepts again when one closes', async () => {
    const { path, server } = await startServer({ svc: { Echo: echo } }, { maxConnections: 2 });
    const refusedSockets: Socket[] = [];
    server.on('refused', (socket) => refusedSockets.push(socket));
    const first = await RawPeer.connect(path);
    const second = await RawPeer.connect(path);
    await until(() => server.connectionCount === 2);
    const third = await RawPeer.connect(path);
    await third.closed;
    expect(refusedSockets).toHaveLength(1);
    expect(third.responses).toEqual([]);
    second.request(1, 'svc', 'Echo', enc('two'));
    expect(dec((await second.waitFor(1)).payload)).toBe('two');
    first.socket.destroy();
    await until(() => server.connectionCount === 1);
    const fourth = await RawPeer.connect(path);
    fourth.request(1, 'svc', 'Echo', enc('four'));
    expect(dec((await fourth.waitFor(1)).payload)).toBe('four');
  });
});
