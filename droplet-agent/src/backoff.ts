/**
 * Exponential backoff with full jitter: attempt n waits a random time in
 * [0, min(max, initial·2ⁿ)], so that thousands of agents losing the same controller do not
 * come back in lockstep.
 */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/** The delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  // Never zero: a floor of half the initial delay keeps a tight loop impossible.
  return Math.max(options.initialDelayMs / 2, Math.floor(random() * ceiling));
}
