/**
 * Typed services over protobufjs static code (pbjs -t static-module), or any codec with the same shape:
 * describe a service's methods once, then get a typed client or register a typed implementation.
 *
 *   const Greeter = defineService('example.v1.Greeter', {
 *     Hello: unary(codec(example.v1.HelloRequest), codec(example.v1.HelloReply)),
 *     Watch: serverStream(codec(example.v1.WatchRequest), codec(example.v1.Event)),
 *   });
 *   const greeter = typedClient(client, Greeter);   await greeter.Hello({ name: 'x' })
 *   registerService(server, Greeter, { Hello: async (req, ctx) => ({ message: `hi ${req.name}` }), Watch: ... });
 */
import type { CallOptions, ClientStream, TtrpcClient } from './client.js';
import type { CallContext, StreamMethod, UnaryHandler } from './server-connection.js';
import type { TtrpcServer } from './server.js';

/** Turns messages into bytes and back. */
export interface Codec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** What pbjs' static code generates for each message class (encode returns a Writer). */
export interface ProtobufjsMessageClass<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** A Codec from a protobufjs static message class. */
export function codec<T>(messageClass: ProtobufjsMessageClass<T>): Codec<T> {
  return { encode: (message) => messageClass.encode(message).finish(), decode: (bytes) => messageClass.decode(bytes) };
}

export type StreamingKind = 'unary' | 'server' | 'client' | 'bidi';

export interface MethodDescriptor<Req, Res, K extends StreamingKind = StreamingKind> {
  readonly kind: K;
  readonly request: Codec<Req>;
  readonly response: Codec<Res>;
}

export const unary = <Req, Res>(request: Codec<Req>, response: Codec<Res>): MethodDescriptor<Req, Res, 'unary'> => ({
  kind: 'unary',
  request,
  response,
});
export const serverStream = <Req, Res>(request: Codec<Req>, response: Codec<Res>): MethodDescriptor<Req, Res, 'server'> => ({
  kind: 'server',
  request,
  response,
});
export const clientStream = <Req, Res>(request: Codec<Req>, response: Codec<Res>): MethodDescriptor<Req, Res, 'client'> => ({
  kind: 'client',
  request,
  response,
});
export const bidiStream = <Req, Res>(request: Codec<Req>, response: Codec<Res>): MethodDescriptor<Req, Res, 'bidi'> => ({
  kind: 'bidi',
  request,
  response,
});

// Any descriptor (Codec's methods are bivariant in their parameter, so every message type fits).
type AnyDescriptor = MethodDescriptor<unknown, unknown>;

export interface ServiceDefinition<M extends Record<string, AnyDescriptor>> {
  readonly name: string;
  readonly methods: M;
}

export function defineService<M extends Record<string, AnyDescriptor>>(name: string, methods: M): ServiceDefinition<M> {
  return { name, methods };
}

/** A typed stream: messages are encoded and decoded with the method's codecs. */
export interface TypedClientStream<Req, Res> extends AsyncIterable<Res> {
  send(message: Req): Promise<void>;
  closeSend(): Promise<void>;
  recv(): Promise<Res | undefined>;
  cancel(): void;
}

export interface TypedServerStream<Req, Res> extends AsyncIterable<Req> {
  recv(): Promise<Req | undefined>;
  send(message: Res): Promise<void>;
}

type ClientMethod<D> =
  D extends MethodDescriptor<infer Req, infer Res, 'unary'>
    ? (request: Req, options?: CallOptions) => Promise<Res>
    : D extends MethodDescriptor<infer Req, infer Res, 'server'>
      ? (request: Req, options?: CallOptions) => TypedClientStream<never, Res>
      : D extends MethodDescriptor<infer Req, infer Res, 'client' | 'bidi'>
        ? (options?: CallOptions) => TypedClientStream<Req, Res>
        : never;

export type TypedClient<M extends Record<string, AnyDescriptor>> = { [K in keyof M]: ClientMethod<M[K]> };

