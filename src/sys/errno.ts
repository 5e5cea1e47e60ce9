// The one errno helper: Node's system errors and the native addon's (native.ts throws the same
// shape) carry the errno name in `code`. Small and import-free: `start` uses it too.

/** The errno name (`ENOENT`, `EAGAIN`, ...) of a failed system call, undefined for any other value. */
export function errnoOf(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
