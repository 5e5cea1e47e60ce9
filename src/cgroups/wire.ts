// Building protobufjs init objects the way Go's proto3 encoder would write them.
//
// The generated codecs type 64-bit fields as number (scripts/build.mjs, --force-number). Integers
// a double holds exactly encode exactly; beyond that (MaxUint64 for a v2 "max", which as a number
// is 2^64 and would encode as 0), protobufjs's writer also takes a {low, high} pair
// (LongBits.from), so the bytes match Go's exactly. These values only ever go to the encoder.

interface LongParts {
  low: number;
  high: number;
  unsigned: true;
}

/** `value` in the shape protobufjs encodes exactly; typed as the generated field type. */
export function u64(value: bigint): number {
  const asNumber = Number(value);
  if (BigInt(asNumber) === value) return asNumber;
  const parts: LongParts = { low: Number(value & 0xffffffffn) | 0, high: Number(value >> 32n) | 0, unsigned: true };
  return parts as unknown as number;
}

/**
 * Drops fields Go's proto3 encoder would not write (0, "", empty repeated), so our bytes are the
 * Go shim's. Message-typed fields stay: Go writes a non-nil empty message too.
 */
export function omitDefaults<T extends object>(message: T): T {
  const record = message as Record<string, unknown>;
  for (const [key, value] of Object.entries(record)) {
    if (value === 0 || value === '' || value === null || value === undefined || (Array.isArray(value) && value.length === 0)) {
      delete record[key];
    }
  }
  return message;
}

/** Looks up `key` in a parsed flat-keyed file as an encoder value (absent = 0). */
export function field(values: ReadonlyMap<string, bigint>, key: string): number {
  return u64(values.get(key) ?? 0n);
}
