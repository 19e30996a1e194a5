/**
 * Polls `check` until it returns true. After `timeoutMs` it fails with `failure()`, called only then
 * so it can read logs. `check` may throw to stop waiting at once.
 */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, failure: () => string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
