import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { FrameReader, MAX_DATA_LENGTH, MessageType, OversizedMessageError } from './frame.js';
import type { Frame, FrameHeader } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { decodeResponse, encodeRequest } from './envelope.js';
import type { KeyValue } from './envelope.js';
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

interface PendingCall {
  readonly request: Uint8Array;
  streamId: number;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (error: TtrpcError) => void;
}

const LAST_STREAM_ID = 0xffffffff;

/** Strips the `unix://` scheme containerd uses in addresses; a plain path is used as is. */
export function socketPathFromAddress(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

/**
 * A ttrpc client for unary calls over one connection. Calls are pipelined with stream ids
 * 1, 3, 5, ...; when the connection closes every pending call fails with Unavailable "ttrpc: closed".
 */
export class TtrpcClient {
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly pending = new Map<number, PendingCall>();
  /** Calls waiting for the socket to drain; stream ids are given at send time so they stay increasing. */
  private readonly sendQueue: PendingCall[] = [];
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
        streamId: 0,
        settled: false,
        timer: undefined,
        detachSignal: undefined,
        resolve,
        reject,
      };
      if (options.timeoutMs !== undefined) {
        call.timer = setTimeout(
          () => this.fail(call, new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded')),
          options.timeoutMs,
        );
      }
      const signal = options.signal;
      if (signal !== undefined) {
        const onAbort = (): void => this.fail(call, canceledError());
        signal.addEventListener('abort', onAbort, { once: true });
        call.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.sendQueue.push(call);
      this.flush();
    });
  }

  /** Closes the connection; pending calls fail with Unavailable "ttrpc: closed". */
  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private flush(): void {
    while (this.sendQueue.length > 0 && !this.isClosedFlag && this.writer.writable) {
      const call = this.sendQueue.shift() as PendingCall;
      if (call.settled) continue;
      if (this.nextStreamId > LAST_STREAM_ID) {
        this.fail(call, new TtrpcError(Code.ResourceExhausted, 'ttrpc: stream ids exhausted on this connection'));
        continue;
      }
      call.streamId = this.nextStreamId;
      this.nextStreamId += 2;
      this.pending.set(call.streamId, call);
      this.writer.write(call.streamId, MessageType.Request, 0, call.request);
    }
  }

  private handleFrame(frame: Frame): void {
    // We open no streams, so Data frames (and anything that is not a Response) mean nothing to us.
    if (frame.header.type !== MessageType.Response) return;
    const call = this.pending.get(frame.header.streamId);
    if (call === undefined) return; // answered late, after a local timeout or abort
    let response;
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
    if (this.settle(call)) call.resolve(response.payload);
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
    const calls = [...this.pending.values(), ...this.sendQueue];
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
