/**
 * Exponential backoff with jitter: attempt n waits a random time spread evenly over
 * [initial/2, min(max, initial·2ⁿ)), so that thousands of agents losing the same controller
 * do not come back in lockstep.
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
  // Never below half the initial delay (no tight loop), and spread evenly above it.
  // WARNING: clamping a full-jitter draw to the floor instead (max(floor, random·ceiling))
  // would put every draw below the floor on the floor itself: half the fleet redialling in
  // the same instant after a controller restart.
  const floor = Math.min(options.initialDelayMs / 2, ceiling);
  return floor + Math.floor(random() * (ceiling - floor));
}
