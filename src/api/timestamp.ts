// google.protobuf.Timestamp <-> Date, and Go's zero time.
//
// containerd 1.6 (gogo, non-nullable timestamps) always encodes exited_at, and Go shims send
// the zero time.Time (0001-01-01T00:00:00Z) for a process that has not exited. Absent and
// zero-time decode the same way on every containerd version.
import type { google } from './gen/proto.js';

export type Timestamp = google.protobuf.ITimestamp;

/** Seconds of Go's zero time.Time relative to the Unix epoch. */
export const GO_ZERO_TIME_SECONDS = -62135596800;

export function goZeroTimestamp(): Timestamp {
  return { seconds: GO_ZERO_TIME_SECONDS, nanos: 0 };
}

/** Date (millisecond precision) to Timestamp; nanos is always in [0, 1e9) as proto requires. */
export function toTimestamp(date: Date): Timestamp {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid Date');
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Timestamp of `date`, or Go's zero time when there is none (a process that has not exited). */
export function toTimestampOrZero(date: Date | undefined | null): Timestamp {
  return date ? toTimestamp(date) : goZeroTimestamp();
}

/** The current time with sub-millisecond precision (event envelopes, exit times). */
export function nowTimestamp(): Timestamp {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1_000_000));
  return { seconds, nanos };
}

/** True for an absent timestamp, the proto zero value, or Go's zero time. */
export function isZeroTime(ts: Timestamp | undefined | null): boolean {
  if (!ts) return true;
  const seconds = Number(ts.seconds ?? 0);
  const nanos = ts.nanos ?? 0;
  return nanos === 0 && (seconds === 0 || seconds === GO_ZERO_TIME_SECONDS);
}

/** Timestamp to Date; undefined for absent, proto-zero or Go zero time. */
export function fromTimestamp(ts: Timestamp | undefined | null): Date | undefined {
  if (!ts || isZeroTime(ts)) return undefined;
  return new Date(Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000));
}