type ServerMethod<D> =
  D extends MethodDescriptor<infer Req, infer Res, 'unary'>
    ? (request: Req, ctx: CallContext) => Promise<Res>
    : D extends MethodDescriptor<infer Req, infer Res, 'server'>
      ? (request: Req, stream: TypedServerStream<never, Res>, ctx: CallContext) => Promise<void>
      : D extends MethodDescriptor<infer Req, infer Res, 'client'>
        ? (stream: TypedServerStream<Req, never>, ctx: CallContext) => Promise<Res>
        : D extends MethodDescriptor<infer Req, infer Res, 'bidi'>
          ? (stream: TypedServerStream<Req, Res>, ctx: CallContext) => Promise<void>
          : never;

export type ServiceImplementation<M extends Record<string, AnyDescriptor>> = { [K in keyof M]: ServerMethod<M[K]> };

function typedClientStream<Req, Res>(stream: ClientStream, descriptor: MethodDescriptor<Req, Res>): TypedClientStream<Req, Res> {
  const recv = async (): Promise<Res | undefined> => {
    const bytes = await stream.recv();
    return bytes === undefined ? undefined : descriptor.response.decode(bytes);
  };
  return {
    send: (message) => stream.send(descriptor.request.encode(message)),
    closeSend: () => stream.closeSend(),
    recv,
    cancel: () => stream.cancel(),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const message = await recv();
        if (message === undefined) return;
        yield message;
      }
    },
  };
}

/** A client object with one method per service method, typed from the descriptors. */
export function typedClient<M extends Record<string, AnyDescriptor>>(client: TtrpcClient, service: ServiceDefinition<M>): TypedClient<M> {
  const methods: Record<string, unknown> = {};
  for (const [name, descriptor] of Object.entries(service.methods)) {
    const desc = {
      streamingClient: descriptor.kind === 'client' || descriptor.kind === 'bidi',
      streamingServer: descriptor.kind === 'server' || descriptor.kind === 'bidi',
    };
    if (descriptor.kind === 'unary') {
      methods[name] = async (request: unknown, options?: CallOptions) =>
        descriptor.response.decode(await client.call(service.name, name, descriptor.request.encode(request), options));
    } else if (descriptor.kind === 'server') {
      methods[name] = (request: unknown, options?: CallOptions) =>
        typedClientStream(client.stream(service.name, name, desc, descriptor.request.encode(request), options), descriptor);
    } else {
      methods[name] = (options?: CallOptions) => typedClientStream(client.stream(service.name, name, desc, undefined, options), descriptor);
    }
  }
  return methods as TypedClient<M>;
}

/** Registers an implementation of every method of `service` on `server`. */
export function registerService<M extends Record<string, AnyDescriptor>>(
  server: TtrpcServer,
  service: ServiceDefinition<M>,
  implementation: ServiceImplementation<M>,
): void {
  const unaryMethods: Record<string, UnaryHandler> = {};
  const streams: Record<string, StreamMethod> = {};
  for (const [name, descriptor] of Object.entries(service.methods)) {
    const impl = implementation[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    if (typeof impl !== 'function') throw new Error(`ttrpc: ${service.name}/${name} has no implementation`);
    if (descriptor.kind === 'unary') {
      unaryMethods[name] = async (payload, ctx) => descriptor.response.encode(await impl(descriptor.request.decode(payload), ctx));
      continue;
    }
    streams[name] = {
      streamingClient: descriptor.kind === 'client' || descriptor.kind === 'bidi',
      streamingServer: descriptor.kind === 'server' || descriptor.kind === 'bidi',
      handler: async (stream, ctx) => {
        const recv = async (): Promise<unknown> => {
          const bytes = await stream.recv();
          return bytes === undefined ? undefined : descriptor.request.decode(bytes);
        };
        const typed: TypedServerStream<unknown, unknown> = {
          recv,
          send: (message) => stream.send(descriptor.response.encode(message)),
          async *[Symbol.asyncIterator]() {
            for (;;) {
              const message = await recv();
              if (message === undefined) return;
              yield message;
            }
          },
        };
        if (descriptor.kind === 'server') {
          const request = await recv();
          await impl(request, typed, ctx);
          return undefined;
        }
        const result = await impl(typed, ctx);
        return descriptor.kind === 'client' ? descriptor.response.encode(result) : undefined;
      },
    };
  }
  server.register(service.name, unaryMethods, streams);
}
