import type { Socket } from 'node:net';
import { Flags, FrameReader, MAX_DATA_LENGTH, MessageType, OversizedMessageError } from './frame.js';
import type { FrameBudget } from './frame-budget.js';
import type { Frame, FrameHeader } from './frame.js';
import { FrameWriter } from './frame-writer.js';
import { decodeRequest, encodeResponse } from './envelope.js';
import type { RequestMessage, ResponseMessage } from './envelope.js';
import { MessageQueue } from './message-queue.js';
import { Code, statusFromThrown, TtrpcError } from './status.js';
import type { Status } from './status.js';

/** What a handler gets besides its payload. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** Request metadata; a key sent several times keeps all its values in order. */
  readonly metadata: ReadonlyMap<string, string[]>;
  /** Absolute deadline in ms since the epoch, from timeout_nano; 0 = none. */
  readonly deadline: number;
  /** Aborted at the deadline or when the connection closes; the reason is a TtrpcError. */
  readonly signal: AbortSignal;
}

export type UnaryHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;

/** The server's side of a streaming call. */
export interface ServerStream extends AsyncIterable<Uint8Array> {
  /**
   * The next message from the client; undefined once it closed its side. Rejects with the call's
   * abort reason (deadline, closed connection). A method without client streaming receives exactly
   * the request's payload.
   */
  recv(): Promise<Uint8Array | undefined>;
  /** Sends one message (a Data frame); resolves when the socket took it. Only for server-streaming methods. */
  send(payload: Uint8Array): Promise<void>;
}

/**
 * A streaming method. The handler's result is the call's last message: for a client-streaming-only
 * method its one response; for a server-streaming method an optional final message (usually none).
 * Throwing ends the stream with that status, as for unary handlers.
 */
export interface StreamMethod {
  readonly streamingClient: boolean;
  readonly streamingServer: boolean;
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that ends without a return statement is a Promise<void>
  readonly handler: (stream: ServerStream, ctx: CallContext) => Promise<Uint8Array | undefined | void>;
}

export type MethodEntry =
  | { readonly kind: 'unary'; readonly handler: UnaryHandler }
  | { readonly kind: 'stream'; readonly method: StreamMethod };

/** Looks up a handler or says why there is none. */
export interface MethodTable {
  lookup(service: string, method: string): MethodEntry | TtrpcError;
}

interface InflightCall {
  readonly controller: AbortController;
  deadlineTimer: NodeJS.Timeout | undefined;
  /** Messages from the client, for streaming calls still open on its side. */
  incoming: MessageQueue | undefined;
  /** For server-streaming calls: the final answer goes out as a Data frame that closes the stream. */
  readonly streamingServer: boolean;
}

/** Messages a stream may hold unread before the connection stops reading (the peer waits in the kernel). */
const STREAM_BACKLOG = 16;

/** setTimeout cannot wait longer than this; longer deadlines only abort when the connection closes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One accepted connection: parses frames, runs unary calls concurrently, answers each as it
 * finishes (out of order), and cancels what is in flight when the peer goes away.
 */
export class ServerConnection {
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly inflight = new Map<number, InflightCall>();
  private lastStreamId = 0;
  private readonly budget: FrameBudget | undefined;
  /** Cancels the wait for budget while the reader is blocked on it. */
  private cancelBudgetWait: (() => void) | undefined;
  private closed = false;
  private closeWhenIdle = false;

