// Shapes of runc's JSON output.

/** `runc state <id>` output. */
export interface RuncState {
  ociVersion: string;
  id: string;
  /** Host pid of the container init; 0 once it has stopped. */
  pid: number;
  status: 'creating' | 'created' | 'running' | 'pausing' | 'paused' | 'stopped' | (string & {});
  bundle: string;
  rootfs: string;
  /** RFC 3339 creation time. */
  created: string;
  owner?: string;
  annotations?: Record<string, string>;
}

/** `runc features` output (OCI runtime features); only the fields the shim reads are typed. */
export interface RuncFeatures {
  ociVersionMin?: string;
  ociVersionMax?: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: Record<string, unknown>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export function parseState(text: string): RuncState {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error('runc state: not a JSON object');
  const state = value as Partial<RuncState>;
  if (typeof state.id !== 'string' || typeof state.status !== 'string' || typeof state.pid !== 'number') {
    throw new Error('runc state: missing id, status or pid');
  }
  return state as RuncState;
}

/** `runc ps --format json` prints a JSON array of host pids (`null` when there are none). */
export function parsePids(text: string): number[] {
  const value: unknown = JSON.parse(text);
  if (value === null) return [];
  if (!Array.isArray(value) || !value.every((p) => Number.isInteger(p))) {
    throw new Error('runc ps: expected a JSON array of pids');
  }
  return value as number[];
}

export function parseFeatures(text: string): RuncFeatures {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('runc features: not a JSON object');
  return value as RuncFeatures;
}
