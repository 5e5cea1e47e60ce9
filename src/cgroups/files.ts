// Reading and parsing cgroup files the way containerd/cgroups v3 does, with 64-bit values as
// bigint until they are handed to the encoder.
import { readFile } from 'node:fs/promises';
import { CgroupReadError, isGone } from './errors.js';

export const MAX_UINT64 = (1n << 64n) - 1n;

/** The file's text, or null when it (or its cgroup) does not exist. */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isGone(err)) return null;
    throw new CgroupReadError(path, (err as Error).message, { cause: err });
  }
}

/**
 * Go's cgroups parseUint: a decimal uint64; a negative integer (v1 writes -1 for "unlimited"
 * in some files) reads as 0; anything else is an error (null here).
 */
export function parseUint64(text: string): bigint | null {
  if (/^\d+$/.test(text)) {
    const v = BigInt(text);
    return v <= MAX_UINT64 ? v : null;
  }
  if (/^-\d+$/.test(text)) return 0n;
  return null;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, ...); a malformed line is an error, as in Go. */
export function parseFlatKeyed(text: string, path: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const value = fields.length === 2 ? parseUint64(fields[1]!) : null;
    if (value === null) throw new CgroupReadError(path, `invalid line ${JSON.stringify(line)}`);
    out.set(fields[0]!, value);
  }
  return out;
}

/** A flat-keyed file, or an empty map when it does not exist. */
export async function readFlatKeyed(path: string): Promise<Map<string, bigint>> {
  const text = await readOptional(path);
  return text === null ? new Map() : parseFlatKeyed(text, path);
}

/**
 * A single-value file. `max` is what the text "max" means: cgroup v1 code reports 0, cgroup v2
 * code MaxUint64. Missing file: null.
 */
export async function readSingleValue(path: string, max: bigint): Promise<bigint | null> {
  const text = await readOptional(path);
  if (text === null) return null;
  const trimmed = text.trim();
  if (trimmed === 'max') return max;
  const value = parseUint64(trimmed);
  if (value === null) throw new CgroupReadError(path, `not a number: ${JSON.stringify(trimmed)}`);
  return value;
}