  constructor(
    readonly socket: Socket,
    private readonly methods: MethodTable,
    private readonly onClosed: (connection: ServerConnection) => void,
    onSocketError: (error: Error) => void = () => {},
    budget?: FrameBudget,
  ) {
    this.writer = new FrameWriter(socket);
    this.reader = new FrameReader(
      {
        onFrame: (frame) => this.handleFrame(frame),
        onOversizedFrame: (header) => this.handleOversizedFrame(header),
      },
      MAX_DATA_LENGTH,
      budget,
    );
    this.budget = budget;
    socket.on('data', (chunk: Buffer) => {
      if (!this.reader.push(chunk)) this.waitForBudget();
    });
    // Reading resumes once the peer has taken our answers (see respond()) and the budget let the
    // frame in progress be buffered.
    socket.on('drain', () => this.resumeReading());
    // The peer sends no more requests (half-close): answer what is in flight, then close.
    socket.on('end', () => this.closeWhenDone());
    // Errors (ECONNRESET, EPIPE) are followed by 'close'; that is where the calls are cancelled.
    socket.on('error', onSocketError);
    socket.on('close', () => this.handleClose());
  }

  /** Number of calls that have not been answered yet. */
  get pendingCalls(): number {
    return this.inflight.size;
  }

  /** Closes the connection now; calls in flight are cancelled and their answers dropped. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Closes the connection once every call in flight has been answered. */
  closeWhenDone(): void {
    this.closeWhenIdle = true;
    if (this.inflight.size === 0) this.endAfterFlush();
  }

  /** Sends what is queued, then closes without waiting for the peer to close its side. */
  private endAfterFlush(): void {
    this.reader.stop();
    this.socket.end(() => this.socket.destroy());
  }

  private handleFrame(frame: Frame): void {
    const { header } = frame;
    if (header.streamId % 2 !== 1) {
      this.respondStatus(header.streamId, Code.InvalidArgument, 'StreamID must be odd for client initiated streams');
      return;
    }
    if (header.type === MessageType.Data) {
      this.handleData(header, frame.data);
      return;
    }
    // Responses and unknown types are ignored for forward compatibility, as Go does.
    if (header.type !== MessageType.Request) return;
    if (header.streamId <= this.lastStreamId) {
      this.respondStatus(header.streamId, Code.InvalidArgument, 'StreamID cannot be re-used and must increment');
      return;
    }
    this.lastStreamId = header.streamId;
    let request: RequestMessage;
    try {
      request = decodeRequest(frame.data);
    } catch (error) {
      this.respondStatus(header.streamId, Code.InvalidArgument, `unmarshal request error: ${(error as Error).message}`);
      return;
    }
    this.startCall(header.streamId, request, header.flags);
  }

  /**
   * A client's message on an open stream (flags: no-data, remote-closed). Data for a call that takes
   * none (unary, or the client already closed its side) is dropped; for a stream never opened it is
   * InvalidArgument, as Go answers.
   */
  private handleData(header: FrameHeader, data: Uint8Array): void {
    const call = this.inflight.get(header.streamId);
    if (call === undefined) {
      if (header.streamId > this.lastStreamId) {
        this.respondStatus(header.streamId, Code.InvalidArgument, 'StreamID is no longer active');
      }
      return;
    }
    const incoming = call.incoming;
    if (incoming === undefined || incoming.isEnded) return;
    // The frame's data may share memory with the socket chunk: keep a copy.
    if ((header.flags & Flags.NoData) === 0) incoming.push(Uint8Array.from(data));
    if ((header.flags & Flags.RemoteClosed) !== 0) incoming.end();
    if (incoming.length >= STREAM_BACKLOG) this.socket.pause();
  }

  private handleOversizedFrame(header: FrameHeader): void {
    this.respondStatus(
      header.streamId,
      Code.ResourceExhausted,
      `message length ${header.length} exceed maximum message size of ${MAX_DATA_LENGTH}`,
    );
  }

  /** The frame in progress needs budget that other connections hold: read nothing more until it is free. */
  private waitForBudget(): void {
    this.socket.pause();
    if (this.cancelBudgetWait !== undefined || this.budget === undefined) return;
    this.cancelBudgetWait = this.budget.waitForRoom(() => {
      this.cancelBudgetWait = undefined;
      if (this.closed) return;
      if (this.reader.retry()) this.resumeReading();
      else this.waitForBudget();
    });
  }

