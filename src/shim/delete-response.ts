// containerd.task.v2.DeleteResponse encoded by hand: `delete` runs after every task deletion and
// containerd waits for it, so it must not load the generated codecs (about 12 ms) for 3 fields.
//   uint32 pid = 1; uint32 exit_status = 2; google.protobuf.Timestamp exited_at = 3
//   Timestamp: int64 seconds = 1; int32 nanos = 2
// Zero scalars are omitted (proto3); exited_at is always present.
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toTimestamp } from '../api/timestamp.js';

export interface DeleteResponseFields {
  pid: number;
  exitStatus: number;
  exitedAt: Date;
}

const wireVarint = 0;
const wireBytes = 2;

/** Varint bytes of a non-negative integer, or of a negative int64 as its 64-bit two's complement. */
function varint(value: number): number[] {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function varintField(field: number, value: number): number[] {
  return value === 0 ? [] : [(field << 3) | wireVarint, ...varint(value)];
}

function uint32(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`${name} is not a uint32: ${value}`);
  return value;
}

export function encodeDeleteResponse(fields: DeleteResponseFields): Uint8Array {
  const ts = toTimestamp(fields.exitedAt);
  const timestamp = [...varintField(1, Number(ts.seconds ?? 0)), ...varintField(2, ts.nanos ?? 0)];
  return Uint8Array.from([
    ...varintField(1, uint32('pid', fields.pid)),
    ...varintField(2, uint32('exit_status', fields.exitStatus)),
    (3 << 3) | wireBytes,
    ...varint(timestamp.length),
    ...timestamp,
  ]);
}

/**
 * Where a daemon leaves the answer to `delete` after it deleted a container itself: containerd
 * still runs `delete` after every task deletion and waits for it, and the launcher (or runDelete)
 * then prints this file instead of starting Node to clean up what is already clean.
 */
export const savedDeleteResponseFile = 'delete-response.pb';

/** Writes the response for `delete` into `bundle`, atomically (a reader sees all of it or nothing). */
export async function saveDeleteResponse(bundle: string, fields: DeleteResponseFields): Promise<void> {
  const path = join(bundle, savedDeleteResponseFile);
  await writeFile(`${path}.tmp`, encodeDeleteResponse(fields), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}
