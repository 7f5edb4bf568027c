/**
 * The one polling helper of the controller's tests: for what a test cannot await directly
 * (a row written by another process, a droplet the simulator boots).
 */

/**
 * Polls `check` until it returns a value that is neither undefined nor false, and returns
 * that value; fails with `describe()` after `timeoutMs` — a liveness deadline, generous on
 * purpose, never a measurement.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  describe: string | (() => Promise<string> | string) = 'the condition',
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${typeof describe === 'string' ? describe : await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
