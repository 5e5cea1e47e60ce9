/**
 * ttrpc framing: a 10-byte header (uint32 BE data length, uint32 BE stream id, type byte, flags byte)
 * followed by the data. No preface, no handshake.
 */

import type { FrameBudget } from './frame-budget.js';

export const HEADER_LENGTH = 10;
/** Largest data length either side may send or accept (4 MiB). */
export const MAX_DATA_LENGTH = 4 << 20;

export enum MessageType {
  Request = 1,
  Response = 2,
  Data = 3,
}

/** Flag bits; their meaning depends on the message type. */
export const Flags = {
  /** Request/Data: the sender will send nothing more on this stream. */
  RemoteClosed: 0x01,
  /** Request: the sender will follow with Data frames. */
  RemoteOpen: 0x02,
  /** Data: the frame carries no data. */
  NoData: 0x04,
} as const;

export interface FrameHeader {
  length: number;
  streamId: number;
  /** The raw type byte; unknown values are passed through so that receivers can ignore them. */
  type: number;
  flags: number;
}

export interface Frame {
  header: FrameHeader;
  data: Uint8Array;
}

export function encodeHeader(header: FrameHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header.length >>> 0, false);
  view.setUint32(4, header.streamId >>> 0, false);
  bytes[8] = header.type & 0xff;
  bytes[9] = header.flags & 0xff;
  return bytes;
}

/** Reads a header from the first 10 bytes of `bytes` (at `offset`). */
export function decodeHeader(bytes: Uint8Array, offset = 0): FrameHeader {
  if (bytes.length - offset < HEADER_LENGTH) throw new RangeError('ttrpc: short frame header');
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_LENGTH);
  return {
    length: view.getUint32(0, false),
    streamId: view.getUint32(4, false),
    type: view.getUint8(8),
    flags: view.getUint8(9),
  };
}

/** Thrown by senders for data that no peer would accept. */
export class OversizedMessageError extends Error {
  override readonly name = 'OversizedMessageError';
  constructor(readonly length: number) {
    super(`message length ${length} exceed maximum message size of ${MAX_DATA_LENGTH}`);
  }
}

export interface FrameSink {
  /** A complete frame whose length is within the limit. `data` may share memory with the pushed chunk. */
  onFrame(frame: Frame): void;
  /** A frame over the limit; called once all of its data has been skipped. */
  onOversizedFrame(header: FrameHeader): void;
}

/**
 * Incremental frame parser: push socket chunks of any size, frames come out in order.
 * Oversized frames are never buffered: their bytes are counted off as they arrive. With a budget,
 * a frame that spans chunks is buffered only once the budget granted its length; until then the
 * reader holds the rest of the chunk and `push` returns false: the caller stops reading and calls
 * `retry()` when the budget has room again.
 */
