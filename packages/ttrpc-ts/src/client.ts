import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { Flags, FrameReader, MAX_DATA_LENGTH, MessageType, OversizedMessageError } from './frame.js';
import type { Frame, FrameHeader } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { decodeResponse, encodeRequest } from './envelope.js';
import type { KeyValue, ResponseMessage } from './envelope.js';
import { MessageQueue } from './message-queue.js';
import { Code, errorFromStatus, TtrpcError } from './status.js';

export interface ConnectOptions {
  /** Give up connecting after this long (Unavailable). Default: no limit beyond the OS's. */
  connectTimeoutMs?: number;
}

export interface CallOptions {
  /** Sent as timeout_nano; the call also fails locally with DeadlineExceeded when it passes. */
  timeoutMs?: number;
  /** Request metadata; an array value sends the key once per value. */
  metadata?: Record<string, string | readonly string[]>;
  /** Aborting it fails the call with Canceled (the server is not told: ttrpc has no cancel frame). */
  signal?: AbortSignal;
}

/** Which sides of a streaming method stream (as in the .proto: `stream` before the request or response). */
export interface StreamDesc {
  streamingClient: boolean;
  streamingServer: boolean;
}

/** The client's side of a streaming call. */
export interface ClientStream extends AsyncIterable<Uint8Array> {
  /** Sends one message (a Data frame). Only when the method streams from the client. */
  send(payload: Uint8Array): Promise<void>;
  /** Tells the server this side sends nothing more (Data with remote-closed and no-data). */
  closeSend(): Promise<void>;
  /** The next message; undefined once the server ended the stream; rejects with the call's error status. */
  recv(): Promise<Uint8Array | undefined>;
  /** Ends the call here (Canceled); the server is not told, as ttrpc has no cancel frame. */
  cancel(): void;
}

interface PendingCall {
  readonly request: Uint8Array;
  /** Request frame flags: 0 for unary calls; remote-open or remote-closed for streams. */
  readonly flags: number;
  streamId: number;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (error: TtrpcError) => void;
  /** For streams: what the server sent, and which side streams. */
  readonly incoming?: MessageQueue;
  readonly desc?: StreamDesc;
}

/** A Request that opens a call, or a Data frame on a call already opened (queued behind its Request). */
type Outgoing =
  | { readonly call: PendingCall }
  | { readonly data: Uint8Array; readonly flags: number; readonly call: PendingCall; readonly written: (error?: TtrpcError) => void };

const LAST_STREAM_ID = 0xffffffff;

