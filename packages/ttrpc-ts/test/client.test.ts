import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Code,
  decodeRequest,
  encodeHeader,
  encodeResponse,
  FrameReader,
  MAX_DATA_LENGTH,
  MessageType,
  socketPathFromAddress,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
} from '../src/index.js';
import type { CallContext, RequestMessage } from '../src/index.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempSocketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-client-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 's.sock');
}

async function listen(netServer: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => netServer.listen(path, resolve));
}

async function connect(address: string): Promise<TtrpcClient> {
  const client = await TtrpcClient.connect(address);
  cleanups.push(() => client.close());
  return client;
}

/** Rejection of a promise as a TtrpcError (fails the test if it resolves or rejects otherwise). */
async function rejection(promise: Promise<unknown>): Promise<TtrpcError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TtrpcError);
  return error as TtrpcError;
}

describe('TtrpcClient with TtrpcServer over a unix socket', () => {
  async function startEchoServer(): Promise<{ path: string; contexts: CallContext[]; server: TtrpcServer }> {
    const path = tempSocketPath();
    const contexts: CallContext[] = [];
    const server = new TtrpcServer();
    server.register('test.v1.Echo', {
      Echo: async (payload, ctx) => {
        contexts.push(ctx);
        return payload;
      },
      Fail: async () => {
        throw new TtrpcError(Code.AlreadyExists, 'exec e1 already exists');
      },
      Hang: () => new Promise(() => {}),
    });
    const netServer = createServer();
    server.serve(netServer);
    await listen(netServer, path);
    cleanups.push(() => server.close());
    return { path, contexts, server };
  }

  it('round-trips payloads, metadata and timeouts, with a unix:// address', async () => {
    const { path, contexts } = await startEchoServer();
    const client = await connect(`unix://${path}`);
    const before = Date.now();
    const reply = await client.call('test.v1.Echo', 'Echo', enc('hello'), {
      timeoutMs: 5000,
      metadata: { 'containerd-namespace-ttrpc': 'default', multi: ['1', '2'] },
    });
    expect(dec(reply)).toBe('hello');
    expect(contexts[0]?.metadata.get('containerd-namespace-ttrpc')).toEqual(['default']);
    expect(contexts[0]?.metadata.get('multi')).toEqual(['1', '2']);
    expect(contexts[0]?.deadline).toBeGreaterThanOrEqual(before + 4000);
    expect(await client.call('test.v1.Echo', 'Echo', new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('pipelines many calls on one connection', async () => {
    const { path } = await startEchoServer();
    const client = await connect(path);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => client.call('test.v1.Echo', 'Echo', enc(`m${i}`))));
    expect(replies.map(dec)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  it('rejects with the server status code and message', async () => {
    const { path } = await startEchoServer();
    const client = await connect(path);
    const failed = await rejection(client.call('test.v1.Echo', 'Fail', new Uint8Array(0)));
    expect([failed.code, failed.message]).toEqual([Code.AlreadyExists, 'exec e1 already exists']);
    const unknown = await rejection(client.call('test.v1.Echo', 'Nope', new Uint8Array(0)));
    expect([unknown.code, unknown.message]).toEqual([Code.Unimplemented, 'method Nope']);
  });

  it('rejects pending calls with Unavailable "ttrpc: closed" when closed, and later calls too', async () => {
    const { path } = await startEchoServer();
    const client = await connect(path);
    const pending = rejection(client.call('test.v1.Echo', 'Hang', new Uint8Array(0)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await client.close();
    const error = await pending;
    expect([error.code, error.message]).toEqual([Code.Unavailable, 'ttrpc: closed']);
    expect(client.isClosed).toBe(true);
    expect((await rejection(client.call('test.v1.Echo', 'Echo', new Uint8Array(0)))).code).toBe(Code.Unavailable);
  });

  it('rejects pending calls when the server goes away, and resolves `closed`', async () => {
    const { path, server } = await startEchoServer();
    const client = await connect(path);
    const pending = rejection(client.call('test.v1.Echo', 'Hang', new Uint8Array(0)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    await server.close();
    expect((await pending).message).toBe('ttrpc: closed');
    await client.closed;
  });

  it('fails a call locally at its timeout and on abort', async () => {
    const { path } = await startEchoServer();
    const client = await connect(path);
    const timedOut = await rejection(client.call('test.v1.Echo', 'Hang', new Uint8Array(0), { timeoutMs: 20 }));
    expect(timedOut.code).toBe(Code.DeadlineExceeded);
    const controller = new AbortController();
    const aborted = rejection(client.call('test.v1.Echo', 'Hang', new Uint8Array(0), { signal: controller.signal }));
    controller.abort();
    expect((await aborted).code).toBe(Code.Canceled);
    expect(dec(await client.call('test.v1.Echo', 'Echo', enc('still usable')))).toBe('still usable');
  });

  it('refuses to send a request over 4 MiB', async () => {
    const { path } = await startEchoServer();
    const client = await connect(path);
    const error = await rejection(client.call('test.v1.Echo', 'Echo', new Uint8Array(MAX_DATA_LENGTH)));
    expect(error.code).toBe(Code.ResourceExhausted);
  });

  it('fails to connect to a missing socket with Unavailable', async () => {
    const error = await rejection(TtrpcClient.connect(tempSocketPath()));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.message).toMatch(/ENOENT/);
  });

  it('strips unix:// from addresses', () => {
    expect(socketPathFromAddress('unix:///run/x.sock')).toBe('/run/x.sock');
    expect(socketPathFromAddress('/run/x.sock')).toBe('/run/x.sock');
  });
});

describe('TtrpcClient against a raw peer', () => {
  /** A server that records requests and lets the test answer them by hand. */
  async function rawServer(): Promise<{
    path: string;
    requests: Array<{ streamId: number; request: RequestMessage }>;
    peer: Promise<Socket>;
  }> {
    const path = tempSocketPath();
    const requests: Array<{ streamId: number; request: RequestMessage }> = [];
    const netServer = createServer();
    const peer = new Promise<Socket>((resolve) =>
      netServer.once('connection', (socket) => {
        const reader = new FrameReader({
          onFrame: (frame) => requests.push({ streamId: frame.header.streamId, request: decodeRequest(Uint8Array.from(frame.data)) }),
          onOversizedFrame: () => {},
        });
        socket.on('data', (chunk: Buffer) => reader.push(chunk));
        socket.on('error', () => {});
        cleanups.push(() => void socket.destroy());
        resolve(socket);
      }),
    );
    await listen(netServer, path);
    cleanups.push(() => new Promise<void>((resolve) => netServer.close(() => resolve())));
    return { path, requests, peer };
  }

  const until = async (condition: () => boolean): Promise<void> => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
  };

  it('uses stream ids 1, 3, 5 and sets timeout_nano; matches out-of-order responses', async () => {
    const { path, requests, peer } = await rawServer();
    const client = await connect(path);
    const first = client.call('s', 'A', enc('a'), { timeoutMs: 1500 });
    const second = rejection(client.call('s', 'B', enc('b')));
    const third = client.call('s', 'C', enc('c'));
    await until(() => requests.length === 3);
    expect(requests.map((r) => r.streamId)).toEqual([1, 3, 5]);
    expect(requests[0]?.request).toMatchObject({ service: 's', method: 'A', timeoutNano: 1_500_000_000 });
    expect(requests[1]?.request.timeoutNano).toBe(0);
    const socket = await peer;
    const answer = (streamId: number, data: Uint8Array): void => {
      socket.write(encodeHeader({ length: data.length, streamId, type: MessageType.Response, flags: 0 }));
      socket.write(data);
    };
    answer(5, encodeResponse({ payload: enc('C') }));
    answer(99, encodeResponse({ payload: enc('nobody asked') }));
    answer(1, new Uint8Array(0)); // an empty Response: success, empty payload
    answer(3, encodeResponse({ status: { code: Code.NotFound, message: 'gone', details: [] }, payload: new Uint8Array(0) }));
    expect(dec(await third)).toBe('C');
    expect(await first).toEqual(new Uint8Array(0));
    expect((await second).code).toBe(Code.NotFound);
  });

  it('skips an oversized response and fails only that call', async () => {
    const { path, requests, peer } = await rawServer();
    const client = await connect(path);
    const big = rejection(client.call('s', 'Big', new Uint8Array(0)));
    const small = client.call('s', 'Small', new Uint8Array(0));
    await until(() => requests.length === 2);
    const socket = await peer;
    socket.write(encodeHeader({ length: MAX_DATA_LENGTH + 1, streamId: 1, type: MessageType.Response, flags: 0 }));
    socket.write(new Uint8Array(MAX_DATA_LENGTH + 1));
    const ok = encodeResponse({ payload: enc('ok') });
    socket.write(encodeHeader({ length: ok.length, streamId: 3, type: MessageType.Response, flags: 0 }));
    socket.write(ok);
    expect((await big).code).toBe(Code.ResourceExhausted);
    expect(dec(await small)).toBe('ok');
  });
});