  private resumeReading(): void {
    if (this.closed || this.reader.blocked || !this.writer.writable) return;
    for (const call of this.inflight.values()) if ((call.incoming?.length ?? 0) >= STREAM_BACKLOG) return;
    this.socket.resume();
  }

  private startCall(streamId: number, request: RequestMessage, flags: number): void {
    const found = this.methods.lookup(request.service, request.method);
    if (found instanceof TtrpcError) {
      this.respond(streamId, { status: found.toStatus(), payload: new Uint8Array(0) });
      return;
    }
    const call: InflightCall = {
      controller: new AbortController(),
      deadlineTimer: undefined,
      incoming: undefined,
      streamingServer: found.kind === 'stream' && found.method.streamingServer,
    };
    this.inflight.set(streamId, call);
    const deadline = this.armDeadline(streamId, call, request.timeoutNano);
    const ctx: CallContext = {
      service: request.service,
      method: request.method,
      metadata: metadataMap(request),
      deadline,
      signal: call.controller.signal,
    };
    if (found.kind === 'unary') {
      void runHandler(found.handler, request.payload, ctx).then((response) => this.finishCall(streamId, call, response));
      return;
    }
    const streaming = found.method;
    const incoming = new MessageQueue(() => this.resumeReading());
    call.incoming = incoming;
    // The request carries the first message, unless the client streams and sent none there (an empty
    // message encodes to nothing, so Go's server makes the same guess).
    if (request.payload.length > 0 || !streaming.streamingClient) incoming.push(Uint8Array.from(request.payload));
    if (!streaming.streamingClient || (flags & Flags.RemoteClosed) !== 0) incoming.end();
    call.controller.signal.addEventListener('abort', () => incoming.fail(abortReason(call.controller.signal)), { once: true });
    const stream = this.serverStream(streamId, call, incoming, streaming.streamingServer);
    void runStreamHandler(streaming, stream, ctx).then((response) => this.finishCall(streamId, call, response));
  }

  private serverStream(streamId: number, call: InflightCall, incoming: MessageQueue, streamingServer: boolean): ServerStream {
    return {
      recv: () => incoming.next(),
      send: async (payload) => {
        if (!streamingServer) throw new TtrpcError(Code.FailedPrecondition, 'ttrpc: this method does not stream to the client');
        if (this.inflight.get(streamId) !== call) {
          throw call.controller.signal.aborted
            ? abortReason(call.controller.signal)
            : new TtrpcError(Code.FailedPrecondition, 'ttrpc: stream closed');
        }
        if (payload.length > MAX_DATA_LENGTH)
          throw new TtrpcError(Code.ResourceExhausted, new OversizedMessageError(payload.length).message);
        if (this.closed) throw new TtrpcError(Code.Canceled, 'ttrpc: connection closed');
        this.writer.write(streamId, MessageType.Data, 0, payload);
        if (!this.writer.writable) await this.drained();
      },
      [Symbol.asyncIterator]: () => incoming[Symbol.asyncIterator](),
    };
  }

  /** Resolves once the socket's buffer drained (or the connection closed). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Starts the deadline timer; returns the absolute deadline (0 = none). */
  private armDeadline(streamId: number, call: InflightCall, timeoutNano: number): number {
    if (timeoutNano === 0) return 0;
    const timeoutMs = Math.max(0, timeoutNano / 1e6);
    if (timeoutMs <= MAX_TIMER_MS) {
      call.deadlineTimer = setTimeout(() => {
        call.deadlineTimer = undefined;
        const error = new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded');
        call.controller.abort(error);
        this.finishCall(streamId, call, { status: error.toStatus(), payload: new Uint8Array(0) });
      }, Math.ceil(timeoutMs));
    }
    return Date.now() + timeoutMs;
  }