/** Strips the `unix://` scheme containerd uses in addresses; a plain path is used as is. */
export function socketPathFromAddress(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

/**
 * A ttrpc client for unary and streaming calls over one connection. Calls are pipelined with stream ids
 * 1, 3, 5, ...; when the connection closes every pending call fails with Unavailable "ttrpc: closed".
 */
export class TtrpcClient {
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, PendingCall>();
  /** Calls waiting for the socket to drain; stream ids are given at send time so they stay increasing. */
  private readonly sendQueue: Outgoing[] = [];
  private nextStreamId = 1;
  private isClosedFlag = false;
  private resolveClosed!: () => void;

  /** Connects to a unix socket path (`/run/x.sock` or `unix:///run/x.sock`). */
  static connect(address: string, options: ConnectOptions = {}): Promise<TtrpcClient> {
    const path = socketPathFromAddress(address);
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      let timer: NodeJS.Timeout | undefined;
      const fail = (message: string, cause?: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        const error = new TtrpcError(Code.Unavailable, `ttrpc: dial ${path}: ${message}`);
        if (cause !== undefined) error.cause = cause;
        reject(error);
      };
      const onError = (error: Error): void => fail(error.message, error);
      if (options.connectTimeoutMs !== undefined) {
        timer = setTimeout(() => fail('connect timed out'), options.connectTimeoutMs);
      }
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new TtrpcClient(socket));
      });
    });
  }

  /** Wraps an already connected socket. */
  constructor(private readonly socket: Socket) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.writer = new FrameWriter(socket);
    this.reader = new FrameReader({
      onFrame: (frame) => this.handleFrame(frame),
      onOversizedFrame: (header) => this.handleOversizedFrame(header),
    });
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('drain', () => this.flush());
    // The server never half-closes on purpose; treat its end as the end of the connection.
    socket.on('end', () => socket.destroy());
    socket.on('error', () => {}); // followed by 'close', which fails the pending calls
    socket.on('close', () => this.handleClose());
    if (socket.destroyed) queueMicrotask(() => this.handleClose());
  }

  get isClosed(): boolean {
    return this.isClosedFlag;
  }

  /** Sends one unary request; resolves with the response payload or rejects with a TtrpcError. */
  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.isClosedFlag) return Promise.reject(closedError());
    if (options.signal?.aborted) return Promise.reject(canceledError());
    const request = encodeRequest({
      service,
      method,
      payload,
      timeoutNano: options.timeoutMs !== undefined ? Math.max(1, Math.round(options.timeoutMs * 1e6)) : 0,
      metadata: metadataPairs(options.metadata),
    });
    if (request.length > MAX_DATA_LENGTH) {
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, new OversizedMessageError(request.length).message));
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const call: PendingCall = {
        request,
        flags: 0,
        streamId: 0,
        settled: false,
        timer: undefined,
        detachSignal: undefined,
        resolve,
        reject,
      };
      this.open(call, options);
    });
  }

  /**
   * Opens a streaming call. `payload` is the request message; leave it out for a client-streaming
   * method whose messages all go through send(). Options apply to the whole stream.
   */
  stream(service: string, method: string, desc: StreamDesc, payload?: Uint8Array, options: CallOptions = {}): ClientStream {
    const incoming = new MessageQueue();
    const request = encodeRequest({
      service,
      method,
      payload: payload ?? new Uint8Array(0),
      timeoutNano: options.timeoutMs !== undefined ? Math.max(1, Math.round(options.timeoutMs * 1e6)) : 0,
      metadata: metadataPairs(options.metadata),
    });
    const call: PendingCall = {
      request,
      flags: desc.streamingClient ? Flags.RemoteOpen : Flags.RemoteClosed,
      streamId: 0,
      settled: false,
      timer: undefined,
      detachSignal: undefined,
      // A stream settles when it ended; its messages went to `incoming` already.
      resolve: () => incoming.end(),
      reject: (error) => incoming.fail(error),
      incoming,
      desc: { ...desc },
    };
    let localClosed = !desc.streamingClient;
    if (this.isClosedFlag) incoming.fail(closedError());
    else if (options.signal?.aborted) incoming.fail(canceledError());
    else if (request.length > MAX_DATA_LENGTH)
      incoming.fail(new TtrpcError(Code.ResourceExhausted, new OversizedMessageError(request.length).message));
    else this.open(call, options);
    const sendData = (data: Uint8Array, flags: number): Promise<void> => {
      if (call.settled) return Promise.reject(new TtrpcError(Code.FailedPrecondition, 'ttrpc: stream closed'));
      return new Promise((resolve, reject) => {
        this.sendQueue.push({ call, data, flags, written: (error) => (error === undefined ? resolve() : reject(error)) });
        this.flush();
      });
    };
    return {
      send: (data) => {
        if (!desc.streamingClient)
          return Promise.reject(new TtrpcError(Code.FailedPrecondition, 'ttrpc: cannot send data from a non-streaming client'));
        if (localClosed) return Promise.reject(new TtrpcError(Code.FailedPrecondition, 'ttrpc: stream closed for sending'));
        if (data.length > MAX_DATA_LENGTH)
          return Promise.reject(new TtrpcError(Code.ResourceExhausted, new OversizedMessageError(data.length).message));
        return sendData(data, 0);
      },
      closeSend: () => {
        if (!desc.streamingClient)
          return Promise.reject(new TtrpcError(Code.FailedPrecondition, 'ttrpc: cannot close a non-streaming client'));
        if (localClosed) return Promise.resolve();
        localClosed = true;
        return sendData(new Uint8Array(0), Flags.RemoteClosed | Flags.NoData);
      },
      recv: () => incoming.next(),
      cancel: () => this.fail(call, canceledError()),
      [Symbol.asyncIterator]: () => incoming[Symbol.asyncIterator](),
    };
  }

  /** Arms the call's timeout and abort signal and queues its Request. */
  private open(call: PendingCall, options: CallOptions): void {
    if (options.timeoutMs !== undefined) {
      call.timer = setTimeout(() => this.fail(call, new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded')), options.timeoutMs);
    }
    const signal = options.signal;
    if (signal !== undefined) {
      const onAbort = (): void => this.fail(call, canceledError());
      signal.addEventListener('abort', onAbort, { once: true });
      call.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.sendQueue.push({ call });
    this.flush();
  }

  /** Closes the connection; pending calls fail with Unavailable "ttrpc: closed". */
  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private flush(): void {
    while (this.sendQueue.length > 0 && !this.isClosedFlag && this.writer.writable) {
      const item = this.sendQueue.shift() as Outgoing;
      const call = item.call;
      if ('data' in item) {
        // Queued behind its Request, so the stream has its id (unless it ended before being sent).
        if (call.settled) {
          item.written(new TtrpcError(Code.FailedPrecondition, 'ttrpc: stream closed'));
          continue;
        }
        this.writer.write(call.streamId, MessageType.Data, item.flags, item.data);
        item.written();
        continue;
      }
      if (call.settled) continue;
      if (this.nextStreamId > LAST_STREAM_ID) {
        this.fail(call, new TtrpcError(Code.ResourceExhausted, 'ttrpc: stream ids exhausted on this connection'));
        continue;
      }
      call.streamId = this.nextStreamId;
      this.nextStreamId += 2;
      this.pending.set(call.streamId, call);
      this.writer.write(call.streamId, MessageType.Request, call.flags, call.request);
    }
  }

  private handleFrame(frame: Frame): void {
    const call = this.pending.get(frame.header.streamId);
    if (call === undefined) return; // answered late, after a local timeout or abort
    if (frame.header.type === MessageType.Data) {
      this.handleData(call, frame.header.flags, frame.data);
      return;
    }
    // Unknown types are ignored for forward compatibility.
    if (frame.header.type !== MessageType.Response) return;
    let response: ResponseMessage;
    try {
      response = decodeResponse(frame.data);
    } catch (error) {
      this.fail(call, new TtrpcError(Code.Internal, `ttrpc: undecodable response: ${(error as Error).message}`));
      return;
    }
    if (response.status !== undefined && response.status.code !== Code.OK) {
      this.fail(call, errorFromStatus(response.status));
      return;
    }
    // A stream's Response is its last message (a client-streaming method's answer, or an empty end).
    if (call.incoming !== undefined && (response.payload.length > 0 || call.desc?.streamingServer !== true)) {
      call.incoming.push(Uint8Array.from(response.payload));
    }
    if (this.settle(call)) call.resolve(response.payload);
  }

  /** A server message on a stream: flags remote-closed (the end) and no-data. */
  private handleData(call: PendingCall, flags: number, data: Uint8Array): void {
    if (call.incoming === undefined || call.desc?.streamingServer !== true) {
      this.fail(call, new TtrpcError(Code.Internal, 'ttrpc: received data from a non-streaming server'));
      return;
    }
    if ((flags & Flags.NoData) === 0) call.incoming.push(Uint8Array.from(data));
    if ((flags & Flags.RemoteClosed) !== 0 && this.settle(call)) call.resolve(new Uint8Array(0));
  }

  private handleOversizedFrame(header: FrameHeader): void {
    const call = this.pending.get(header.streamId);
    if (call === undefined) return;
    this.fail(
      call,
      new TtrpcError(Code.ResourceExhausted, `message length ${header.length} exceed maximum message size of ${MAX_DATA_LENGTH}`),
    );
  }

  private handleClose(): void {
    if (this.isClosedFlag) return;
    this.isClosedFlag = true;
    this.reader.stop();
    const calls = [...this.pending.values(), ...this.sendQueue.map((item) => item.call)];
    for (const item of this.sendQueue) if ('data' in item) item.written(closedError());
    this.pending.clear();
    this.sendQueue.length = 0;
    for (const call of calls) this.fail(call, closedError());
    this.resolveClosed();
  }

  /** Marks a call finished and releases its timer and abort listener; false if it already was. */
  private settle(call: PendingCall): boolean {
    if (call.settled) return false;
    call.settled = true;
    clearTimeout(call.timer);
    call.detachSignal?.();
    if (call.streamId !== 0) this.pending.delete(call.streamId);
    return true;
  }

  private fail(call: PendingCall, error: TtrpcError): void {
    if (this.settle(call)) call.reject(error);
  }
}

function closedError(): TtrpcError {
  return new TtrpcError(Code.Unavailable, 'ttrpc: closed');
}

function canceledError(): TtrpcError {
  return new TtrpcError(Code.Canceled, 'context canceled');
}

function metadataPairs(metadata: CallOptions['metadata']): KeyValue[] {
  if (metadata === undefined) return [];
  const pairs: KeyValue[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value === 'string') pairs.push({ key, value });
    else for (const item of value) pairs.push({ key, value: item });
  }
  return pairs;
}
