/**
 * Interop between ttrpc-ts and Go's github.com/containerd/ttrpc as Debian ships it, built offline by
 * scripts/ttrpc-go-peer.sh: 1.2 (sid's golang-github-containerd-ttrpc-dev and Go, test/interop/go-peer) and
 * 1.1 (bookworm's, unary only, test/interop/go-peer-1.1). Both sides serve the same service,
 * ttrpcts.interop.Echo, with google.protobuf.StringValue messages:
 *   - Go client -> ttrpc-ts server: the Go peer runs every scenario and reports one line each;
 *   - ttrpc-ts client -> Go server: the same scenarios from TypeScript, through the typed API.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import protobuf from 'protobufjs/minimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Code,
  FrameReader,
  MAX_DATA_LENGTH,
  MessageType,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
  bidiStream,
  clientStream,
  decodeResponse,
  defineService,
  encodeHeader,
  encodeRequest,
  registerService,
  serverStream,
  typedClient,
  unary,
  unixSocketRequireSameUser,
  unixSocketRequireUidGid,
} from 'ttrpc-ts';
import type { Codec, ResponseMessage } from 'ttrpc-ts';
import { native } from '../../src/sys/native.js';

const repo = join(import.meta.dirname, '..', '..');
const SERVICE = 'ttrpcts.interop.Echo';
const STRING_VALUE_URL = 'type.googleapis.com/google.protobuf.StringValue';

/** google.protobuf.StringValue { string value = 1; } */
const stringValue: Codec<string> = {
  encode: (value) => (value === '' ? new Uint8Array(0) : protobuf.Writer.create().uint32(10).string(value).finish()),
  decode: (bytes) => {
    const reader = protobuf.Reader.create(bytes);
    let value = '';
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) value = reader.string();
      else reader.skipType(tag & 7);
    }
    return value;
  },
};

const served = {
  Echo: unary(stringValue, stringValue),
  Metadata: unary(stringValue, stringValue),
  Fail: unary(stringValue, stringValue),
  Sleep: unary(stringValue, stringValue),
  Deadline: unary(stringValue, stringValue),
  Size: unary(stringValue, stringValue),
  Length: unary(stringValue, stringValue),
  ServerStream: serverStream(stringValue, stringValue),
  ClientStream: clientStream(stringValue, stringValue),
  BidiStream: bidiStream(stringValue, stringValue),
};
/** What both servers implement. */
const EchoServed = defineService(SERVICE, served);
/** What the clients call: also a method no server has. */
const Echo = defineService(SERVICE, { ...served, NoSuchMethod: unary(stringValue, stringValue) });

type Series = '1.2' | '1.1';
const scratch = mkdtempSync(join(tmpdir(), 'ttrpc-interop-'));
const peers = new Map<Series, Promise<{ peer: string; version: string }>>();

/** Builds (or finds cached) the Go peer of a ttrpc series; the version is Debian's. */
function goPeer(series: Series): Promise<{ peer: string; version: string }> {
  let found = peers.get(series);
  if (found === undefined) {
    found = new Promise((resolve, reject) => {
      execFile('bash', [join(repo, 'scripts/ttrpc-go-peer.sh'), series], { timeout: 600_000 }, (error, out, err) => {
        if (error) {
          reject(
            new Error(
              `scripts/ttrpc-go-peer.sh ${series} could not build the Go peer (it needs Debian's archive: ` +
                `sid for ttrpc 1.2 and its Go, bookworm for 1.1; scripts/ensure-deps.sh configures sid):\n${err}`,
            ),
          );
          return;
        }
        const [peer, version] = out.trim().split(' ') as [string, string];
        resolve({ peer, version });
      });
    });
    peers.set(series, found);
  }
  return found;
}
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sleepUntilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

