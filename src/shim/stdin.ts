import { readFileSync } from 'node:fs';

/** All of stdin (containerd passes /dev/null or a pipe with a few bytes); empty if unreadable. */
export function readStdin(): Uint8Array {
  try {
    return readFileSync(0);
  } catch {
    return new Uint8Array();
  }
}
