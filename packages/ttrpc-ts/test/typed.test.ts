import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs/minimal.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Code,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
  bidiStream,
  clientStream,
  codec,
  defineService,
  registerService,
  serverStream,
  typedClient,
  unary,
  unixSocketRequireSameUser,
  unixSocketRequireUidGid,
} from '../src/index.js';
import type { PeerCredentials } from '../src/index.js';

/** Shaped like a class pbjs generates: message { string name = 1; int32 count = 2; }. */
interface Greeting {
  name: string;
  count: number;
}
const GreetingClass = {
  encode(message: Greeting): protobuf.Writer {
    const writer = protobuf.Writer.create();
    if (message.name !== '') writer.uint32(10).string(message.name);
    if (message.count !== 0) writer.uint32(16).int32(message.count);
    return writer;
  },
  decode(bytes: Uint8Array): Greeting {
    const reader = protobuf.Reader.create(bytes);
    const message: Greeting = { name: '', count: 0 };
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) message.name = reader.string();
      else if (tag === 16) message.count = reader.int32();
      else reader.skipType(tag & 7);
    }
    return message;
  },
};
const greeting = codec(GreetingClass);

const Greeter = defineService('example.v1.Greeter', {
  Hello: unary(greeting, greeting),
  Count: serverStream(greeting, greeting),
  Total: clientStream(greeting, greeting),
  Chat: bidiStream(greeting, greeting),
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: TtrpcServer): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ttrpc-typed-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 's.sock');
  const netServer = createServer();
  server.serve(netServer);
  await new Promise<void>((resolve) => netServer.listen(path, resolve));
  cleanups.push(() => server.close());
  return path;
}

describe('typed services', () => {
  it('a typed client calls a typed server: unary and each kind of stream', async () => {
    const server = new TtrpcServer();
    registerService(server, Greeter, {
      Hello: async (request, ctx) => {
        if (request.name === '') throw new TtrpcError(Code.InvalidArgument, 'name is empty');
        return { name: `hello ${request.name} (${ctx.metadata.get('lang')?.[0] ?? '?'})`, count: request.count + 1 };
      },
      Count: async (request, stream) => {
        for (let i = 1; i <= request.count; i++) await stream.send({ name: request.name, count: i });
      },
      Total: async (stream) => {
        let count = 0;
        for await (const message of stream) count += message.count;
        return { name: 'total', count };
      },
      Chat: async (stream) => {
        for await (const message of stream) await stream.send({ name: message.name.toUpperCase(), count: message.count * 2 });
      },
    });
    const client = await TtrpcClient.connect(await listen(server));
    cleanups.push(() => client.close());
    const greeter = typedClient(client, Greeter);

    expect(await greeter.Hello({ name: 'ada', count: 1 }, { metadata: { lang: 'en' } })).toEqual({ name: 'hello ada (en)', count: 2 });
    await expect(greeter.Hello({ name: '', count: 0 })).rejects.toMatchObject({ code: Code.InvalidArgument, message: 'name is empty' });

    const counted: number[] = [];
    for await (const message of greeter.Count({ name: 'n', count: 3 })) counted.push(message.count);
    expect(counted).toEqual([1, 2, 3]);

    const total = greeter.Total();
    for (const count of [1, 2, 3]) await total.send({ name: '', count });
    await total.closeSend();
    expect(await total.recv()).toEqual({ name: 'total', count: 6 });

    const chat = greeter.Chat();
    await chat.send({ name: 'hi', count: 21 });
    expect(await chat.recv()).toEqual({ name: 'HI', count: 42 });
    await chat.closeSend();
    expect(await chat.recv()).toBeUndefined();
  });

  it('refuses an implementation that lacks a method', () => {
    const server = new TtrpcServer();
    const partial = { Hello: async () => ({ name: '', count: 0 }) } as unknown as Parameters<
      typeof registerService<typeof Greeter.methods>
    >[2];
    expect(() => registerService(server, Greeter, partial)).toThrow('ttrpc: example.v1.Greeter/Count has no implementation');
  });
});

describe('peer credential checks', () => {
  const check = async (authorize: (socket: Socket) => boolean): Promise<boolean> => {
    const server = new TtrpcServer({ authorize });
    server.register('svc', { Ping: async () => new Uint8Array([1]) });
    const client = await TtrpcClient.connect(await listen(server));
    cleanups.push(() => client.close());
    return client.call('svc', 'Ping', new Uint8Array(0)).then(
      () => true,
      () => false,
    );
  };
  const reader =
    (credentials: PeerCredentials) =>
    (fd: number): PeerCredentials => {
      expect(fd).toBeGreaterThanOrEqual(0);
      return credentials;
    };
  const uid = process.geteuid?.() ?? 0;
  const gid = process.getegid?.() ?? 0;

  it('admits the same user, refuses another uid or gid, and refuses when credentials cannot be read', async () => {
    expect(await check(unixSocketRequireSameUser(reader({ pid: 1, uid, gid })))).toBe(true);
    expect(await check(unixSocketRequireSameUser(reader({ pid: 1, uid: uid + 1, gid })))).toBe(false);
    expect(await check(unixSocketRequireSameUser(reader({ pid: 1, uid, gid: gid + 1 })))).toBe(false);
    expect(await check(unixSocketRequireUidGid(-1, gid, reader({ pid: 1, uid: uid + 1, gid })))).toBe(true);
    expect(
      await check(
        unixSocketRequireSameUser(() => {
          throw new Error('ENOTSOCK');
        }),
      ),
    ).toBe(false);
  });
});
