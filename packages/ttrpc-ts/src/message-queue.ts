import type { TtrpcError } from './status.js';

/**
 * The messages one side of a stream has received and not yet read: `next()` resolves with the next
 * payload, with undefined once the sender closed its side and everything was read, or rejects (after
 * what was received) with the error that ended the stream (status, deadline, cancellation, closed connection).
 */
export class MessageQueue {
  private readonly items: Uint8Array[] = [];
  private readonly readers: Array<{ resolve: (value: Uint8Array | undefined) => void; reject: (error: TtrpcError) => void }> = [];
  private ended = false;
  private failure: TtrpcError | undefined;

  constructor(private readonly onDrained: () => void = () => {}) {}

  /** Messages waiting to be read. */
  get length(): number {
    return this.items.length;
  }

  /** True once the sender closed its side or the stream failed. */
  get isEnded(): boolean {
    return this.ended;
  }

  push(payload: Uint8Array): void {
    if (this.ended) return;
    const reader = this.readers.shift();
    if (reader !== undefined) reader.resolve(payload);
    else this.items.push(payload);
  }

  /** The sender will send nothing more; reads return what is queued, then undefined. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const reader of this.readers.splice(0)) reader.resolve(undefined);
  }

  /** Ends the stream with an error: messages already received are still read first, then reads reject. */
  fail(error: TtrpcError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.ended = true;
    for (const reader of this.readers.splice(0)) reader.reject(error);
  }

  next(): Promise<Uint8Array | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      if (this.items.length === 0) this.onDrained();
      return Promise.resolve(item);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const item = await this.next();
      if (item === undefined) return;
      yield item;
    }
  }
}
