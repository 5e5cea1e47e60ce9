// Waiting for a condition, for every test project (unit, integration, e2e) and bench: the one copy.
// These poll a condition; prefer awaiting the event itself (a promise, `waitForOutput`) when there is one.

/** Polls a synchronous condition until it holds (true) or `timeoutMs` passes (false). */
export async function waitFor(condition: () => boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return true;
}

/** Polls an async condition (errors count as false) until it holds or `timeoutMs` passes. */
export async function eventually(condition: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return condition().catch(() => false);
}

/** Like waitFor, but throws "timed out after N ms waiting for <what>" instead of returning false. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000, intervalMs = 20): Promise<void> {
  if (!(await waitFor(condition, timeoutMs, intervalMs))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Resolves after the event loop has polled for I/O at least once more: an fd that is ready now has had
 * its callback run by then. Two turns, because the first setImmediate may run in the check phase right
 * after the poll phase that is current when it is called.
 */
export async function afterNextIoPoll(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}