export class FrameReader {
  private readonly headerBytes = new Uint8Array(HEADER_LENGTH);
  private headerFill = 0;
  private header: FrameHeader | undefined;
  /** Data of the current frame when it spans chunks. */
  private dataBuffer: Uint8Array | undefined;
  private dataFill = 0;
  /** Bytes of an oversized frame still to be discarded. */
  private skipRemaining = 0;
  /** What the budget granted the frame in progress. */
  private reserved = 0;
  /** Chunks (or the rest of one) not parsed yet because the budget had no room. */
  private held: Uint8Array[] = [];
  private stopped = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxDataLength: number = MAX_DATA_LENGTH,
    private readonly budget?: FrameBudget,
  ) {}

  /**
   * Stop delivering frames, also for the rest of a chunk being parsed (the connection is going away),
   * and give back what the frame in progress holds of the budget.
   */
  stop(): void {
    this.stopped = true;
    this.dataBuffer = undefined;
    this.held = [];
    this.releaseReservation();
  }

  /** True while parsing waits for the budget (push returned false). */
  get blocked(): boolean {
    return this.held.length > 0;
  }

  /** Bytes held for the frame in progress (an oversized frame's data is never held). */
  get bufferedBytes(): number {
    return this.headerFill + (this.dataBuffer?.length ?? 0);
  }

  /** True while a frame has been started but not completed. */
  get midFrame(): boolean {
    return this.headerFill > 0 || this.header !== undefined;
  }

  /** Parses `chunk`; false when parsing stopped to wait for the budget (the rest is held, see retry()). */
  push(chunk: Uint8Array): boolean {
    const waiting = this.blocked;
    this.held.push(chunk);
    return waiting ? false : this.retry();
  }

  /** Continues with the held bytes; false when the budget still has no room. */
  retry(): boolean {
    while (!this.stopped && this.held.length > 0) {
      const chunk = this.held[0] as Uint8Array;
      const end = this.parse(chunk);
      if (this.stopped) break;
      if (end < chunk.length) {
        this.held[0] = chunk.subarray(end);
        return false;
      }
      this.held.shift();
    }
    return true;
  }

  /** Parses from the start of `chunk`; returns where it stopped (chunk.length unless waiting for budget). */
  private parse(chunk: Uint8Array): number {
    let offset = 0;
    while (!this.stopped && offset < chunk.length) {
      if (this.header === undefined) {
        offset = this.readHeader(chunk, offset);
        continue;
      }
      if (this.skipRemaining > 0) {
        offset = this.skipData(chunk, offset);
        continue;
      }
      const next = this.readData(chunk, offset);
      if (next === undefined) return offset;
      offset = next;
    }
    return chunk.length;
  }

  private readHeader(chunk: Uint8Array, offset: number): number {
    if (this.headerFill === 0 && chunk.length - offset >= HEADER_LENGTH) {
      this.startFrame(decodeHeader(chunk, offset));
      return offset + HEADER_LENGTH;
    }
    const take = Math.min(HEADER_LENGTH - this.headerFill, chunk.length - offset);
    this.headerBytes.set(chunk.subarray(offset, offset + take), this.headerFill);
    this.headerFill += take;
    if (this.headerFill === HEADER_LENGTH) {
      this.headerFill = 0;
      this.startFrame(decodeHeader(this.headerBytes));
    }
    return offset + take;
  }

  private startFrame(header: FrameHeader): void {
    this.header = header;
    if (header.length > this.maxDataLength) this.skipRemaining = header.length;
    // A zero-length frame is complete with its header.
    else if (header.length === 0) this.emitFrame(new Uint8Array(0));
  }

  /** Takes what it can of the frame's data; undefined when buffering it needs budget that is not there. */
  private readData(chunk: Uint8Array, offset: number): number | undefined {
    const header = this.header as FrameHeader;
    const available = chunk.length - offset;
    if (this.dataBuffer === undefined && available >= header.length) {
      // The whole frame is in this chunk: hand out a view, no copy.
      this.emitFrame(chunk.subarray(offset, offset + header.length));
      return offset + header.length;
    }
    if (this.dataBuffer === undefined) {
      const reserved = this.budget === undefined ? 0 : this.budget.reserve(header.length);
      if (reserved === undefined) return undefined;
      this.reserved = reserved;
      this.dataBuffer = new Uint8Array(header.length);
    }
    const take = Math.min(header.length - this.dataFill, available);
    this.dataBuffer.set(chunk.subarray(offset, offset + take), this.dataFill);
    this.dataFill += take;
    if (this.dataFill === header.length) this.emitFrame(this.dataBuffer);
    return offset + take;
  }

  private skipData(chunk: Uint8Array, offset: number): number {
    const take = Math.min(this.skipRemaining, chunk.length - offset);
    this.skipRemaining -= take;
    if (this.skipRemaining === 0) {
      const header = this.header as FrameHeader;
      this.resetFrame();
      this.sink.onOversizedFrame(header);
    }
    return offset + take;
  }

  private emitFrame(data: Uint8Array): void {
    const header = this.header as FrameHeader;
    this.resetFrame();
    this.sink.onFrame({ header, data });
  }

  private resetFrame(): void {
    this.header = undefined;
    this.dataBuffer = undefined;
    this.dataFill = 0;
    this.skipRemaining = 0;
    this.releaseReservation();
  }

  private releaseReservation(): void {
    if (this.reserved === 0) return;
    this.budget?.release(this.reserved);
    this.reserved = 0;
  }
}