function startTsServer(
  path: string,
  authorize: (socket: import('node:net').Socket) => boolean,
): Promise<{ server: TtrpcServer; net: Server }> {
  const server = new TtrpcServer({ authorize });
  registerService(server, EchoServed, {
    Echo: async (value) => value,
    Metadata: async (key, ctx) => (ctx.metadata.get(key) ?? []).join(','),
    Fail: async (value) => {
      const [code, message] = value.split(/:(.*)/s) as [string, string];
      throw new TtrpcError(Number(code), message, [{ typeUrl: STRING_VALUE_URL, value: stringValue.encode(`detail: ${message}`) }]);
    },
    Sleep: (_value, ctx) => sleepUntilAborted(ctx.signal),
    Deadline: async (_value, ctx) => (ctx.deadline === 0 ? 'none' : String(Math.floor(ctx.deadline - Date.now()))),
    Size: async (value) => 'x'.repeat(Number(value)),
    Length: async (value) => String(value.length),
    ServerStream: async (request, stream) => {
      const [count, fail] = (request ?? '').split(':');
      for (let i = 0; i < Number(count); i++) await stream.send(String(i));
      if (fail === 'fail') throw new TtrpcError(Code.NotFound, `stream failed after ${count}`);
    },
    ClientStream: async (stream) => {
      let all = '';
      for await (const part of stream) all += part;
      return all;
    },
    BidiStream: async (stream) => {
      for await (const word of stream) await stream.send(word.toUpperCase());
    },
  });
  const net = createServer();
  server.serve(net);
  return new Promise((resolve) => net.listen(path, () => resolve({ server, net })));
}

const readCredentials = (fd: number) => native().getPeerCred(fd);

const goClientScenarios: Record<Series, string[]> = {
  '1.2': [
    'unary',
    'metadata',
    'error-code-message-details',
    'unimplemented',
    'deadline-propagated',
    'deadline-exceeded',
    'cancelled',
    'request-at-limit',
    'response-at-limit',
    'concurrent-200',
    'server-stream',
    'server-stream-error',
    'client-stream',
    'bidi-stream',
    'concurrent-streams-50',
    'stream-deadline-exceeded',
    'response-over-limit',
  ],
  // ttrpc 1.1 has no streams, and sends frames over the limit (ttrpc-ts refuses them and goes on).
  '1.1': [
    'unary',
    'metadata',
    'error-code-message-details',
    'unimplemented',
    'deadline-propagated',
    'deadline-exceeded',
    'cancelled',
    'request-at-limit',
    'request-over-limit',
    'response-at-limit',
    'concurrent-200',
    'response-over-limit',
  ],
};

const runGoClient = async (peer: string, path: string): Promise<{ lines: string[]; code: number | null }> =>
  new Promise((resolve) => {
    const child = execFile(peer, ['client', path], { timeout: 120_000, maxBuffer: 1 << 20 }, (_error, out) =>
      resolve({ lines: out.trim().split('\n'), code: child.exitCode }),
    );
  });

