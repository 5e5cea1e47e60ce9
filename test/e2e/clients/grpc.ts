// Shared plumbing of the e2e gRPC test clients: loading the .proto files under test/e2e/proto with
// @grpc/proto-loader, connecting over a unix socket, and turning callbacks into typed promises.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const protoDir = join(dirname(fileURLToPath(import.meta.url)), '../proto');

/** gRPC status codes (grpc.status), for assertions such as `code: GrpcStatus.NOT_FOUND`. */
export const GrpcStatus = grpc.status;

/**
 * How decoded messages look: camelCase fields, int64/uint64 as decimal strings (nanosecond timestamps do
 * not fit a double), enums as their names, absent scalars as defaults, absent messages as null, bytes as Buffer.
 */
const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDir],
};

export class GrpcCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`${method}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'GrpcCallError';
  }
}

export type ServiceConstructor = grpc.ServiceClientConstructor;

/** Loads `file` (relative to test/e2e/proto) and returns the client constructor of `service` (full name). */
export function loadService(file: string, service: string): ServiceConstructor {
  let node: unknown = grpc.loadPackageDefinition(protoLoader.loadSync(join(protoDir, file), loaderOptions));
  for (const part of service.split('.'))
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  // A service client constructor carries its method table in a static `service` property.
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`${file} defines no service ${service}`);
  return node as ServiceConstructor;
}

/** `/run/x.sock` or `unix:///run/x.sock` -> the grpc-js target. */
function unixTarget(address: string): string {
  return address.startsWith('unix:') ? address : `unix://${address}`;
}

export function connect(ctor: ServiceConstructor, address: string): grpc.Client {
  return new ctor(unixTarget(address), grpc.credentials.createInsecure(), {
    // containerd's default limits are 16 MiB each way; ExecSync output can be large.
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
}

type UnaryCallback = (err: grpc.ServiceError | null, response?: unknown) => void;
type UnaryMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: UnaryCallback) => grpc.ClientUnaryCall;
type StreamMethod = (request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

function methodOf<T>(client: grpc.Client, name: string): T {
  const fn = (client as unknown as Record<string, unknown>)[name];
  if (typeof fn !== 'function') throw new Error(`gRPC client has no method ${name}`);
  return (fn as (...args: unknown[]) => unknown).bind(client) as T;
}

export interface CallOptions {
  metadata?: Record<string, string>;
  /** Default 60 s. */
  timeoutMs?: number;
}

function metadataOf(entries: Record<string, string> | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(entries ?? {})) md.set(k, v);
  return md;
}

/**
 * Calls a unary method. The response is cast to Res unchecked: the caller names the type that matches
 * the .proto (decoded with loaderOptions above).
 */
export function unary<Res>(client: grpc.Client, method: string, request: object, opts: CallOptions = {}): Promise<Res> {
  const call = methodOf<UnaryMethod>(client, method);
  const deadline = new Date(Date.now() + (opts.timeoutMs ?? 60_000));
  return new Promise((resolve, reject) => {
    call(request, metadataOf(opts.metadata), { deadline }, (err, response) => {
      if (err) reject(new GrpcCallError(method, err.code, err.details));
      else resolve(response as Res);
    });
  });
}

/** Starts a server-streaming call (no deadline: the caller cancels it). */
export function serverStream(
  client: grpc.Client,
  method: string,
  request: object,
  opts: CallOptions = {},
): grpc.ClientReadableStream<unknown> {
  const call = methodOf<StreamMethod>(client, method);
  return call(request, metadataOf(opts.metadata), {});
}

/** google.protobuf.Any, with the bytes still encoded. */
export interface AnyMessage {
  typeUrl: string;
  value: Buffer;
}

/** Any as proto-loader encodes and decodes it: its bundled well-known types keep the snake_case name. */
export interface WireAny {
  type_url: string;
  value: Buffer;
}

export function toWireAny(any: AnyMessage): WireAny {
  return { type_url: any.typeUrl, value: any.value };
}

export function fromWireAny(any: WireAny | null | undefined): AnyMessage | undefined {
  return any ? { typeUrl: any.type_url, value: any.value } : undefined;
}

/** google.protobuf.Timestamp as decoded (seconds is an int64 string). */
export interface TimestampMessage {
  seconds: string;
  nanos: number;
}

export function toDate(ts: TimestampMessage | null | undefined): Date | undefined {
  if (!ts) return undefined;
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  return ms === 0 ? undefined : new Date(ms);
}
