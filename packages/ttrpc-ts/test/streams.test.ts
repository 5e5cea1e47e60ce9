import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Code, Flags, FrameReader, MessageType, TtrpcClient, TtrpcError, TtrpcServer, encodeHeader, encodeRequest } from '../src/index.js';
import type { FrameHeader, StreamMethod, TtrpcServerOptions, UnaryHandler } from '../src/index.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  streams: Record<string, StreamMethod>,
  unary: Record<string, UnaryHandler> = {},
  options?: TtrpcServerOptions,
): Promise<{ server: TtrpcServer; path: string; client: TtrpcClient }> {
  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-streams-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 's.sock');
  const server = new TtrpcServer(options);
  server.register('svc', unary, streams);
  const netServer = createServer();
  server.serve(netServer);
  await new Promise<void>((resolve) => netServer.listen(path, resolve));
  cleanups.push(() => server.close());
  const client = await TtrpcClient.connect(path);
  cleanups.push(() => client.close());
  return { server, path, client };
}

const countTo: StreamMethod = {
  streamingClient: false,
  streamingServer: true,
  handler: async (stream) => {
    const count = Number(dec(await stream.recv()));
    for (let i = 0; i < count; i++) await stream.send(enc(String(i)));
    if (count < 0) throw new TtrpcError(Code.OutOfRange, 'negative');
  },
};
const join_: StreamMethod = {
  streamingClient: true,
  streamingServer: false,
  handler: async (stream) => {
    const parts: string[] = [];
    for await (const part of stream) parts.push(dec(part) ?? '');
    return enc(parts.join('+'));
  },
};
const shout: StreamMethod = {
  streamingClient: true,
  streamingServer: true,
  handler: async (stream) => {
    for await (const word of stream) await stream.send(enc((dec(word) ?? '').toUpperCase()));
  },
};
const both = { streamingClient: true, streamingServer: true };

async function collect(stream: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const message of stream) out.push(dec(message) ?? '');
  return out;
}