  /** Answers a call unless it was already answered (deadline) or the connection is gone. */
  private finishCall(streamId: number, call: InflightCall, response: ResponseMessage): void {
    if (this.inflight.get(streamId) !== call) return;
    this.inflight.delete(streamId);
    clearTimeout(call.deadlineTimer);
    call.incoming?.fail(new TtrpcError(Code.Canceled, 'ttrpc: stream finished'));
    const ok = response.status === undefined || response.status.code === Code.OK;
    if (call.streamingServer && ok) this.closeStream(streamId, response.payload);
    else this.respond(streamId, response);
    // Reading may have paused for this stream's backlog.
    this.resumeReading();
    if (this.closeWhenIdle && this.inflight.size === 0) this.endAfterFlush();
  }

  private respondStatus(streamId: number, code: Code, message: string): void {
    this.respond(streamId, { status: { code, message, details: [] }, payload: new Uint8Array(0) });
  }

  /** Ends a server stream that succeeded: a Data frame with remote-closed (and no-data when empty). */
  private closeStream(streamId: number, payload: Uint8Array): void {
    if (this.closed) return;
    if (payload.length > MAX_DATA_LENGTH) {
      this.respondStatus(streamId, Code.ResourceExhausted, new OversizedMessageError(payload.length).message);
      return;
    }
    const flags = Flags.RemoteClosed | (payload.length === 0 ? Flags.NoData : 0);
    this.writer.write(streamId, MessageType.Data, flags, payload);
    if (!this.writer.writable) this.socket.pause();
  }

  private respond(streamId: number, response: ResponseMessage): void {
    if (this.closed) return;
    let data = encodeResponse(response);
    if (data.length > MAX_DATA_LENGTH) {
      const status: Status = {
        code: Code.ResourceExhausted,
        message: `message length ${data.length} exceed maximum message size of ${MAX_DATA_LENGTH}`,
        details: [],
      };
      data = encodeResponse({ status, payload: new Uint8Array(0) });
    }
    this.writer.write(streamId, MessageType.Response, 0, data);
    // Back-pressure: a peer that does not read its answers gets no more requests read from it.
    if (!this.writer.writable) this.socket.pause();
  }

  private handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelBudgetWait?.();
    this.cancelBudgetWait = undefined;
    this.reader.stop();
    const reason = new TtrpcError(Code.Canceled, 'ttrpc: connection closed');
    for (const call of this.inflight.values()) {
      clearTimeout(call.deadlineTimer);
      call.controller.abort(reason);
    }
    this.inflight.clear();
    this.onClosed(this);
  }
}

async function runHandler(handler: UnaryHandler, payload: Uint8Array, ctx: CallContext): Promise<ResponseMessage> {
  try {
    const result: unknown = await handler(payload, ctx);
    if (!(result instanceof Uint8Array)) {
      return { status: { code: Code.Internal, message: 'ttrpc: handler returned no bytes', details: [] }, payload: new Uint8Array(0) };
    }
    return { payload: result };
  } catch (thrown) {
    return { status: statusFromThrown(thrown), payload: new Uint8Array(0) };
  }
}

async function runStreamHandler(method: StreamMethod, stream: ServerStream, ctx: CallContext): Promise<ResponseMessage> {
  try {
    const result: unknown = await method.handler(stream, ctx);
    if (result === undefined) return { payload: new Uint8Array(0) };
    if (!(result instanceof Uint8Array)) {
      return { status: { code: Code.Internal, message: 'ttrpc: handler returned no bytes', details: [] }, payload: new Uint8Array(0) };
    }
    return { payload: result };
  } catch (thrown) {
    return { status: statusFromThrown(thrown), payload: new Uint8Array(0) };
  }
}

function abortReason(signal: AbortSignal): TtrpcError {
  const reason: unknown = signal.reason;
  return reason instanceof TtrpcError ? reason : new TtrpcError(Code.Canceled, 'context canceled');
}

function metadataMap(request: RequestMessage): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const { key, value } of request.metadata) {
    const values = map.get(key);
    if (values === undefined) map.set(key, [value]);
    else values.push(value);
  }
  return map;
}
