/** ttrpc-ts: ttrpc (the RPC protocol of containerd's shims) over unix sockets, wire-compatible with Go's ttrpc. */
export { Code, TtrpcError } from './status.js';
export type { AnyMessage, Status } from './status.js';
export {
  HEADER_LENGTH,
  MAX_DATA_LENGTH,
  MessageType,
  Flags,
  FrameReader,
  OversizedMessageError,
  encodeHeader,
  decodeHeader,
} from './frame.js';
export type { Frame, FrameHeader, FrameSink } from './frame.js';
export { encodeRequest, decodeRequest, encodeResponse, decodeResponse } from './envelope.js';
export type { KeyValue, RequestMessage, ResponseMessage } from './envelope.js';
export { FrameBudget } from './frame-budget.js';
export { TtrpcServer, DEFAULT_FREE_FRAME_LENGTH, DEFAULT_MAX_CONNECTIONS, DEFAULT_PARTIAL_FRAME_BUDGET } from './server.js';
export type { TtrpcServerOptions, TtrpcServerEvents } from './server.js';
export type { CallContext, UnaryHandler } from './server-connection.js';
export { TtrpcClient, socketPathFromAddress } from './client.js';
export type { CallOptions, ConnectOptions } from './client.js';
export type { ServerStream, StreamMethod, MethodEntry, MethodTable } from './server-connection.js';
export type { ClientStream, StreamDesc } from './client.js';
export { socketFd, unixSocketRequireRoot, unixSocketRequireSameUser, unixSocketRequireUidGid } from './credentials.js';
export type { PeerCredentials, PeerCredentialsReader } from './credentials.js';
export {
  bidiStream,
  clientStream,
  codec,
  defineService,
  registerService,
  serverStream,
  typedClient,
  unary,
} from './typed.js';
export type {
  Codec,
  MethodDescriptor,
  ProtobufjsMessageClass,
  ServiceDefinition,
  ServiceImplementation,
  StreamingKind,
  TypedClient,
  TypedClientStream,
  TypedServerStream,
} from './typed.js';
