// A ttrpc connection that sends whatever frames a test builds (any stream id, type, flags, declared
// length, payload) and collects the daemon's answers by stream id. Built on the shim's own frame and
// envelope code; for hostile-input tests and the fuzzer, not for normal calls (use TtrpcClient).
import { createConnection, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, FrameReader, MessageType, decodeResponse, encodeHeader, encodeRequest, socketPathFromAddress } from 'ttrpc-ts';
import { containerd as api, encodeMessage } from '../../../src/api/index.js';

export const TASK_SERVICE = 'containerd.task.v2.Task';

export interface RawAnswer {
  streamId: number;
  code: Code;
  message: string;
  payload: Uint8Array;
}

/** One frame: the header's length is the data's unless `declaredLength` says otherwise. */
export function frameBytes(streamId: number, type: number, flags: number, data: Uint8Array, declaredLength = data.length): Buffer {
  return Buffer.concat([encodeHeader({ length: declaredLength, streamId, type, flags }), data]);
}

/** A Request frame's data: the envelope around `payload`. */
function requestData(method: string, payload: Uint8Array, service = TASK_SERVICE): Uint8Array {
  return encodeRequest({ service, method, payload, timeoutNano: 0, metadata: [] });
}

export class RawTtrpcConnection {
  readonly closed: Promise<void>;
  private readonly answers = new Map<number, RawAnswer>();
  private readonly waiters = new Map<number, (answer: RawAnswer) => void>();
  private nextStreamId = 1;
  private isClosed = false;

  private constructor(readonly socket: Socket) {
    const reader = new FrameReader({
      onFrame: ({ header, data }) => {
        if (header.type !== MessageType.Response) return;
        const response = decodeResponse(data);
        this.deliver({
          streamId: header.streamId,
          code: (response.status?.code ?? Code.OK) as Code,
          message: response.status?.message ?? '',
          payload: response.payload,
        });
      },
      onOversizedFrame: () => {},
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        for (const [streamId, waiter] of this.waiters) {
          waiter({ streamId, code: Code.Unavailable, message: 'ttrpc: closed', payload: new Uint8Array(0) });
        }
        this.waiters.clear();
        resolve();
      }),
    );
  }

  static connect(address: string): Promise<RawTtrpcConnection> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: socketPathFromAddress(address) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawTtrpcConnection(socket));
      });
    });
  }

  get open(): boolean {
    return !this.isClosed;
  }

  /** Writes raw bytes; resolves when the kernel has taken them (or the socket failed). */
  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** A stream id above every one used so far, for a request the caller frames itself. */
  takeStreamId(): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    return id;
  }

  /** Sends a well-formed Request frame of `method` with `payload` (any bytes) and waits for its answer. */
  async call(method: string, payload: Uint8Array, service = TASK_SERVICE): Promise<RawAnswer> {
    const streamId = this.takeStreamId();
    const answer = this.answer(streamId);
    await this.write(frameBytes(streamId, MessageType.Request, 0, requestData(method, payload, service)));
    return answer;
  }

  /** The answer on `streamId` (already received or still to come); Unavailable if the connection closes first. */
  answer(streamId: number): Promise<RawAnswer> {
    const got = this.answers.get(streamId);
    if (got !== undefined) {
      this.answers.delete(streamId);
      return Promise.resolve(got);
    }
    if (this.isClosed) return Promise.resolve({ streamId, code: Code.Unavailable, message: 'ttrpc: closed', payload: new Uint8Array(0) });
    return new Promise((resolve) => this.waiters.set(streamId, resolve));
  }

  /** Answers received that nobody asked for (e.g. refusals of frames the fuzzer sent); then forgotten. */
  takeUnclaimedAnswers(): RawAnswer[] {
    const all = [...this.answers.values()];
    this.answers.clear();
    return all;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private deliver(answer: RawAnswer): void {
    const waiter = this.waiters.get(answer.streamId);
    if (waiter === undefined) {
      this.answers.set(answer.streamId, answer);
      return;
    }
    this.waiters.delete(answer.streamId);
    waiter(answer);
  }
}

/** `RawAnswer` as "InvalidArgument: message" for assertion messages. */
export function describeAnswer(answer: RawAnswer): string {
  return `${Code[answer.code] ?? `Code(${answer.code})`}: ${answer.message}`;
}

/** The daemon socket containerd wrote into a task's bundle (`address` file, `unix://...`). */
export function shimAddress(state: string, namespace: string, id: string): string {
  return socketPathFromAddress(readFileSync(join(state, 'io.containerd.runtime.v2.task', namespace, id, 'address'), 'utf8').trim());
}

/** A State request for `id`, and its decoded answer. */
export function stateRequest(id: string, execId = ''): Uint8Array {
  return encodeMessage(api.task.v2.StateRequest, { id, execId });
}

export function decodeState(payload: Uint8Array): InstanceType<typeof api.task.v2.StateResponse> {
  return api.task.v2.StateResponse.decode(payload);
}
