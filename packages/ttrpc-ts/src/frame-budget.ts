/**
 * The bytes a server lets all its connections hold at once for frames that span socket reads.
 * A frame up to `freeLength` is buffered without asking (a connection holds at most one partial
 * frame, and the number of connections is bounded); a longer one first reserves its whole declared
 * length here. When that does not fit, the connection stops reading (its peer's bytes wait in the
 * kernel) until a reservation is given back. So peers that each hold a large partial frame cannot
 * grow the server's memory past the limit, and frames up to `freeLength` are never held up by them.
 */
export class FrameBudget {
  private used = 0;
  private waiters: Array<() => void> = [];

  constructor(
    /** Bytes that frames longer than `freeLength` may hold in total; a frame is at most this long. */
    readonly limit: number,
    /** Frames up to this length are buffered without a reservation. */
    readonly freeLength: number,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /** Reserves what buffering a frame of `length` bytes needs: 0 when it is free, undefined when it does not fit now. */
  reserve(length: number): number | undefined {
    if (length <= this.freeLength) return 0;
    if (this.used + Math.min(length, this.limit) > this.limit) return undefined;
    this.used += length;
    return length;
  }

  release(reserved: number): void {
    if (reserved === 0) return;
    this.used = Math.max(0, this.used - reserved);
    // Everyone waiting tries again, oldest first, once the releasing reader is done with its chunk;
    // those that still do not fit wait again.
    const waiters = this.waiters.splice(0);
    if (waiters.length > 0) {
      queueMicrotask(() => {
        for (const wake of waiters) wake();
      });
    }
  }

  /** Calls `wake` once, after the next release; the returned function cancels. */
  waitForRoom(wake: () => void): () => void {
    let cancelled = false;
    const once = (): void => {
      if (!cancelled) wake();
    };
    this.waiters.push(once);
    return () => {
      cancelled = true;
      this.waiters = this.waiters.filter((w) => w !== once);
    };
  }
}
