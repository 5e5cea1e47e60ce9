// The protobuf wire format, just enough for `start`'s bootstrap messages (start-input.ts and
// bootstrap.ts). `start` runs once per container and must stay quick: the generated codecs in
// api/ cost about 15 ms to load, these few functions nothing. test/unit/shim-start-input.test.ts
// checks them against the generated codecs of proto/containerd/runtime/bootstrap/v1.

export const WireType = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

/** Bytes that are not a well-formed protobuf message. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/** One field as it appears on the wire; `value` is the varint (as bigint) or the payload bytes. */
export interface WireField {
  field: number;
  wireType: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

class Cursor {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.buf.length) throw new WireError(`truncated varint at byte ${this.pos}`);
      const b = this.buf[this.pos++]!;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, value);
    }
    throw new WireError(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  take(n: number, what: string): Uint8Array {
    if (n > this.buf.length - this.pos) {
      throw new WireError(`${what} of ${n} bytes at byte ${this.pos} overruns the ${this.buf.length}-byte message`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  tag(): { field: number; wireType: number } {
    const at = this.pos;
    const tag = this.varint();
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    if (field === 0 || field > 0x1fffffff) throw new WireError(`invalid field number ${field} at byte ${at}`);
    return { field, wireType };
  }

  /** Skips a group's fields up to its end tag (groups only appear as unknown fields here). */
  skipGroup(field: number): void {
    for (;;) {
      if (this.pos >= this.buf.length) throw new WireError(`group ${field} has no end`);
      const inner = this.tag();
      if (inner.wireType === WireType.endGroup) {
        if (inner.field !== field) throw new WireError(`group ${field} ended by the end of group ${inner.field}`);
        return;
      }
      this.value(inner.field, inner.wireType);
    }
  }

  value(field: number, wireType: number): WireField {
    switch (wireType) {
      case WireType.varint:
        return { field, wireType, varint: this.varint() };
      case WireType.fixed64:
        return { field, wireType, bytes: this.take(8, `fixed64 field ${field}`) };
      case WireType.fixed32:
        return { field, wireType, bytes: this.take(4, `fixed32 field ${field}`) };
      case WireType.bytes: {
        const length = this.varint();
        if (length > BigInt(this.buf.length)) throw new WireError(`field ${field} claims ${length} bytes, more than the message has`);
        return { field, wireType, bytes: this.take(Number(length), `field ${field}`) };
      }
      case WireType.startGroup:
        this.skipGroup(field);
        return { field, wireType };
      default:
        throw new WireError(`field ${field} has the invalid wire type ${wireType} at byte ${this.pos}`);
    }
  }
}

/** The fields of one message, in wire order; throws WireError on malformed bytes. */
export function readFields(buf: Uint8Array): WireField[] {
  const cursor = new Cursor(buf);
  const fields: WireField[] = [];
  while (cursor.pos < buf.length) {
    const { field, wireType } = cursor.tag();
    if (wireType === WireType.endGroup) throw new WireError(`end of group ${field} without its start`);
    fields.push(cursor.value(field, wireType));
  }
  return fields;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A string field's text; invalid UTF-8 is a WireError naming `what`. */
export function utf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new WireError(`${what} is not valid UTF-8`);
  }
}

/** An int32 field (enums included): negative values arrive as 64-bit two's complement. */
export function int32(varint: bigint): number {
  return Number(BigInt.asIntN(32, varint));
}

function varintBytes(value: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** Builds a message field by field; proto3 defaults (0, "") are left out as Go leaves them out. */
export class MessageWriter {
  private readonly parts: number[] = [];

  int32(field: number, value: number): this {
    if (value !== 0) this.parts.push(...varintBytes(BigInt((field << 3) | WireType.varint)), ...varintBytes(BigInt(value)));
    return this;
  }

  string(field: number, value: string): this {
    if (value.length === 0) return this;
    const bytes = Buffer.from(value, 'utf8');
    this.parts.push(...varintBytes(BigInt((field << 3) | WireType.bytes)), ...varintBytes(BigInt(bytes.length)), ...bytes);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