describe('streams', () => {
  it('server stream: the request is the one message in, then every message out and the end', async () => {
    const { client } = await serve({ CountTo: countTo });
    expect(await collect(client.stream('svc', 'CountTo', { streamingClient: false, streamingServer: true }, enc('3')))).toEqual([
      '0',
      '1',
      '2',
    ]);
    expect(await collect(client.stream('svc', 'CountTo', { streamingClient: false, streamingServer: true }, enc('0')))).toEqual([]);
  });

  it('a server stream that fails delivers what came before, then the status', async () => {
    const { client } = await serve({
      Fails: {
        streamingClient: false,
        streamingServer: true,
        handler: async (stream) => {
          await stream.send(enc('first'));
          throw new TtrpcError(Code.NotFound, 'gone', [{ typeUrl: 'x/y', value: enc('d') }]);
        },
      },
    });
    const stream = client.stream('svc', 'Fails', { streamingClient: false, streamingServer: true }, enc(''));
    expect(dec(await stream.recv())).toBe('first');
    const error = await stream.recv().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TtrpcError);
    expect([(error as TtrpcError).code, (error as TtrpcError).message, (error as TtrpcError).details.length]).toEqual([
      Code.NotFound,
      'gone',
      1,
    ]);
  });

  it('client stream: messages in, then closeSend, then the one answer', async () => {
    const { client } = await serve({ Join: join_ });
    const stream = client.stream('svc', 'Join', { streamingClient: true, streamingServer: false });
    for (const part of ['a', 'b', 'c']) await stream.send(enc(part));
    await stream.closeSend();
    expect(dec(await stream.recv())).toBe('a+b+c');
    expect(await stream.recv()).toBeUndefined();
  });

  it('bidirectional stream, and many streams at once on one connection', async () => {
    const { client } = await serve({ Shout: shout });
    const talk = async (n: number): Promise<string[]> => {
      const stream = client.stream('svc', 'Shout', both);
      const out: string[] = [];
      for (const word of [`a${n}`, `b${n}`]) {
        await stream.send(enc(word));
        out.push(dec(await stream.recv()) ?? '');
      }
      await stream.closeSend();
      expect(await stream.recv()).toBeUndefined();
      return out;
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => talk(n)));
    expect(results).toEqual(Array.from({ length: 50 }, (_, n) => [`A${n}`, `B${n}`]));
  });

  it('ends a successful server stream with a Data frame flagged remote-closed and no-data, as Go does', async () => {
    const { path } = await serve({ CountTo: countTo });
    const socket = createConnection(path);
    cleanups.push(() => void socket.destroy());
    await once(socket, 'connect');
    const frames: Array<{ header: FrameHeader; data: string }> = [];
    const reader = new FrameReader({
      onFrame: (f) => frames.push({ header: f.header, data: dec(f.data) ?? '' }),
      onOversizedFrame: () => {},
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    const request = encodeRequest({ service: 'svc', method: 'CountTo', payload: enc('1'), timeoutNano: 0, metadata: [] });
    socket.write(encodeHeader({ length: request.length, streamId: 1, type: MessageType.Request, flags: Flags.RemoteClosed }));
    socket.write(request);
    while (frames.length < 2) await once(socket, 'data');
    expect(frames.map((f) => [f.header.type, f.header.flags, f.data])).toEqual([
      [MessageType.Data, 0, '0'],
      [MessageType.Data, Flags.RemoteClosed | Flags.NoData, ''],
    ]);
  });

  it('a stream past its deadline fails DeadlineExceeded on both sides', async () => {
    let serverSaw: unknown;
    const { client } = await serve({
      Wait: {
        ...both,
        handler: async (stream) => {
          serverSaw = await stream.recv().catch((thrown: unknown) => thrown);
          throw serverSaw;
        },
      },
    });
    const stream = client.stream('svc', 'Wait', both, undefined, { timeoutMs: 100 });
    const error = await stream.recv().catch((thrown: unknown) => thrown);
    expect((error as TtrpcError).code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => (serverSaw as TtrpcError | undefined)?.code).toBe(Code.DeadlineExceeded);
  });

  it('cancel() ends the stream here with Canceled; closing the connection cancels the server side', async () => {
    const serverSaw: unknown[] = [];
    const { client } = await serve({
      Wait: {
        ...both,
        handler: async (stream) => {
          serverSaw.push(await stream.recv().catch((thrown: unknown) => thrown));
          serverSaw.push(await stream.recv().catch((thrown: unknown) => thrown));
        },
      },
    });
    const stream = client.stream('svc', 'Wait', both);
    await stream.send(enc('only'));
    await expect.poll(() => serverSaw.length).toBe(1);
    stream.cancel();
    expect(((await stream.recv().catch((thrown: unknown) => thrown)) as TtrpcError).code).toBe(Code.Canceled);
    expect(((await stream.send(enc('late')).catch((thrown: unknown) => thrown)) as TtrpcError).code).toBe(Code.FailedPrecondition);
    expect(dec(serverSaw[0] as Uint8Array)).toBe('only');
    // ttrpc has no cancel frame: the server learns when the connection closes.
    await client.close();
    await expect.poll(() => (serverSaw[1] as TtrpcError | undefined)?.code).toBe(Code.Canceled);
  });

  it('a handler that does not read holds back the connection, loses nothing, and the rest is read once it does', async () => {
    let startReading!: () => void;
    const mayRead = new Promise<void>((resolve) => (startReading = resolve));
    const { client } = await serve({
      Slow: {
        streamingClient: true,
        streamingServer: false,
        handler: async (stream) => {
          await mayRead;
          return enc(String((await collect(stream)).length));
        },
      },
    });
    const stream = client.stream('svc', 'Slow', { streamingClient: true, streamingServer: false });
    const payload = new Uint8Array(64 << 10);
    const sends = Array.from({ length: 200 }, () => stream.send(payload));
    const closed = stream.closeSend();
    startReading();
    await Promise.all([...sends, closed]);
    expect(dec(await stream.recv())).toBe('200');
  });

  it('graceful shutdown lets an open stream finish and be answered', async () => {
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const { server, client } = await serve({
      Join: {
        ...join_,
        handler: async (stream, ctx) => {
          started();
          return join_.handler(stream, ctx);
        },
      },
    });
    const stream = client.stream('svc', 'Join', { streamingClient: true, streamingServer: false });
    await stream.send(enc('before'));
    await handlerStarted;
    const shutdown = server.shutdown();
    await stream.send(enc('during'));
    await stream.closeSend();
    expect(dec(await stream.recv())).toBe('before+during');
    await shutdown;
    await client.closed;
  });

  it('refuses to register a method both as unary and as stream', () => {
    const server = new TtrpcServer();
    expect(() => server.register('svc', { X: async () => enc('') }, { X: join_ })).toThrow(/unary and as stream/);
  });

  it('send() on a method that does not stream from that side fails FailedPrecondition', async () => {
    const { client } = await serve({ CountTo: countTo });
    const stream = client.stream('svc', 'CountTo', { streamingClient: false, streamingServer: true }, enc('1'));
    expect(((await stream.send(enc('x')).catch((thrown: unknown) => thrown)) as TtrpcError).code).toBe(Code.FailedPrecondition);
    expect(await collect(stream)).toEqual(['0']);
  });
});
