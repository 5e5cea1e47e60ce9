import type { Socket } from 'node:net';
import { encodeHeader, MAX_DATA_LENGTH, OversizedMessageError } from './frame.js';
import type { MessageType } from './frame.js';

/**
 * Writes frames to a socket, header and data in one writev. Refuses data over the 4 MiB limit
 * (throws OversizedMessageError) so no peer ever sees a frame it must reject.
 */
export class FrameWriter {
  constructor(private readonly socket: Socket) {}

  /** False once the socket's buffer is over its high-water mark; wait for 'drain' before writing more. */
  get writable(): boolean {
    return this.socket.writable && !this.socket.writableNeedDrain;
  }

  write(streamId: number, type: MessageType, flags: number, data: Uint8Array): void {
    if (data.length > MAX_DATA_LENGTH) throw new OversizedMessageError(data.length);
    if (!this.socket.writable) return;
    const header = encodeHeader({ length: data.length, streamId, type, flags });
    this.socket.cork();
    this.socket.write(header);
    if (data.length > 0) this.socket.write(data);
    // Uncork on the next tick so frames written in the same tick leave in one writev.
    process.nextTick(() => this.socket.uncork());
  }
}