describe.each(['1.2', '1.1'] as const)('Go ttrpc %s client -> ttrpc-ts server', (series) => {
  // A cold build unpacks Debian's Go and sources first: minutes.
  beforeAll(() => goPeer(series).then(() => undefined), 600_000);

  it('passes every scenario of the Go peer', async () => {
    const { peer, version } = await goPeer(series);
    const path = join(scratch, `ts-server-${series}.sock`);
    const { server } = await startTsServer(path, unixSocketRequireSameUser(readCredentials));
    try {
      const { lines, code } = await runGoClient(peer, path);
      console.log(`Go ttrpc ${version} client -> ttrpc-ts server:\n${lines.join('\n')}`);
      expect(lines.filter((line) => !line.startsWith('ok '))).toEqual([]);
      expect(lines.map((line) => line.slice(3))).toEqual(goClientScenarios[series]);
      expect(code).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('refuses a Go client whose uid the peer-credential check does not admit', async () => {
    const { peer } = await goPeer(series);
    const path = join(scratch, `ts-server-other-uid-${series}.sock`);
    const { server } = await startTsServer(path, unixSocketRequireUidGid((process.geteuid?.() ?? 0) + 1, -1, readCredentials));
    try {
      const { lines } = await runGoClient(peer, path);
      expect(lines[0]).toMatch(/^FAIL unary: .*closed/);
    } finally {
      await server.close();
    }
  });
});

/** Declares no test: a scenario the Go version under test does not have is left out, not skipped. */
const noTest = ((..._args: unknown[]) => undefined) as unknown as typeof it;

describe.each(['1.2', '1.1'] as const)('ttrpc-ts client -> Go ttrpc %s server', (series) => {
  let child: ChildProcess;
  let client: TtrpcClient;
  let echo: ReturnType<typeof typedClient<typeof Echo.methods>>;
  const path = join(scratch, `go-server-${series}.sock`);
  // Only the scenarios a version has are declared: nothing is skipped.
  const streams = series === '1.2' ? it : noTest;

  beforeAll(async () => {
    const { peer, version } = await goPeer(series);
    console.log(`ttrpc-ts client -> Go ttrpc ${version} server`);
    child = spawn(peer, ['server', path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('ready\n');
    client = await TtrpcClient.connect(path);
    echo = typedClient(client, Echo);
  }, 600_000);
  afterAll(async () => {
    await client?.close();
    child?.kill('SIGTERM');
  });

  const codeOf = async (promise: Promise<unknown>): Promise<[Code, string]> => {
    const error = await promise.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TtrpcError);
    return [(error as TtrpcError).code, (error as TtrpcError).message];
  };

  it('unary', async () => {
    expect(await echo.Echo('hello')).toBe('hello');
  });

  it('metadata (a key with two values)', async () => {
    expect(await echo.Metadata('interop-key', { metadata: { 'interop-key': ['one', 'two'] } })).toBe('one,two');
  });

  it('error code, message and details', async () => {
    const error = await echo.Fail('5:no such thing').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TtrpcError);
    const { code, message, details } = error as TtrpcError;
    expect([code, message]).toEqual([Code.NotFound, 'no such thing']);
    expect(details.map((d) => [d.typeUrl, stringValue.decode(d.value)])).toEqual([[STRING_VALUE_URL, 'detail: no such thing']]);
  });

  it('unimplemented method', async () => {
    expect((await codeOf(echo.NoSuchMethod('')))[0]).toBe(Code.Unimplemented);
  });

  it('deadline: timeout_nano reaches the Go handler as its context deadline', async () => {
    const left = Number(await echo.Deadline('', { timeoutMs: 10_000 }));
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(10_000);
    expect(await echo.Deadline('')).toBe('none');
  });

  it('deadline exceeded', async () => {
    expect((await codeOf(echo.Sleep('', { timeoutMs: 300 })))[0]).toBe(Code.DeadlineExceeded);
  });

  it('a cancelled call fails Canceled and the connection goes on', async () => {
    const controller = new AbortController();
    const call = echo.Sleep('', { signal: controller.signal, timeoutMs: 30_000 });
    setTimeout(() => controller.abort(), 100);
    expect((await codeOf(call))[0]).toBe(Code.Canceled);
    expect(await echo.Echo('after cancel')).toBe('after cancel');
  });

  it('a request of exactly 4 MiB is served; one over it is refused before sending', async () => {
    const frameLength = (n: number): number =>
      encodeRequest({ service: SERVICE, method: 'Length', payload: stringValue.encode('x'.repeat(n)), timeoutNano: 0, metadata: [] })
        .length;
    let n = MAX_DATA_LENGTH - 100;
    n += MAX_DATA_LENGTH - frameLength(n);
    n += MAX_DATA_LENGTH - frameLength(n);
    expect(frameLength(n)).toBe(MAX_DATA_LENGTH);
    expect(await echo.Length('x'.repeat(n))).toBe(String(n));
    const [code, message] = await codeOf(echo.Length('x'.repeat(n + 1)));
    expect(code).toBe(Code.ResourceExhausted);
    expect(message).toBe(`message length ${MAX_DATA_LENGTH + 1} exceed maximum message size of ${MAX_DATA_LENGTH}`);
  });

  it('a frame over 4 MiB sent anyway is answered ResourceExhausted by Go, and its connection goes on', async () => {
    const socket = createConnection(path);
    await once(socket, 'connect');
    const responses: Array<{ streamId: number; response: ResponseMessage }> = [];
    const reader = new FrameReader({
      onFrame: (frame) => responses.push({ streamId: frame.header.streamId, response: decodeResponse(Uint8Array.from(frame.data)) }),
      onOversizedFrame: () => {},
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    const length = MAX_DATA_LENGTH + 1;
    socket.write(encodeHeader({ length, streamId: 1, type: MessageType.Request, flags: 0 }));
    socket.write(new Uint8Array(length));
    const next = encodeRequest({ service: SERVICE, method: 'Echo', payload: stringValue.encode('after'), timeoutNano: 0, metadata: [] });
    socket.write(encodeHeader({ length: next.length, streamId: 3, type: MessageType.Request, flags: 0 }));
    socket.write(next);
    while (responses.length < 2) await once(socket, 'data');
    socket.destroy();
    expect(responses[0]?.streamId).toBe(1);
    expect(responses[0]?.response.status?.code).toBe(Code.ResourceExhausted);
    expect(responses[0]?.response.status?.message).toBe(`message length ${length} exceed maximum message size of ${MAX_DATA_LENGTH}`);
    expect(responses[1]?.streamId).toBe(3);
    expect(stringValue.decode(responses[1]!.response.payload)).toBe('after');
  });

  it('a response of exactly 4 MiB arrives', async () => {
    expect((await echo.Size(String(MAX_DATA_LENGTH - 10))).length).toBe(MAX_DATA_LENGTH - 10);
  });

  it('200 concurrent calls on one connection', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => echo.Echo(`call ${i}`)));
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `call ${i}`));
  });

  streams('server stream', async () => {
    const got: string[] = [];
    for await (const message of echo.ServerStream('5')) got.push(message);
    expect(got).toEqual(['0', '1', '2', '3', '4']);
  });

  streams('server stream that fails after two messages', async () => {
    const stream = echo.ServerStream('2:fail');
    expect([await stream.recv(), await stream.recv()]).toEqual(['0', '1']);
    expect((await codeOf(stream.recv()))[0]).toBe(Code.NotFound);
  });

  streams('client stream', async () => {
    const stream = echo.ClientStream();
    for (const part of ['a', 'b', 'c']) await stream.send(part);
    await stream.closeSend();
    expect(await stream.recv()).toBe('abc');
    expect(await stream.recv()).toBeUndefined();
  });

  streams('bidirectional stream', async () => {
    const stream = echo.BidiStream();
    for (const word of ['one', 'two', 'three']) {
      await stream.send(word);
      expect(await stream.recv()).toBe(word.toUpperCase());
    }
    await stream.closeSend();
    expect(await stream.recv()).toBeUndefined();
  });

  streams('50 bidirectional streams at once on one connection', async () => {
    const talk = async (n: number): Promise<string[]> => {
      const stream = echo.BidiStream();
      const out: string[] = [];
      for (const word of [`a${n}`, `b${n}`]) {
        await stream.send(word);
        out.push((await stream.recv()) ?? '');
      }
      await stream.closeSend();
      expect(await stream.recv()).toBeUndefined();
      return out;
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => talk(n)));
    expect(results).toEqual(Array.from({ length: 50 }, (_, n) => [`A${n}`, `B${n}`]));
  });

  streams('a stream past its deadline fails DeadlineExceeded', async () => {
    const stream = echo.BidiStream({ timeoutMs: 300 });
    expect((await codeOf(stream.recv()))[0]).toBe(Code.DeadlineExceeded);
    expect(await echo.Echo('after')).toBe('after');
  });

  (series === '1.1' ? it : noTest)('streaming methods: Go 1.1 has none and answers Unimplemented', async () => {
    const stream = echo.ServerStream('1');
    expect((await codeOf(stream.recv()))[0]).toBe(Code.Unimplemented);
    expect(await echo.Echo('after')).toBe('after');
  });

  // ttrpc 1.1 sends what it is given: the client skips the frame unread, fails the call
  // ResourceExhausted and goes on.
  (series === '1.1' ? it : noTest)('a response over 4 MiB from Go 1.1: the client refuses it and the connection goes on', async () => {
    const [code, message] = await codeOf(echo.Size(String(MAX_DATA_LENGTH - 9)));
    expect([code, message]).toEqual([
      Code.ResourceExhausted,
      `message length ${MAX_DATA_LENGTH + 1} exceed maximum message size of ${MAX_DATA_LENGTH}`,
    ]);
    expect(await echo.Echo('still here')).toBe('still here');
  });

  // Last: Go 1.2's server closes the whole connection when its own answer is over the limit (1.2.7 logs
  // "failed sending message on channel" and drops the connection); ttrpc-ts answers ResourceExhausted.
  (series === '1.2' ? it : noTest)('a response over 4 MiB: Go 1.2 drops the connection, the client fails Unavailable', async () => {
    const [code] = await codeOf(echo.Size(String(MAX_DATA_LENGTH - 9)));
    expect(code).toBe(Code.Unavailable);
    await client.closed;
  });
});
